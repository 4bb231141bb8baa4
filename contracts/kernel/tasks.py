"""Celery tasks of the durable event backend (found by ``celery_app.autodiscover_tasks()``).

``seams.deliver_publication`` runs one publication (``seams.deliver_publications`` many at once) on a worker that consumes the subscriber
module's queue (``seams.<module>``); ``seams.relay`` is the beat-driven safety net. Both are
idempotent: claiming is a compare-and-set and the inbox drops duplicates, so a redelivered or
duplicated task message is harmless.
"""

from __future__ import annotations

from celery import shared_task

from .outbox import process_dispatched, process_publication, process_publications, relay_once


@shared_task(name="seams.deliver_publication", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_publication(alias: str, pk: int, claimed_by: str | None = None) -> str:
    """One publication. ``claimed_by``: the publisher wrote it already claimed so (the message of its
    commit), and the worker only reads it; without (the relay, a retry), it is claimed here."""
    if claimed_by:
        return process_dispatched(alias, [pk], str(claimed_by))[0]
    return process_publication(alias, pk)


@shared_task(name="seams.deliver_publications", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_publications(alias: str, ids: list[int], claimed_by: str | None = None) -> list[str]:
    """The batch drain: many publications of one queue with one claim, one read and one completion."""
    if claimed_by:
        return process_dispatched(alias, list(ids), str(claimed_by))
    return process_publications(alias, ids)


@shared_task(name="seams.relay", ignore_result=True)
def relay() -> dict[str, int]:
    return relay_once()
