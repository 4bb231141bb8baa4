"""Forwarding: a publication whose subscriber runs in another process goes over its transport.

The outbox owner keeps every guarantee (ordering, retries, dead letters); the receiver's inbox
(``inbox.receive_event``) makes a repeated forward harmless. See ``contracts/kernel/remote.py``.
"""

from __future__ import annotations

from ..models import OutboxEvent
from ..remote import RemoteSubscriber, forward_event


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


def forward(subscriber: RemoteSubscriber, row: OutboxEvent) -> str:
    """Hand the event to the process that serves ``subscriber``; returns its outcome."""
    return forward_event(subscriber.module, subscriber.name, envelope_to_wire(row))
