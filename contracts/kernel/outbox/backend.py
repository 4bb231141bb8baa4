"""Publishing: the event and one publication per subscriber, in the publisher's transaction.

Nothing is sent before the publisher commits: the dispatch is an ``on_commit`` callback, so work
that rolls back leaves neither rows nor messages.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ..bus import EventBackend
from ..events import Envelope
from ..models import OutboxEvent, Publication
from ..registry import Subscriber, get_registry
from ..remote import RemoteSubscriber, remote_subscribers
from .dispatch import dispatcher


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
