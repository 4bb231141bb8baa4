"""The durable event backend: a transactional outbox with a publication registry.

``publish()`` writes the event and one ``Publication`` per subscriber into the publisher's own
database, in the publisher's transaction. After commit a *dispatcher* hands each publication to
``process_publication`` — in this process (``inline``) or as a Celery task on the subscriber
module's queue (``celery``). The outbox row is the truth: the relay (``relay_once``, run by
``manage.py relay_events`` and a Celery beat task) re-dispatches whatever was not completed in
time, so a crash between commit and dispatch, a dead worker or a broker outage loses nothing.

Delivery is at least once; the subscriber's inbox (written in the handler's own transaction)
makes the effect exactly once. See docs/events.md.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import pydantic
from django.conf import settings
from django.core.signals import setting_changed
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q
from django.utils import timezone

from .bus import EventBackend, logger
from .errors import ServiceUnavailable, Undeliverable
from .events import Envelope, Event, declared_events
from .models import OPEN_STATUSES, InboxEntry, OutboxEvent, Publication, PublicationStatus
from .modules import get_module, module_configs
from .registry import Subscriber, get_registry
from .remote import RemoteSubscriber, forward_event, is_remote, remote_subscribers

log = logging.getLogger("seams.outbox")

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class OutboxSettings:
    """``settings.SEAMS_EVENTS``, with defaults."""

    dispatch: str = "inline"
    max_attempts: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    lease: float = 60.0
    stale_after: float = 30.0
    completion: str = "keep"
    queue_prefix: str = "seams."
    relay_batch: int = 500

    @classmethod
    def from_settings(cls) -> OutboxSettings:
        raw = {k.lower(): v for k, v in getattr(settings, "SEAMS_EVENTS", {}).items()}
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"Unknown SEAMS_EVENTS keys: {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        config = cls(**raw)
        if config.dispatch not in DISPATCHERS:
            raise ValueError(f"SEAMS_EVENTS['DISPATCH'] must be one of {sorted(DISPATCHERS)}, got {config.dispatch!r}")
        if config.completion not in ("keep", "delete", "archive"):
            raise ValueError(f"SEAMS_EVENTS['COMPLETION'] must be keep, delete or archive, got {config.completion!r}")
        return config


@lru_cache(maxsize=1)
def outbox_settings() -> OutboxSettings:
    return OutboxSettings.from_settings()


def _forget_settings(**_: object) -> None:
    outbox_settings.cache_clear()
    dispatcher.cache_clear()


# A named function: signals keep weak references, so a lambda receiver would vanish.
setting_changed.connect(_forget_settings)


# --- publishing ----------------------------------------------------------------------------------
class OutboxEventBackend(EventBackend):
    """Write the event and its publications in the publisher's transaction; dispatch after commit."""

    def publish(self, envelope: Envelope, using: str) -> None:
        now = timezone.now()
        row = OutboxEvent.objects.using(using).create(
            event_id=envelope.id,
            type=envelope.type,
            version=envelope.version,
            key=envelope.key,
            payload=envelope.event.model_dump(mode="json"),
            headers=envelope.headers,
            publisher=envelope.publisher,
            occurred_at=envelope.occurred_at,
        )
        publications = Publication.objects.using(using).bulk_create(
            [
                Publication(
                    event=row,
                    position=row.position,
                    key=envelope.key,
                    event_type=envelope.type,
                    subscriber=sub.name,
                    subscriber_module=sub.module,
                    created_at=now,
                    next_attempt_at=now,
                )
                for sub in subscribers_of(envelope.type)
            ]
        )
        ids = (
            [p.pk for p in publications]
            if publications and publications[0].pk
            else list(Publication.objects.using(using).filter(event=row).values_list("pk", flat=True))
        )
        if ids:
            transaction.on_commit(lambda: dispatcher().dispatch(using, ids), using=using)


