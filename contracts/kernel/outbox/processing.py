"""Processing publications: run the handler (or forward the event), record the outcome.

Two ways in, one way through:

* **The fast path** (``deliver_claimed``): the publishing process wrote the publications already
  claimed by itself (``backend``) and, right after commit, hands the envelope it still holds in
  memory to the handler — no claim, no read. Its completion marks are written in the handler's
  transaction when it can reach the publication row, else batched with other marks
  (``completions``).
* **The dispatched path** (``process_dispatched``): with Celery dispatch the publisher also writes
  the publications already claimed (by a claim of its own, ``CeleryDispatcher.claim_token``) and
  its messages carry that claim: the worker reads them in one SELECT — no claim UPDATE, no commit
  — and goes through the same steps; whatever is no longer held that way takes the claim path.
* **The claim path** (``process_publication``, ``process_publications``): a Celery worker, the
  relay or a retry takes due publications with a compare-and-set claim (``claiming``), reads
  them, and goes through the same steps.

Either way the outcome is one of: completed (or duplicate, the inbox had seen it), failed (retried
with backoff, then dead after ``MAX_ATTEMPTS``), dead at once (it can never succeed), or
not-claimed (another worker has it, it is not due, or an earlier event of its key is still open).
"""

from __future__ import annotations

import random
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import NamedTuple

from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone

from ..bus import logger
from ..errors import ServiceUnavailable, Undeliverable
from ..events import Envelope
from ..models import OPEN_STATUSES, Publication, PublicationStatus
from ..modules import get_module
from ..registry import Subscriber
from ..remote import RemoteSubscriber, is_remote
from ..telemetry.events import handling, record_error, untraced
from .claiming import WORKER_ID, claim_many, claim_read, read_claimed
from .completions import deferred
from .config import OutboxSettings, outbox_settings
from .dispatch import dispatcher
from .forwarding import forward
from .inbox import Completing, handle_once, local_subscriber, validated
from .statements import complete_publications, reachable_table

#: The fast path leaves a publication to the relay when less than this is left of its lease.
LEASE_MARGIN = timedelta(seconds=1)


class Claimed(NamedTuple):
    """A publication this process holds the claim on, with what it takes to run it (a named tuple:
    built on every inline event, at a third of a frozen dataclass's bytecodes)."""

    publication: Publication  # its event in it (built in memory on the fast path)
    subscriber: Subscriber | RemoteSubscriber
    envelope: Envelope


# --- the fast path -------------------------------------------------------------------------------
def deliver_claimed(alias: str, claimed: list[Claimed]) -> list[str]:
    """Run publications written already claimed by this process (after their commit); returns
    the outcomes. A publication whose lease is (nearly) over is left alone: the relay may have
    taken it back, and will run it."""
    outcomes, done = [], []
    for item in claimed:
        lease = item.publication.lease_until
        # ``timezone.now()`` in the lease's own zone (UTC, or naive local time without USE_TZ),
        # without its settings lookup
        if lease is not None and datetime.now(lease.tzinfo) > lease - LEASE_MARGIN:
            outcomes.append("not-claimed")
            continue
        outcome = _attempt(alias, item)
        if outcome in ("completed", "duplicate"):
            done.append(item.publication)
        outcomes.append(outcome)
    if outbox_settings().completion == "keep":  # marks the handlers' transactions could not write: batched
        deferred.add(alias, [p for p in done if p.status != PublicationStatus.COMPLETED], WORKER_ID)
    else:
        _finish(alias, done)
    return outcomes


# --- publications the Celery dispatcher sent already claimed -------------------------------------
def process_dispatched(alias: str, ids: list[int], claimed_by: str) -> list[str]:
    """Run publications the publisher wrote already claimed by ``claimed_by`` and sent to this
    worker with that claim (``CeleryDispatcher``): read them, no claim UPDATE and no commit for it.
    Returns the outcomes in the order of ``ids``.

    A publication no longer held that way — its lease (nearly) ran out and the relay released it,
    a retry or another worker has it, or it is done — goes through the claim path instead, which
    decides by compare-and-set as for any other message. A second copy of the same message (the
    broker redelivering it) runs nothing twice: the handlers' inbox refuses the second run.

    Completion marks the handlers' transactions could not write wait under ``claimed_by`` and are
    written together (``completions``), as on the inline fast path: a publication handled here
    stays held by that claim under a lease that has more than ``LEASE_MARGIN`` left, far longer
    than ``COMPLETION_DELAY``.
    """
    held = {p.pk: p for p in read_claimed(alias, ids, claimed_by, LEASE_MARGIN)}
    outcomes = dict(zip(held, _run_read(alias, list(held.values()), defer_as=claimed_by), strict=True))
    rest = [pk for pk in ids if pk not in outcomes]
    if rest:
        outcomes.update(zip(rest, process_publications(alias, rest), strict=True))
    return [outcomes[pk] for pk in ids]


