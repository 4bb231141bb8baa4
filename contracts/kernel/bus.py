"""Publishing events and delivering them to subscribers.

``publish(event)`` is called inside the publishing module's transaction. The configured event
backend (``SEAMS_EVENT_BACKEND``, a dotted path) decides how delivery happens; the embedded default,
``InlineEventBackend``, delivers in the same process right after the publisher's transaction commits
and never for work that rolled back. Whatever the backend, each subscriber runs in its own
transaction on its own module's database, and a failing subscriber affects neither the publisher
nor the other subscribers.
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import sys
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import connections, transaction
from django.utils.module_loading import import_string

from .errors import NotReady, UndeclaredDependency
from .events import Envelope, Event
from .modules import get_module, module_of
from .registry import Subscriber, get_registry
from .telemetry import tracing
from .telemetry.events import handling, published_counter
from .upcasting import convert

logger = logging.getLogger("seams.events")

#: Lists that record every envelope published while they are active (see contracts.kernel.testing).
recorders: contextvars.ContextVar[tuple[list[Envelope], ...]] = contextvars.ContextVar("seams_recorders", default=())


class EventBackend:
    """How published envelopes reach subscribers. Subclass and name it in SEAMS_EVENT_BACKEND."""

    #: True when ``publish`` itself counts the publication once it commits (calling
    #: ``telemetry.events.published_counter(envelope.type)()`` from a commit callback it registers
    #: anyway); otherwise ``publish()`` registers a callback of its own for the count.
    counts_published = False

    def publish(self, envelope: Envelope, using: str) -> None:
        raise NotImplementedError


class InlineEventBackend(EventBackend):
    """Deliver in-process once the publisher's transaction commits (nothing if it rolls back)."""

    def publish(self, envelope: Envelope, using: str) -> None:
        transaction.on_commit(lambda: deliver(envelope), using=using)


@lru_cache(maxsize=1)
def event_backend() -> EventBackend:
    path = getattr(settings, "SEAMS_EVENT_BACKEND", "contracts.kernel.bus.InlineEventBackend")
    return import_string(path)()


def _forget_backend(**_: object) -> None:
    event_backend.cache_clear()


# A named function: signals keep weak references, so a lambda receiver would vanish at once.
setting_changed.connect(_forget_backend)


def publish(event: Event, *, headers: dict[str, str] | None = None, _caller: str | None = None) -> Envelope:
    """Announce ``event``; call it inside the publishing module's ``atomic()`` block.

    Returns the envelope (its ``id`` identifies this publication everywhere).
    """
    if not isinstance(event, Event):
        raise TypeError(f"publish() takes an Event instance, got {type(event).__name__}")
    if not get_registry().frozen:
        raise NotReady("publish() was called before Seams finished starting.")
    publisher = get_module(event.publisher)
    caller = module_of(_caller if _caller is not None else sys._getframe(1).f_globals.get("__name__", ""))
    if caller is not None and caller.label != publisher.label:
        raise UndeclaredDependency(
            f"Module '{caller.label}' published {event.event_type}, which belongs to '{publisher.label}'. "
            f"A module publishes only the events declared in its own contracts/{caller.label}.py."
        )
    if type(event) not in publisher.publishes:
        raise UndeclaredDependency(
            f"Module '{publisher.label}' published {event.event_type} without declaring it. Add "
            f"{type(event).__name__} to 'publishes' in {publisher.manifest_location()}."
        )
    alias = publisher.database_alias
    connection = connections[alias]  # looked up once: every lookup goes through asgiref's Local
    if not connection.in_atomic_block:
        raise UndeclaredDependency(
            f"publish({type(event).__name__}) must run inside the '{publisher.label}' module's transaction, "
            f"so the event is sent only if the work commits: wrap it in "
            f"'with atomic():' (from contracts.kernel) or transaction.atomic(using='{alias}')."
        )
    backend = event_backend()
    if tracing.active():
        envelope = _publish_traced(event, publisher.label, alias, headers, backend)
    else:  # no span to open: the same steps without the span's context manager and attributes
        envelope = Envelope.fresh(event, event.event_key(), {**tracing.carrier(), "publisher": publisher.label, **(headers or {})})
        backend.publish(envelope, using=alias)
    if not backend.counts_published:
        connection.on_commit(published_counter(envelope.type))  # only what commits counts
    for recorder in recorders.get():
        recorder.append(envelope)
    return envelope