def subscribers_of(event_type: str) -> list[Subscriber | RemoteSubscriber]:
    """Who gets a publication: the handlers registered here, plus those declared remote."""
    local: list[Subscriber | RemoteSubscriber] = list(get_registry().subscribers_for(event_type))
    names = {s.name for s in local}
    return local + [r for r in remote_subscribers(event_type) if r.name not in names]


# --- dispatching ---------------------------------------------------------------------------------
class InlineDispatcher:
    """Process publications right here, one after the other (the embedded default)."""

    def dispatch(self, alias: str, ids: list[int], countdown: float | None = None) -> None:
        if countdown is not None:
            return  # a retry: in inline mode the relay runs it when due, not this stack
        for pk in ids:
            process_publication(alias, pk)


class CeleryDispatcher:
    """Send one Celery task per publication to the subscriber module's queue.

    When the broker cannot be reached the publications simply stay in the outbox for the relay,
    and for ``BROKER_BACKOFF`` seconds no request tries the broker again, so an outage costs web
    requests nothing.
    """

    BROKER_BACKOFF = 5.0

    def __init__(self) -> None:
        self.broker_down_until = 0.0

    @staticmethod
    def queue_label(subscriber: str, publisher: str) -> str:
        """Whose queue takes a publication: the subscriber module's, where its handler runs; for a
        remote subscriber, the publisher's, whose workers can read the outbox and forward it."""
        return publisher if is_remote(subscriber) else subscriber

    def dispatch(self, alias: str, ids: list[int], countdown: float | None = None) -> None:
        from .tasks import deliver_publication

        if time.monotonic() < self.broker_down_until:
            return
        queues = {
            pk: self.queue_label(subscriber, publisher)
            for pk, subscriber, publisher in Publication.objects.using(alias)
            .filter(pk__in=ids)
            .values_list("pk", "subscriber_module", "event__publisher")
        }
        prefix = outbox_settings().queue_prefix
        for pk in ids:
            try:
                deliver_publication.apply_async(
                    (alias, pk), queue=f"{prefix}{queues.get(pk, 'default')}", countdown=countdown, retry=False
                )
            except Exception as exc:  # broker down: the outbox keeps it, the relay sends it later
                self.broker_down_until = time.monotonic() + self.BROKER_BACKOFF
                log.warning("Could not dispatch publication %s:%s (%s); the relay will send it.", alias, pk, exc)
                return


DISPATCHERS = {"inline": InlineDispatcher, "celery": CeleryDispatcher}


@lru_cache(maxsize=1)
def dispatcher() -> InlineDispatcher | CeleryDispatcher:
    return DISPATCHERS[outbox_settings().dispatch]()


# --- processing ----------------------------------------------------------------------------------
def _open_earlier_for_key() -> Exists:
    return Exists(
        Publication.objects.filter(
            subscriber=OuterRef("subscriber"),
            key=OuterRef("key"),
            position__lt=OuterRef("position"),
            status__in=OPEN_STATUSES,
        )
    )


def claim(alias: str, pk: int, worker: str = WORKER_ID) -> bool:
    """Atomically take a publication for processing: one conditional UPDATE (compare-and-set), safe
    with any number of workers on PostgreSQL and with SQLite's single writer alike.

    Claimable: pending or failed and due, or processing with an expired lease (its worker died);
    and no earlier event with the same key is still open for the same subscriber. When that last
    test races with the completion of the earlier event it errs on "not yet"; the worker that
    completes the earlier event dispatches the next one.
    """
    now = timezone.now()
    due = Q(status__in=[PublicationStatus.PENDING, PublicationStatus.FAILED], next_attempt_at__lte=now) | Q(
        status=PublicationStatus.PROCESSING, lease_until__lt=now
    )
    updated = (
        Publication.objects.using(alias)
        .filter(due, pk=pk)
        .filter(Q(key__isnull=True) | ~_open_earlier_for_key())
        .update(
            status=PublicationStatus.PROCESSING,
            claimed_by=worker,
            lease_until=now + timedelta(seconds=outbox_settings().lease),
            attempts=F("attempts") + 1,
        )
    )
    return bool(updated)


