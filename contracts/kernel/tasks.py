"""Celery tasks of the durable event backend (found by ``celery_app.autodiscover_tasks()``).

``seams.deliver_publication`` runs one publication (``seams.deliver_publications`` many at once) on a worker that consumes the subscriber
module's queue (``seams.<module>``); ``seams.relay`` is the beat-driven safety net. Both are
idempotent: claiming is a compare-and-set and the inbox drops duplicates, so a redelivered or
duplicated task message is harmless.

A worker keeps the completion marks of the publications it got already claimed and could not
mark in the handler's transaction, and writes them together (``outbox/completions.py``, as the
inline fast path does): within ``COMPLETION_DELAY``, before it claims a publication (a message
without a claim may wait behind one of them: the relay's, a retry's, a held-back event's), and
when the worker or a prefork child shuts down. A mark lost with a killed worker costs a redelivery
after the lease, which the inbox drops.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_shutdown

from .outbox import process_dispatched, process_publication, process_publications, relay_once
from .outbox.colocated import deliver_dispatched
from .outbox.completions import deferred


@shared_task(name="seams.deliver_publication", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_publication(alias: str, pk: int, claimed_by: str | None = None, module: str | None = None) -> str:
    """One publication. ``claimed_by``: the publisher wrote it already claimed so (the message of its
    commit), and the worker only reads it; without (the relay, a retry), it is claimed here.
    ``module``: whose handler it is for, so that the handler's transaction can read and complete it
    (``outbox/colocated.py``); a message without it (sent by an older publisher) is read first."""
    if claimed_by and module:
        return deliver_dispatched(alias, pk, str(claimed_by), str(module))
    if claimed_by:
        return process_dispatched(alias, [pk], str(claimed_by))[0]
    _marks_first(alias)
    return process_publication(alias, pk)


@shared_task(name="seams.deliver_publications", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_publications(alias: str, ids: list[int], claimed_by: str | None = None) -> list[str]:
    """The batch drain: many publications of one queue with one claim, one read and one completion."""
    if claimed_by:
        return process_dispatched(alias, list(ids), str(claimed_by))
    _marks_first(alias)
    return process_publications(alias, ids)


@shared_task(name="seams.relay", ignore_result=True)
def relay() -> dict[str, int]:
    return relay_once()


def _marks_first(alias: str) -> None:
    """Before a claim: this worker's waiting marks of ``alias`` are written, so that a publication
    held back behind one of them (an earlier event of its key, handled here) is claimable at once."""
    if deferred.waiting(alias):
        deferred.flush(alias)


@worker_shutdown.connect(weak=False)
@worker_process_shutdown.connect(weak=False)
def _write_marks_at_shutdown(**_: Any) -> None:
    """A worker (or a prefork child, which leaves by ``os._exit``: no ``atexit``) that stops writes
    the marks it still keeps; if it cannot, the relay redelivers those after their lease."""
    deferred.flush()
