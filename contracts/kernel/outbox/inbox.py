"""The inbox: a handler's effect happens once however often its event is delivered.

The handler runs and its ``InboxEntry`` row is written in one transaction on the subscriber's
database; the unique constraint on (event, subscriber) turns a second delivery into a rollback of
the second run. ``receive_event`` is the same step for an event forwarded from another process.
Where that transaction completes the publication itself (``Completing``), the completed
publication is the record instead and no inbox row is written (``statements.complete_unhandled``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import pydantic
from django.db import IntegrityError

from ..bus import run_subscriber
from ..errors import Undeliverable
from ..events import Envelope, Event, declared_events
from ..modules import get_module
from ..registry import Subscriber, get_registry
from ..telemetry import tracing
from ..upcasting import payload_for, unknown_version
from .config import now as _now
from .statements import Handled, complete_unhandled, insert_inbox


def validated(event_type: str, version: int, payload: dict[str, object]) -> Event:
    """The payload as its declared event class; ``Undeliverable`` when it can never be one."""
    event_class = declared_events.get((event_type, version))
    if event_class is None:
        raise Undeliverable(unknown_version(event_type, version))
    try:
        return event_class.model_validate(payload)
    except pydantic.ValidationError as exc:
        raise Undeliverable(f"schema drift: the payload no longer validates as {event_type} v{version}: {exc}") from exc


def local_subscriber(event_type: str, name: str) -> Subscriber:
    """The handler registered in this process under ``name``; ``Undeliverable`` if there is none."""
    subscriber = next((s for s in get_registry().subscribers_for(event_type) if s.name == name), None)
    if subscriber is None:
        raise Undeliverable(f"unknown subscriber {name} for {event_type} (renamed or removed?)")
    return subscriber


class _Duplicate(Exception):
    """The inbox already holds this (event, subscriber): leave the transaction, run nothing."""


class Taken(Exception):
    """This worker no longer holds the publication (its lease ran out, the relay took it back): run nothing."""


@dataclass
class Completing:
    """Mark publication ``pk`` of ``table`` (as the handler's connection names it) completed in the
    handler's transaction, if ``claimed_by`` still holds it; ``holds_back`` is filled in with
    whether a later event of its key waits for it."""

    table: str
    pk: int
    claimed_by: str
    holds_back: bool = False


def handle_once(subscriber: Subscriber, envelope: Envelope, completing: Completing | None = None, alias: str | None = None) -> str:
    """Run the handler and record that it ran, in one transaction on the subscriber's database.

    The record is written *first*, in the handler's transaction, so that a duplicate is refused
    before the handler runs (no pre-check query, and no side effect of a duplicate run), and a
    failing handler rolls it back with its own writes.

    Without ``completing`` the record is the inbox row: its primary key refuses a duplicate, and
    on PostgreSQL a concurrent delivery of the same event waits on that row and is refused when the
    first one commits.

    With ``completing`` the record is the publication itself, marked completed right there, before
    the handler, by a compare-and-set that holds its row locked until the commit (and refuses an
    event the inbox already has, ``statements.complete_unhandled``): effect and completion commit
    together, and no inbox row is written. If this worker no longer holds it, nothing ran and the
    outcome is "not-claimed". ``alias``: the subscriber module's database alias, when the caller
    has it already.
    """
    if alias is None:
        alias = get_module(subscriber.module).database_alias

    def write_inbox() -> None:
        if completing is None:
            try:
                insert_inbox(alias, envelope.id, subscriber.name, _now())
            except IntegrityError:
                raise _Duplicate from None
            return
        c = completing
        try:
            holds_back = complete_unhandled(alias, envelope.id, subscriber.name, _now(), c.table, c.pk, c.claimed_by)
        except Handled:
            raise _Duplicate from None
        if holds_back is None:
            raise Taken
        completing.holds_back = holds_back

    try:
        run_subscriber(subscriber, envelope, before=write_inbox, alias=alias)
    except _Duplicate:
        return "duplicate"  # handled before (a redelivery, or another worker concurrently): nothing ran
    except Taken:
        return "not-claimed"  # the relay took it back (its lease ran out): its new holder runs it
    return "completed"


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
    payloads = envelope.get("payloads")
    if payloads:  # the publisher's downcasts: read the version the handler declared (upcasting.py)
        version, payload = payload_for(local_subscriber(event_type, subscriber).event.version, version, payload, payloads)
    if not isinstance(payload, dict):
        raise Undeliverable("malformed envelope: the payload is not an object")
    attributes = {"seams.event_type": event_type, "seams.subscriber": subscriber, "seams.event_id": str(event_id)}
    # The handler's span continues the sender's forward (the trace context in the envelope headers).
    with tracing.continued(headers, f"handle {event_type}", tracing.SpanKind.CONSUMER, attributes) as span:
        event = validated(event_type, version, payload)
        local = local_subscriber(event_type, subscriber)
        envelope_ = Envelope(
            event=event, id=event_id, occurred_at=occurred_at, key=None if key is None else str(key), headers=headers
        )
        outcome = handle_once(local, envelope_)
        tracing.mark_outcome(span, outcome)
        return outcome