def connection_vendor(alias: str) -> str:
    from django.db import connections

    return connections[alias].vendor


def process_publication(alias: str, pk: int, worker: str = WORKER_ID) -> str:
    """Claim, run and record one publication; returns what happened (for logs and tests)."""
    if not claim(alias, pk, worker):
        return "not-claimed"
    publication = Publication.objects.using(alias).select_related("event").get(pk=pk)
    try:
        subscriber, event = _materialize(publication)
    except Undeliverable as exc:
        _bury(alias, publication, str(exc), "")
        return "dead"
    try:
        outcome = _run_once(subscriber, publication, event)
    except Undeliverable as exc:  # a remote receiver's verdict: retrying cannot help
        _bury(alias, publication, str(exc), "".join(traceback.format_exception(exc)))
        return "dead"
    except Exception as exc:
        return _failed(alias, publication, exc)
    _complete(alias, publication)
    _dispatch_next_of_key(alias, publication)
    return outcome


def _validated(event_type: str, version: int, payload: dict[str, object]) -> Event:
    event_class = declared_events.get((event_type, version))
    if event_class is None:
        raise Undeliverable(f"unknown event type {event_type} v{version}: no contract declares it in this process")
    try:
        return event_class.model_validate(payload)
    except pydantic.ValidationError as exc:
        raise Undeliverable(f"schema drift: the payload no longer validates as {event_type} v{version}: {exc}") from exc


def _local_subscriber(event_type: str, name: str) -> Subscriber:
    subscriber = next((s for s in get_registry().subscribers_for(event_type) if s.name == name), None)
    if subscriber is None:
        raise Undeliverable(f"unknown subscriber {name} for {event_type} (renamed or removed?)")
    return subscriber


def _materialize(publication: Publication) -> tuple[Subscriber | RemoteSubscriber, Event]:
    row = publication.event
    event = _validated(row.type, row.version, row.payload)
    if is_remote(publication.subscriber_module):
        return RemoteSubscriber(row.type, publication.subscriber, publication.subscriber_module), event
    return _local_subscriber(row.type, publication.subscriber), event


def envelope_to_wire(row: OutboxEvent) -> dict[str, object]:
    """The JSON form in which an outbox event is forwarded to a remote subscriber."""
    return {
        "id": str(row.event_id),
        "type": row.type,
        "version": row.version,
        "key": row.key,
        "payload": row.payload,
        "headers": row.headers,
        "occurred_at": row.occurred_at.isoformat(),
    }


def receive_event(subscriber: str, envelope: dict[str, object]) -> str:
    """The serving side of a forward: run ``subscriber`` (a handler of this process) on a
    forwarded envelope, once (inbox). Returns "completed" or "duplicate"; raises
    ``Undeliverable`` when it can never succeed, or the handler's exception (the sender retries)."""
    try:
        event_type, version = str(envelope["type"]), int(envelope["version"])  # type: ignore[call-overload]
        payload = envelope["payload"]
        event_id = uuid.UUID(str(envelope["id"]))
        occurred_at = datetime.fromisoformat(str(envelope["occurred_at"]))
        headers = dict(envelope.get("headers") or {})  # type: ignore[call-overload]
        key = envelope.get("key")
    except (KeyError, TypeError, ValueError) as exc:
        raise Undeliverable(f"malformed envelope: {exc!r}") from exc
    if not isinstance(payload, dict):
        raise Undeliverable("malformed envelope: the payload is not an object")
    event = _validated(event_type, version, payload)
    local = _local_subscriber(event_type, subscriber)
    envelope_ = Envelope(
        event=event, id=event_id, occurred_at=occurred_at, key=None if key is None else str(key), headers=headers
    )
    return _handle_once(local, envelope_)


def _run_once(subscriber: Subscriber | RemoteSubscriber, publication: Publication, event: Event) -> str:
    """Run the handler here (or forward it to the process that serves its module)."""
    row = publication.event
    if isinstance(subscriber, RemoteSubscriber):
        return forward_event(subscriber.module, subscriber.name, envelope_to_wire(row))
    envelope = Envelope(event=event, id=row.event_id, occurred_at=row.occurred_at, key=row.key, headers=row.headers)
    return _handle_once(subscriber, envelope)


