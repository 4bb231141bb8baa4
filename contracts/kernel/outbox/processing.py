"""Processing one publication: claim it, run its handler (or forward it), record the outcome.

The outcome is one of: completed (or duplicate, the inbox had seen it), failed (retried with
backoff, then dead after ``MAX_ATTEMPTS``), dead at once (it can never succeed), or not-claimed
(another worker has it, it is not due, or an earlier event of its key is still open).
"""

from __future__ import annotations

import random
import traceback
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ..bus import logger
from ..errors import ServiceUnavailable, Undeliverable
from ..events import Envelope, Event
from ..models import OutboxEvent, Publication, PublicationStatus
from ..registry import Subscriber
from ..remote import RemoteSubscriber, is_remote
from ..telemetry.events import handling, record_error
from .claiming import WORKER_ID, claim
from .config import OutboxSettings, outbox_settings
from .dispatch import dispatcher
from .forwarding import forward
from .inbox import handle_once, local_subscriber, validated


def process_publication(alias: str, pk: int, worker: str = WORKER_ID) -> str:
    """Claim, run and record one publication; returns what happened (for logs and tests)."""
    if not claim(alias, pk, worker):
        return "not-claimed"
    publication = Publication.objects.using(alias).select_related("event").get(pk=pk)
    row = publication.event
    # A span continuing the trace that published the event, and the delivered/failed/dead counters.
    with handling(row.headers, row.type, publication.subscriber, publication.subscriber_module, row.event_id, publication.attempts) as done:
        outcome = _process(alias, publication)
        done(outcome)
    return outcome


def _process(alias: str, publication: Publication) -> str:
    try:
        subscriber, event = _materialize(publication)
    except Undeliverable as exc:
        _bury(alias, publication, str(exc), "")
        return "dead"
    try:
        outcome = _run_once(subscriber, publication, event)
    except Undeliverable as exc:  # a remote receiver's verdict: retrying cannot help
        record_error(exc)
        _bury(alias, publication, str(exc), "".join(traceback.format_exception(exc)))
        return "dead"
    except Exception as exc:
        return _failed(alias, publication, exc)
    _complete(alias, publication)
    _dispatch_next_of_key(alias, publication)
    return outcome


def _materialize(publication: Publication) -> tuple[Subscriber | RemoteSubscriber, Event]:
    row = publication.event
    event = validated(row.type, row.version, row.payload)
    if is_remote(publication.subscriber_module):
        return RemoteSubscriber(row.type, publication.subscriber, publication.subscriber_module), event
    return local_subscriber(row.type, publication.subscriber), event


def _run_once(subscriber: Subscriber | RemoteSubscriber, publication: Publication, event: Event) -> str:
    """Run the handler here (or forward it to the process that serves its module)."""
    row = publication.event
    if isinstance(subscriber, RemoteSubscriber):
        return forward(subscriber, row)
    envelope = Envelope(event=event, id=row.event_id, occurred_at=row.occurred_at, key=row.key, headers=row.headers)
    return handle_once(subscriber, envelope)


def _complete(alias: str, publication: Publication) -> None:
    now = timezone.now()
    mode = outbox_settings().completion
    rows = Publication.objects.using(alias).filter(pk=publication.pk)
    if mode == "keep":
        rows.update(status=PublicationStatus.COMPLETED, completed_at=now, lease_until=None, last_error="")
        return
    with transaction.atomic(using=alias):
        if mode == "archive":
            from ..models import ArchivedPublication

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
    record_error(exc)
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
