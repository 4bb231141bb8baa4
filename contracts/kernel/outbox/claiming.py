"""Claiming: which worker runs a publication, decided by one compare-and-set UPDATE.

Safe with any number of workers on PostgreSQL and with SQLite's single writer alike: two workers
can race for the same row, only one UPDATE matches it.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from ..models import OPEN_STATUSES, Publication, PublicationStatus
from .config import outbox_settings

#: Who holds a claim (written to ``Publication.claimed_by``): this host and process.
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


def _open_earlier_for_key() -> Exists:
    return Exists(
        Publication.objects.filter(
            subscriber=OuterRef("subscriber"),
            key=OuterRef("key"),
            position__lt=OuterRef("position"),
            status__in=OPEN_STATUSES,
        )
    )


def claim(alias: str, pk: int, worker: str = WORKER_ID) -> bool:
    """Atomically take a publication for processing: one conditional UPDATE (compare-and-set).

    Claimable: pending or failed and due, or processing with an expired lease (its worker died);
    and no earlier event with the same key is still open for the same subscriber. When that last
    test races with the completion of the earlier event it errs on "not yet"; the worker that
    completes the earlier event dispatches the next one.
    """
    now = timezone.now()
    due = Q(status__in=[PublicationStatus.PENDING, PublicationStatus.FAILED], next_attempt_at__lte=now) | Q(
        status=PublicationStatus.PROCESSING, lease_until__lt=now
    )
    updated = (
        Publication.objects.using(alias)
        .filter(due, pk=pk)
        .filter(Q(key__isnull=True) | ~_open_earlier_for_key())
        .update(
            status=PublicationStatus.PROCESSING,
            claimed_by=worker,
            lease_until=now + timedelta(seconds=outbox_settings().lease),
            attempts=F("attempts") + 1,
        )
    )
    return bool(updated)