def _handle_once(subscriber: Subscriber, envelope: Envelope) -> str:
    """Run the handler and write its inbox row in one transaction on the subscriber's database."""
    from .bus import run_subscriber

    alias = get_module(subscriber.module).database_alias
    seen = InboxEntry.objects.using(alias).filter(event_id=envelope.id, subscriber=subscriber.name)
    if seen.exists():
        return "duplicate"
    try:
        with transaction.atomic(using=alias):
            run_subscriber(subscriber, envelope)
            InboxEntry.objects.using(alias).create(event_id=envelope.id, subscriber=subscriber.name)
    except IntegrityError:
        if seen.exists():
            return "duplicate"  # another worker handled it concurrently; its effects stand, ours rolled back
        raise
    return "completed"


def _complete(alias: str, publication: Publication) -> None:
    now = timezone.now()
    mode = outbox_settings().completion
    rows = Publication.objects.using(alias).filter(pk=publication.pk)
    if mode == "keep":
        rows.update(status=PublicationStatus.COMPLETED, completed_at=now, lease_until=None, last_error="")
        return
    with transaction.atomic(using=alias):
        if mode == "archive":
            from .models import ArchivedPublication

            ArchivedPublication.archive(alias, publication, now)
        rows.delete()
        OutboxEvent.objects.using(alias).filter(pk=publication.event_id, publications__isnull=True).delete()


