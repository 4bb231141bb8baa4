"""Forwarding: a publication whose subscriber runs in another process goes over its transport.

The outbox owner keeps every guarantee (ordering, retries, dead letters); the receiver's inbox
(``inbox.receive_event``) makes a repeated forward harmless. See ``contracts/kernel/remote.py``.
"""

from __future__ import annotations

from ..models import Publication
from ..remote import RemoteSubscriber, forward_event
from ..telemetry.events import forwarding
from ..telemetry.tracing import carrier
from ..upcasting import older_payloads


def envelope_to_wire(row: Publication) -> dict[str, object]:
    """The JSON form in which a publication's event is forwarded to a remote subscriber.

    When the event's publisher declares downcasters, ``payloads`` carries the payload in each older
    version too (``{"1": {...}}``): a subscriber deployed before this version existed reads its own."""
    wire: dict[str, object] = {
        "id": str(row.event_id),
        "type": row.event_type,
        "version": row.version,
        "key": row.key,
        "payload": row.payload,
        "headers": row.headers,
        "occurred_at": row.occurred_at.isoformat(),
    }
    older = older_payloads(row.event_type, row.version, row.payload)
    if older:
        wire["payloads"] = older
    return wire


def forward(subscriber: RemoteSubscriber, row: Publication) -> str:
    """Hand the event to the process that serves ``subscriber``; returns its outcome. The envelope
    sent carries the forward's trace context, so the receiver's handler continues this trace."""
    with forwarding(row.event_type, subscriber.name, subscriber.module):
        wire = envelope_to_wire(row)
        wire["headers"] = {**row.headers, **carrier()}
        return forward_event(subscriber.module, subscriber.name, wire)
