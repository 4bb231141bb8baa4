"""Publishing: one publication per subscriber, the event in each, in the publisher's transaction (one INSERT).

Nothing is sent before the publisher commits: the dispatch is an ``on_commit`` callback, so work
that rolls back leaves neither rows nor messages.

With inline dispatch the publications are written *already claimed* by this process (processing,
attempt 1, leased), since this process is the one that will deliver them right after commit: the
commit callback hands the envelope it holds in memory straight to the handlers
(``processing.deliver_claimed``), with no claim and no read. If the process dies first, the lease
expires and the relay takes them back (``relay.release_expired_leases``); the inbox drops a
duplicate. A publication whose key has an earlier one still open is written pending instead, held
back for ordering, and goes through the claim path.

With Celery dispatch they are written claimed too, by the dispatcher's claim
(``CeleryDispatcher.claim_token``), and each message carries it: the worker reads them without a
claim UPDATE (``processing.process_dispatched``). If the message cannot be sent they go back to
pending at once; while the broker is known to be down they are written pending, for the relay.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.core.signals import setting_changed
from django.db import transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from pydantic_core import from_json as _from_json
from pydantic_core import to_json as _to_json

from ..bus import EventBackend
from ..events import Envelope, Event
from ..models import Publication, PublicationStatus
from ..registry import Registry, Subscriber, get_registry
from ..remote import RemoteSubscriber, is_remote, remote_subscribers
from ..telemetry.events import published_counter
from .claiming import WORKER_ID
from .completions import deferred
from .config import now as _now
from .config import outbox_settings
from .dispatch import CeleryDispatcher, InlineDispatcher, dispatcher
from .processing import Claimed, deliver_claimed
from .statements import publish_rows, publish_rows_at_commit
from .values import JsonText


class OutboxEventBackend(EventBackend):
    """Write the event and its publications in the publisher's transaction; dispatch after commit.

    The published counter moves in the dispatch's own commit callback (``counts_published``): one
    callback per publish, not two."""

    counts_published = True

    def publish(self, envelope: Envelope, using: str) -> None:
        targets = _targets(envelope.type)
        count = published_counter(envelope.type)
        now = _now()
        event_type, key, publisher = envelope.type, envelope.key, envelope.publisher
        payload, text = _payload(envelope.event)
        headers = envelope.headers
        event = (envelope.id, event_type, envelope.version, key, text, JsonText(_to_json(headers, ensure_ascii=True).decode()), publisher)
        values = (*event, envelope.occurred_at)
        sender = dispatcher()
        inline = isinstance(sender, InlineDispatcher)
        claimed_by = WORKER_ID if inline else sender.claim_token()  # type: ignore[union-attr]
        lease_until = now + timedelta(seconds=outbox_settings().lease)
        deferred.ride(using)  # waiting completion marks of this database, if a batch waits: no commit of their own
        lease = lease_until if claimed_by else None
        rows = targets.rows
        # On PostgreSQL the INSERT rides with the transaction's COMMIT (commit_psycopg): its rows are
        # read after the commit, by the dispatch below; elsewhere it runs now.
        later = publish_rows_at_commit(using, values, subscribers=rows, now=now, claimed_by=claimed_by, lease_until=lease)
        if later is None:
            done = publish_rows(using, values, subscribers=rows, now=now, claimed_by=claimed_by, lease_until=lease)
            later = partial(_given, done)
        if not rows:
            transaction.on_commit(count, using=using)
            return
        if not inline:  # Celery: the messages carry the claim of those written claimed

            def send() -> None:
                _, written = later()
                ids = [written[name][0] for name, _ in rows]
                held = frozenset(pk for pk, is_claimed in written.values() if is_claimed)
                queues = {written[name][0]: CeleryDispatcher.queue_label(module, publisher) for name, module in rows}
                modules = {written[name][0]: module for name, module in rows}
                count()
                sender.dispatch(using, ids, queues=queues, claimed=held, claimed_by=claimed_by, modules=modules)

            transaction.on_commit(send, using=using)
            return
        held_row = (*event[:4], payload, headers, publisher, envelope, now, lease_until)
        transaction.on_commit(partial(_after_commit, using, later, targets.runs, held_row, count), using=using)


def _given(done: tuple[int, dict[str, tuple[int, bool]]]) -> tuple[int, dict[str, tuple[int, bool]]]:
    return done


#: The columns ``_held`` is given, in the order of the values above: the model's concrete fields'
#: attribute names, in their order (as ``from_db`` takes a full row).
_PUBLICATION_FIELDS = [
    "id", "position", "event_id", "event_type", "version", "key", "payload", "headers", "publisher", "occurred_at",
    "subscriber", "subscriber_module", "status", "attempts", "created_at", "next_attempt_at", "dispatched_at",
    "claimed_by", "lease_until", "completed_at", "last_error", "last_traceback", "holds_back",
]  # fmt: skip


def _held(alias: str, values: tuple[object, ...]) -> Publication:
    """``Publication.from_db(alias, _PUBLICATION_FIELDS, values)``: the instance a read of the row
    builds, its attributes set in one ``dict.update`` instead of by ``Model.__init__``'s loop of
    ``setattr`` over 23 fields and its two signals (~550 Python bytecodes per event: a tenth of
    what the outbox adds to an event; ``Model(**kwargs)`` cost three times ``from_db``). While
    anything listens to ``pre_init`` or ``post_init`` it is ``from_db`` itself, so a receiver
    still sees every instance."""
    if pre_init.receivers or post_init.receivers:
        return Publication.from_db(alias, _PUBLICATION_FIELDS, values)
    publication = _new(Publication)
    publication.__dict__.update(zip(_PUBLICATION_FIELDS, values, strict=True))
    state = publication._state = ModelState()
    state.adding = False
    state.db = alias
    return publication


_new = object.__new__


def _payload(event: Event) -> tuple[Callable[[], object], object]:
    """The event's payload as JSON text for the INSERT, and how to get the value the field reads
    back from it (for the publications ``_held`` builds: parsed only when one is built).

    The text is pydantic-core's ``to_json`` (in Rust): what ``model_dump(mode="json")`` answers,
    serialised, with ``json.dumps``'s ASCII escapes; only the separators differ, and what Django's
    JSONField reads back is the same value, keys in the same order. One case differs:
    pydantic-core writes a non-finite float as ``null`` where ``json.dumps`` writes ``NaN``, which
    both databases refuse (SQLite's JSON_VALID check, PostgreSQL's jsonb). So a text with a
    ``null`` in it takes the old way (``model_dump``, which the field's preparer hands to
    ``json.dumps``), exactly as before."""
    data = event.__pydantic_serializer__.to_json(event, ensure_ascii=True)
    if b"null" in data:
        value = event.model_dump(mode="json")
        return lambda: value, value
    return partial(_from_json, data), JsonText(data.decode())


def _after_commit(
    alias: str,
    later: Callable[[], tuple[int, dict[str, tuple[int, bool]]]],
    runs: list[tuple[str, str, Subscriber | RemoteSubscriber]],
    event: tuple[Any, ...],
    count: Callable[[], None],
) -> None:
    """After the publisher's commit: the publications written claimed go to their handlers with the
    envelope in memory; those held back behind an open one of their key go to the dispatcher."""
    count()  # published: it committed
    position, written = later()
    event_id, event_type, version, key, payload, headers, publisher, envelope, now, lease_until = event
    claimed: list[Claimed] = []
    waiting: list[int] = []
    for name, module, run in runs:
        pk, is_claimed = written[name]
        if not is_claimed:
            waiting.append(pk)
            continue
        # The row as the database now holds it, the object a read would build (``_held``).
        publication = _held(
            alias,
            (pk, position, event_id, event_type, version, key, payload(), headers, publisher, envelope.occurred_at, name, module)
            + (PublicationStatus.PROCESSING, 1, now, now, None)
            + (WORKER_ID, lease_until, None, "", "", False),
        )
        claimed.append(Claimed(publication, run, envelope))
    deliver_claimed(alias, claimed)
    if waiting:
        if deferred.waiting(alias):  # what they wait behind may be handled already, its mark not written
            deferred.flush(alias)
        dispatcher().dispatch(alias, waiting)


def subscribers_of(event_type: str) -> list[Subscriber | RemoteSubscriber]:
    """Who gets a publication: the handlers registered here, plus those declared remote."""
    local: list[Subscriber | RemoteSubscriber] = list(get_registry().subscribers_for(event_type))
    names = {s.name for s in local}
    return local + [r for r in remote_subscribers(event_type) if r.name not in names]


@dataclass(frozen=True)
class Targets:
    """An event type's subscribers as publishing needs them: ``rows`` (name, module) for the
    publications, ``runs`` (name, module, what runs it: the handler, or a forward when the module
    is bound to a transport)."""

    rows: list[tuple[str, str]]
    runs: list[tuple[str, str, Subscriber | RemoteSubscriber]]


#: ``Targets`` per frozen registry and event type: working them out (bindings, remote subscribers,
#: installed modules) on every publish costs more than the event's own serialisation. Forgotten
#: when a setting changes; a registry that is replaced (tests) takes its entries with it, and so
#: does a registry whose subscriber table is swapped (``isolate_module`` narrows it to one module's
#: scope): each entry remembers the table it was worked out from.
_plans: weakref.WeakKeyDictionary[Registry, tuple[object, dict[str, Targets]]] = weakref.WeakKeyDictionary()


def _targets(event_type: str) -> Targets:
    registry = get_registry()
    entry = _plans.get(registry) if registry.frozen else None
    plans = entry[1] if entry is not None and entry[0] is registry.subscribers else None
    if plans is not None and event_type in plans:
        return plans[event_type]
    subscribers = subscribers_of(event_type)
    runs = [
        (s.name, s.module, RemoteSubscriber(event_type, s.name, s.module) if isinstance(s, Subscriber) and is_remote(s.module) else s)
        for s in subscribers
    ]
    targets = Targets(rows=[(s.name, s.module) for s in subscribers], runs=runs)
    if registry.frozen:
        if plans is None:
            plans = {}
            _plans[registry] = (registry.subscribers, plans)
        plans[event_type] = targets
    return targets


def _forget_plans(**_: object) -> None:
    _plans.clear()


# A named function: signals keep weak references, so a lambda receiver would vanish.
setting_changed.connect(_forget_plans)
