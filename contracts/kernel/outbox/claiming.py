"""Claiming: which worker runs a publication, decided by one compare-and-set UPDATE.

Safe with any number of workers on PostgreSQL and with SQLite's single writer alike: two workers
can race for the same row, only one UPDATE matches it.
"""

from __future__ import annotations

import os
import socket
import uuid
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


def _claimable(alias: str, now: object) -> object:
    due = Q(status__in=[PublicationStatus.PENDING, PublicationStatus.FAILED], next_attempt_at__lte=now) | Q(
        status=PublicationStatus.PROCESSING, lease_until__lt=now
    )
    return Publication.objects.using(alias).filter(due).filter(Q(key__isnull=True) | ~_open_earlier_for_key())


def _claim(rows: object, worker: str, now: object) -> int:
    return rows.update(  # type: ignore[attr-defined, no-any-return]
        status=PublicationStatus.PROCESSING,
        claimed_by=worker,
        lease_until=now + timedelta(seconds=outbox_settings().lease),  # type: ignore[operator]
        attempts=F("attempts") + 1,
    )


def claim(alias: str, pk: int, worker: str = WORKER_ID) -> bool:
    """Atomically take a publication for processing: one conditional UPDATE (compare-and-set).

    Claimable: pending or failed and due, or processing with an expired lease (its worker died);
    and no earlier event with the same key is still open for the same subscriber. When that last
    test races with the completion of the earlier event it errs on "not yet"; the earlier event is
    then flagged (``holds_back``) and its completion dispatches this one.
    """
    now = timezone.now()
    return bool(_claim(_claimable(alias, now).filter(pk=pk), worker, now))  # type: ignore[attr-defined]


def claim_many(alias: str, ids: list[int], worker: str = WORKER_ID) -> str | None:
    """Take every claimable publication of ``ids`` with one UPDATE; returns the claim token the
    taken rows carry in ``claimed_by`` (one read finds exactly them), or None if none was taken."""
    now = timezone.now()
    token = f"{worker}:{uuid.uuid4().hex[:12]}"
    taken = _claim(_claimable(alias, now).filter(pk__in=ids), token, now)  # type: ignore[attr-defined]
    return token if taken else None