# --- the claim path ------------------------------------------------------------------------------
def process_publication(alias: str, pk: int, worker: str = WORKER_ID) -> str:
    """Claim, run and record one publication; returns what happened (for logs and tests)."""
    publication = claim_read(alias, pk, worker) or _wait_behind_earlier(alias, pk, worker)
    if publication is None:
        return "not-claimed"
    return _run_read(alias, [publication])[0]


def process_publications(alias: str, ids: list[int], worker: str = WORKER_ID) -> list[str]:
    """Claim, run and record many publications with one claim, one read and one completion
    statement (the batch drain of Celery dispatch and of the relay); returns the outcomes in the
    order of ``ids``. A publication held back by an earlier one of its key in the same batch runs
    after it, in order."""
    if len(ids) == 1:
        return [process_publication(alias, ids[0], worker)]
    token = claim_many(alias, ids, worker)
    rows = {}
    if token:
        query = Publication.objects.using(alias).filter(pk__in=ids, claimed_by=token)
        rows = {p.pk: p for p in query.order_by("position")}
    outcomes = dict(zip(rows, _run_read(alias, list(rows.values())), strict=True))
    for pk in sorted(set(ids) - set(outcomes)):  # held back behind an earlier one of the batch (now done),
        outcomes[pk] = process_publication(alias, pk, worker)  # or not due, or taken: in publication order
    return [outcomes[pk] for pk in ids]


def _wait_behind_earlier(alias: str, pk: int, worker: str) -> Publication | None:
    """After a failed claim: if an earlier publication of the same key is still open, flag it
    (``holds_back``) so that its completion dispatches this one; if none is open any more (it
    finished between the claim and now), claim again. Returns the publication if this worker now
    holds it."""
    me = Publication.objects.using(alias).filter(pk=pk)
    flagged = (
        Publication.objects.using(alias)
        .filter(
            status__in=OPEN_STATUSES,
            subscriber=Subquery(me.values("subscriber")),
            key=Subquery(me.values("key")),
            position__lt=Subquery(me.values("position")),
        )
        .update(holds_back=True)
    )
    return None if flagged else claim_read(alias, pk, worker)


def _run_read(alias: str, publications: list[Publication], defer_as: str = "") -> list[str]:
    """Run publications claimed and read from the database; returns their outcomes. With
    ``defer_as`` (the claim they are held by) their completion marks may wait (``completions``)."""
    outcomes, done = [], []
    for publication in publications:
        try:
            item = _materialize(publication)
        except Undeliverable as exc:
            outcomes.append(_observed(alias, publication, partial(_buried, alias, publication, str(exc))))
            continue
        outcome = _attempt(alias, item)
        if outcome in ("completed", "duplicate"):
            done.append(publication)
        outcomes.append(outcome)
    if defer_as and outbox_settings().completion == "keep":
        deferred.add(alias, [p for p in done if p.status != PublicationStatus.COMPLETED], defer_as)
    else:
        _finish(alias, done)
    return outcomes


def _materialize(publication: Publication) -> Claimed:
    p = publication
    event = validated(p.event_type, p.version, p.payload)
    envelope = Envelope(event=event, id=p.event_id, occurred_at=p.occurred_at, key=p.key, headers=p.headers)
    if is_remote(p.subscriber_module):
        return Claimed(p, RemoteSubscriber(p.event_type, p.subscriber, p.subscriber_module), envelope)
    return Claimed(p, local_subscriber(p.event_type, p.subscriber), envelope)


# --- one attempt and its outcome -----------------------------------------------------------------
def _observed(alias: str, publication: Publication, run: Callable[[], str]) -> str:
    """A span continuing the trace that published the event, and the delivered/failed/dead counters."""
    p = publication
    with handling(p.headers, p.event_type, p.subscriber, p.subscriber_module, p.event_id, p.attempts) as done:
        outcome = run()
        done(outcome)
    return outcome