def _publish_traced(event: Event, publisher: str, alias: str, headers: dict[str, str] | None, backend: EventBackend) -> Envelope:
    """The envelope published inside a ``publish <event type>`` span (tracing on)."""
    attributes = {"seams.event_type": event.event_type, "seams.module": publisher}
    with tracing.span(f"publish {event.event_type}", tracing.SpanKind.PRODUCER, attributes) as span:
        # The W3C trace context (the publish span's) is stored with the event: every handler run,
        # however late, continues this trace.
        envelope = Envelope(event=event, key=event.event_key(), headers={**tracing.carrier(), "publisher": publisher, **(headers or {})})
        backend.publish(envelope, using=alias)
        tracing.mark_outcome(span, "ok", event_id=str(envelope.id))
    return envelope


def deliver(envelope: Envelope) -> None:
    """Run every subscriber of the envelope's event type; one failure does not stop the others."""
    for subscriber in get_registry().subscribers_for(envelope.type):
        try:
            with handling(envelope.headers, envelope.type, subscriber.name, subscriber.module, envelope.id, 1) as done:
                try:
                    run_subscriber(subscriber, envelope)
                except Exception:
                    done("dead")  # the in-process backend never retries
                    raise
                done("completed")
        except Exception:
            logger.exception(
                "Event handler %s failed for event %s (%s); the publisher and other handlers are unaffected.",
                subscriber.name,
                envelope.id,
                envelope.type,
                extra={"event_id": str(envelope.id), "event_type": envelope.type, "handler": subscriber.name},
            )


def run_subscriber(
    subscriber: Subscriber, envelope: Envelope, before: Callable[[], object] | None = None, alias: str | None = None
) -> Any:
    """Run one handler in a transaction on its module's database, in the envelope's trace (when no
    span is current already: the outbox opens the handler's span).

    A handler that declared another version of the event than the one published receives its own
    version, converted by the declared converters (``Undeliverable`` when a step is missing).

    ``before`` runs first in the same transaction (the outbox writes the inbox row there, so that
    a duplicate is refused before the handler runs and the row commits or rolls back with it).
    ``alias``: the subscriber module's database alias, when the caller has it already.
    """
    if alias is None:
        alias = get_module(subscriber.module).database_alias
    if envelope.event.version != subscriber.event.version:
        # The handler declared another version of the event: it gets that one (upcasting.py).
        envelope = dataclasses.replace(envelope, event=convert(envelope.event, subscriber.event))
    headers = envelope.headers
    if headers and "traceparent" in headers:  # the envelope's trace context (``tracing.attach`` checks the same)
        with tracing.attach(headers), transaction.atomic(using=alias):
            if before is not None:
                before()
            return call_handler(subscriber, envelope)
    with transaction.atomic(using=alias):  # no context to attach: no context manager for it
        if before is not None:
            before()
        # ``call_handler``, inline: the version is the handler's already
        if subscriber.wants_envelope:
            return subscriber.handler(envelope.event, envelope)
        return subscriber.handler(envelope.event)


def call_handler(subscriber: Subscriber, envelope: Envelope) -> Any:
    """Call the handler itself, in whatever transaction and trace the caller set up: with the
    version of the event it declared (converted by the declared converters), and the envelope if
    it asks for it."""
    if envelope.event.version != subscriber.event.version:
        envelope = dataclasses.replace(envelope, event=convert(envelope.event, subscriber.event))
    if subscriber.wants_envelope:
        return subscriber.handler(envelope.event, envelope)
    return subscriber.handler(envelope.event)


def atomic(module: str | None = None, *, savepoint: bool = True) -> transaction.Atomic:
    """``transaction.atomic`` on the calling module's own database alias (or on ``module``'s)."""
    if module is None:
        owner = module_of(sys._getframe(1).f_globals.get("__name__", ""))
        if owner is None:
            raise UndeclaredDependency("atomic() outside a module needs the module label: atomic('orders')")
        return transaction.atomic(using=owner.database_alias, savepoint=savepoint)
    return transaction.atomic(using=get_module(module).database_alias, savepoint=savepoint)