def backoff_seconds(attempt: int, config: OutboxSettings | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [base/2, min(max, base * 2**(attempt-1))]."""
    config = config or outbox_settings()
    ceiling = min(config.backoff_max, config.backoff_base * (2 ** max(attempt - 1, 0)))
    return random.uniform(ceiling / 2, ceiling)


def _failed(alias: str, publication: Publication, exc: Exception) -> str:
    config = outbox_settings()
    attempts = Publication.objects.using(alias).values_list("attempts", flat=True).get(pk=publication.pk)
    text = "".join(traceback.format_exception(exc))
    message = f"{type(exc).__name__}: {exc}"
    logger.error(
        "Handler %s failed for event %s (%s), attempt %s/%s: %s; the publisher and other handlers are unaffected.",
        publication.subscriber,
        publication.event.event_id,
        publication.event_type,
        attempts,
        config.max_attempts,
        message,
        exc_info=exc,
        extra=_log_extra(publication),
    )
    # A receiver that cannot be reached (a forward to an extracted module's service) is an
    # outage, not a verdict on the event: it is retried with capped backoff until the service is
    # back, never buried, so an outage longer than the retry budget needs no resubmission.
    outage = isinstance(exc, ServiceUnavailable) and is_remote(publication.subscriber_module)
    if attempts >= config.max_attempts and not outage:
        _bury(alias, publication, f"gave up after {attempts} attempts: {message}", text)
        return "dead"
    delay = backoff_seconds(attempts, config)
    Publication.objects.using(alias).filter(pk=publication.pk).update(
        status=PublicationStatus.FAILED,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
        lease_until=None,
        last_error=message,
        last_traceback=text,
    )
    dispatcher().dispatch(alias, [publication.pk], countdown=delay)
    return "failed"


def _log_extra(publication: Publication) -> dict[str, str]:
    return {
        "event_id": str(publication.event.event_id),
        "event_type": publication.event_type,
        "handler": publication.subscriber,
    }


def _bury(alias: str, publication: Publication, reason: str, text: str) -> None:
    logger.error(
        "Publication %s:%s of %s to %s is dead: %s",
        alias,
        publication.pk,
        publication.event_type,
        publication.subscriber,
        reason,
        extra=_log_extra(publication),
    )
    Publication.objects.using(alias).filter(pk=publication.pk).update(
        status=PublicationStatus.DEAD, lease_until=None, last_error=reason, last_traceback=text
    )
    _dispatch_next_of_key(alias, publication)


def _dispatch_next_of_key(alias: str, publication: Publication) -> None:
    """Ordered delivery: once an event is done, its key's next open event can go."""
    if publication.key is None:
        return
    following = (
        Publication.objects.using(alias)
        .filter(
            subscriber=publication.subscriber,
            key=publication.key,
            position__gt=publication.position,
            status__in=[PublicationStatus.PENDING, PublicationStatus.FAILED],
        )
        .order_by("position")
        .values_list("pk", flat=True)[:1]
    )
    if following:
        dispatcher().dispatch(alias, list(following))


# --- the relay -----------------------------------------------------------------------------------
def module_aliases() -> list[str]:
    """The outboxes this process relays: those of modules served here (an extracted module's
    outbox is relayed by its own service)."""
    return sorted({m.database_alias for m in module_configs() if not is_remote(m.label)})


def release_expired_leases(alias: str) -> int:
    """The staleness monitor: claims whose worker died go back to pending."""
    return (
        Publication.objects.using(alias)
        .filter(status=PublicationStatus.PROCESSING, lease_until__lt=timezone.now())
        .update(
            status=PublicationStatus.PENDING,
            claimed_by="",
            lease_until=None,
            dispatched_at=None,  # its message is gone with the worker: the relay sends it now
            last_error="lease expired: the worker died or hung",
        )
    )


#: However long a publication has waited, the relay re-sends it at least this often (x STALE_AFTER).
REDISPATCH_CAP = 10


def due_publications(alias: str, limit: int) -> list[int]:
    """Open publications that should have been handled by now.

    A pending publication is re-sent when it is older than ``STALE_AFTER`` and, if it was sent
    before, when it has waited since that send at least as long as it had waited before it (the
    interval doubles, up to ``REDISPATCH_CAP`` x ``STALE_AFTER``). A message that is merely queued
    behind a backlog is thus re-sent a logarithmic number of times, not once per window: without
    the doubling a backlog older than ``STALE_AFTER`` feeds the queue with duplicates faster than
    workers drain it. A failed publication is re-sent once per retry.
    """
    config = outbox_settings()
    now = timezone.now()
    stale = now - timedelta(seconds=config.stale_after)
    cap = now - timedelta(seconds=config.stale_after * REDISPATCH_CAP)
    waited = ExpressionWrapper(F("dispatched_at") - F("next_attempt_at"), output_field=DurationField())
    never_sent = Q(dispatched_at__isnull=True)
    resend = Q(dispatched_at__lte=stale) & (Q(dispatched_at__lte=cap) | Q(redispatch_at__lte=now))
    rows = (
        Publication.objects.using(alias)
        .alias(redispatch_at=ExpressionWrapper(F("dispatched_at") + waited, output_field=DateTimeField()))
        .filter(
            Q(status=PublicationStatus.PENDING, next_attempt_at__lte=stale) & (never_sent | resend)
            | Q(status=PublicationStatus.FAILED, next_attempt_at__lte=now)
            & (never_sent | Q(dispatched_at__lt=F("next_attempt_at")))
        )
    )
    with transaction.atomic(using=alias):
        if connection_vendor(alias) == "postgresql":
            rows = rows.select_for_update(skip_locked=True)
        ids = list(rows.order_by("position").values_list("pk", flat=True)[:limit])
        Publication.objects.using(alias).filter(pk__in=ids).update(dispatched_at=now)
    return ids


def relay_once(aliases: list[str] | None = None) -> dict[str, int]:
    """One pass of the relay over every module database; returns how many it re-dispatched."""
    config = outbox_settings()
    sent: dict[str, int] = {}
    for alias in aliases or module_aliases():
        release_expired_leases(alias)
        ids = due_publications(alias, config.relay_batch)
        if ids:
            dispatcher().dispatch(alias, ids)
        sent[alias] = len(ids)
    return sent


__all__ = [
    "CeleryDispatcher",
    "InlineDispatcher",
    "OutboxEventBackend",
    "OutboxSettings",
    "process_publication",
    "relay_once",
]