def _attempt(alias: str, item: Claimed) -> str:
    """``_observed(alias, item.publication, lambda: _run(alias, item))``, without the lambda; with
    nothing to trace, without the context manager either (``untraced``: only the count)."""
    p = item.publication
    count = untraced(p.headers, p.event_type, p.subscriber)
    if count is not None:
        outcome = _run(alias, item)
        count(outcome)
        return outcome
    with handling(p.headers, p.event_type, p.subscriber, p.subscriber_module, p.event_id, p.attempts) as done:
        outcome = _run(alias, item)
        done(outcome)
    return outcome


def _run(alias: str, item: Claimed) -> str:
    """Run the handler here (or forward it to the process that serves its module); a failure is
    recorded (retry or dead letter) and returned as the outcome.

    When the handler's connection can write the publication row in its own transaction (the same
    database alias, or module schemas of one PostgreSQL database), the publication is marked
    completed there, before the handler, and no inbox row is written: effect and completion commit
    together and the completed row is the record that the handler ran (``inbox.handle_once``),
    which saves a statement and a durable commit, and holding the row locked keeps the relay from
    taking it back while the handler runs. The outcome is then
    "completed" with nothing left to record (``_finish`` skips it).
    """
    publication = item.publication
    try:
        if isinstance(item.subscriber, RemoteSubscriber):
            return forward(item.subscriber, publication)
        handler_alias = get_module(item.subscriber.module).database_alias
        table = reachable_table(alias, handler_alias) if outbox_settings().completion == "keep" else None
        if table is None:
            return handle_once(item.subscriber, item.envelope, alias=handler_alias)
        completing = Completing(table, publication.pk, publication.claimed_by)
        outcome = handle_once(item.subscriber, item.envelope, completing, alias=handler_alias)
        if outcome == "completed":
            publication.status = PublicationStatus.COMPLETED  # recorded with the handler's commit
            if completing.holds_back:
                _dispatch_next_of_key(alias, publication)
        return outcome
    except Undeliverable as exc:  # a remote receiver's verdict: retrying cannot help
        record_error(exc)
        _bury(alias, publication, str(exc), "".join(traceback.format_exception(exc)))
        return "dead"
    except Exception as exc:
        return _failed(alias, publication, exc)


def _finish(alias: str, publications: list[Publication]) -> None:
    """Record completed publications: one UPDATE for all of them (``keep``), then dispatch the
    next event of each key that one of them held back."""
    publications = [p for p in publications if p.status != PublicationStatus.COMPLETED]
    if not publications:
        return
    if outbox_settings().completion == "keep":
        waiting = set(complete_publications(alias, [p.pk for p in publications], timezone.now()))
    else:
        for publication in publications:
            _complete(alias, publication)
        waiting = {p.pk for p in publications if p.key is not None}  # the rows (and their flags) are gone
    for publication in publications:
        if publication.pk in waiting:
            _dispatch_next_of_key(alias, publication)


def _complete(alias: str, publication: Publication) -> None:
    """Completion modes ``delete`` and ``archive``: the row leaves the hot table."""
    now = timezone.now()
    with transaction.atomic(using=alias):
        if outbox_settings().completion == "archive":
            from ..models import ArchivedPublication

            ArchivedPublication.archive(alias, publication, now)
        Publication.objects.using(alias).filter(pk=publication.pk).delete()


def backoff_seconds(attempt: int, config: OutboxSettings | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [base/2, min(max, base * 2**(attempt-1))]."""
    config = config or outbox_settings()
    ceiling = min(config.backoff_max, config.backoff_base * (2 ** max(attempt - 1, 0)))
    return random.uniform(ceiling / 2, ceiling)


def _failed(alias: str, publication: Publication, exc: Exception) -> str:
    config = outbox_settings()
    attempts = publication.attempts  # as claimed: read after the claim, or written claimed (1)
    text = "".join(traceback.format_exception(exc))
    message = f"{type(exc).__name__}: {exc}"
    record_error(exc)
    logger.error(
        "Handler %s failed for event %s (%s), attempt %s/%s: %s; the publisher and other handlers are unaffected.",
        publication.subscriber,
        publication.event_id,
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
        "event_id": str(publication.event_id),
        "event_type": publication.event_type,
        "handler": publication.subscriber,
    }


def _buried(alias: str, publication: Publication, reason: str) -> str:
    _bury(alias, publication, reason, "")
    return "dead"


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
