"""Publishing: the event and one publication per subscriber, in the publisher's transaction.

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

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ..bus import EventBackend
from ..events import Envelope
from ..models import OutboxEvent, Publication, PublicationStatus
from ..registry import Subscriber, get_registry
from ..remote import RemoteSubscriber, is_remote, remote_subscribers
from .claiming import WORKER_ID
from .config import outbox_settings
from .dispatch import CeleryDispatcher, InlineDispatcher, dispatcher
from .processing import Claimed, deliver_claimed
from .statements import insert_event, insert_publications


class OutboxEventBackend(EventBackend):
    """Write the event and its publications in the publisher's transaction; dispatch after commit."""

    def publish(self, envelope: Envelope, using: str) -> None:
        subscribers = subscribers_of(envelope.type)
        now = timezone.now()
        row = OutboxEvent(
            event_id=envelope.id,
            type=envelope.type,
            version=envelope.version,
            key=envelope.key,
            payload=envelope.event.model_dump(mode="json"),
            headers=envelope.headers,
            publisher=envelope.publisher,
            occurred_at=envelope.occurred_at,
        )
        row.position = insert_event(  # type: ignore[assignment]
            using, row.event_id, row.type, row.version, row.key, row.payload, row.headers, row.publisher, row.occurred_at
        )
        row._state.adding, row._state.db = False, using
        if not subscribers:
            return
        sender = dispatcher()
        inline = isinstance(sender, InlineDispatcher)
        claimed_by = WORKER_ID if inline else sender.claim_token()  # type: ignore[union-attr]
        lease_until = now + timedelta(seconds=outbox_settings().lease)
        written = insert_publications(
            using,
            position=row.position,
            key=envelope.key,
            event_type=envelope.type,
            subscribers=[(s.name, s.module) for s in subscribers],
            now=now,
            claimed_by=claimed_by,
            lease_until=lease_until if claimed_by else None,
        )
        if not inline:  # Celery: the messages carry the claim of those written claimed
            ids = [written[s.name][0] for s in subscribers]
            held = frozenset(pk for pk, is_claimed in written.values() if is_claimed)
            queues = {written[s.name][0]: CeleryDispatcher.queue_label(s.module, envelope.publisher) for s in subscribers}
            transaction.on_commit(
                lambda: sender.dispatch(using, ids, queues=queues, claimed=held, claimed_by=claimed_by), using=using
            )
            return
        claimed: list[Claimed] = []
        waiting: list[int] = []
        for sub in subscribers:
            pk, is_claimed = written[sub.name]
            if not is_claimed:
                waiting.append(pk)
                continue
            publication = Publication(
                pk=pk,
                event=row,
                position=row.position,
                key=envelope.key,
                event_type=envelope.type,
                subscriber=sub.name,
                subscriber_module=sub.module,
                status=PublicationStatus.PROCESSING,
                attempts=1,
                created_at=now,
                next_attempt_at=now,
                claimed_by=WORKER_ID,
                lease_until=lease_until,
            )
            if isinstance(sub, Subscriber) and is_remote(sub.module):  # bound to a transport: forwarded
                sub = RemoteSubscriber(envelope.type, sub.name, sub.module)
            claimed.append(Claimed(publication, sub, envelope))
        transaction.on_commit(lambda: _after_commit(using, claimed, waiting), using=using)


def _after_commit(alias: str, claimed: list[Claimed], waiting: list[int]) -> None:
    deliver_claimed(alias, claimed)
    if waiting:
        dispatcher().dispatch(alias, waiting)


def subscribers_of(event_type: str) -> list[Subscriber | RemoteSubscriber]:
    """Who gets a publication: the handlers registered here, plus those declared remote."""
    local: list[Subscriber | RemoteSubscriber] = list(get_registry().subscribers_for(event_type))
    names = {s.name for s in local}
    return local + [r for r in remote_subscribers(event_type) if r.name not in names]
