"""The relay: the safety net that re-dispatches whatever was not completed in time.

``relay_once`` (run by ``manage.py relay_events`` and the ``seams.relay`` beat task) releases the
claims of dead workers and re-sends stale publications, so a crash between commit and dispatch, a
dead worker or a broker outage loses nothing.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connections, transaction
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, Q
from django.utils import timezone

from ..models import Publication, PublicationStatus, open_rows
from ..modules import module_configs
from ..remote import is_remote
from ..telemetry.events import relaying
from .completions import deferred
from .config import outbox_settings
from .dispatch import dispatcher


def module_aliases() -> list[str]:
    """The outboxes this process relays: those of modules served here (an extracted module's
    outbox is relayed by its own service)."""
    return sorted({m.database_alias for m in module_configs() if not is_remote(m.label)})


def connection_vendor(alias: str) -> str:
    return connections[alias].vendor


def release_expired_leases(alias: str) -> int:
    """The staleness monitor: claims whose worker died go back to pending."""
    return (
        Publication.objects.using(alias)
        .filter(open_rows(), status=PublicationStatus.PROCESSING, lease_until__lt=timezone.now())
        .update(
            status=PublicationStatus.PENDING,
            claimed_by="",
            lease_until=None,
            dispatched_at=None,  # its message is gone with the worker: the relay sends it now
            last_error="lease expired: the worker died or hung",
        )
    )


#: However long a publication has waited, the relay re-sends it at least this often (x STALE_AFTER).
REDISPATCH_CAP = 10


def due_publications(alias: str, limit: int) -> list[int]:
    """Open publications that should have been handled by now.

    A pending publication is re-sent when it is older than ``STALE_AFTER`` and, if it was sent
    before, when it has waited since that send at least as long as it had waited before it (the
    interval doubles, up to ``REDISPATCH_CAP`` x ``STALE_AFTER``). A message that is merely queued
    behind a backlog is thus re-sent a logarithmic number of times, not once per window: without
    the doubling a backlog older than ``STALE_AFTER`` feeds the queue with duplicates faster than
    workers drain it. A failed publication is re-sent once per retry.
    """
    config = outbox_settings()
    now = timezone.now()
    stale = now - timedelta(seconds=config.stale_after)
    cap = now - timedelta(seconds=config.stale_after * REDISPATCH_CAP)
    waited = ExpressionWrapper(F("dispatched_at") - F("next_attempt_at"), output_field=DurationField())
    never_sent = Q(dispatched_at__isnull=True)
    resend = Q(dispatched_at__lte=stale) & (Q(dispatched_at__lte=cap) | Q(redispatch_at__lte=now))
    rows = (
        Publication.objects.using(alias)
        .alias(redispatch_at=ExpressionWrapper(F("dispatched_at") + waited, output_field=DateTimeField()))
        .filter(open_rows())  # the open rows only, on SQLite too (through seams_pub_due)
        .filter(
            Q(status=PublicationStatus.PENDING, next_attempt_at__lte=stale) & (never_sent | resend)
            | Q(status=PublicationStatus.FAILED, next_attempt_at__lte=now)
            & (never_sent | Q(dispatched_at__lt=F("next_attempt_at")))
        )
    )
    with transaction.atomic(using=alias):
        if connection_vendor(alias) == "postgresql":
            rows = rows.select_for_update(skip_locked=True)
        ids = list(rows.order_by("position").values_list("pk", flat=True)[:limit])
        Publication.objects.using(alias).filter(pk__in=ids).update(dispatched_at=now)
    return ids


def relay_once(aliases: list[str] | None = None) -> dict[str, int]:
    """One pass of the relay over every module database; returns how many it re-dispatched."""
    config = outbox_settings()
    sent: dict[str, int] = {}
    with relaying() as done:
        for alias in aliases or module_aliases():
            deferred.flush(alias)  # this process's own completion marks first: nothing to re-send for them
            release_expired_leases(alias)
            ids = due_publications(alias, config.relay_batch)
            if ids:
                dispatcher().dispatch(alias, ids)
            sent[alias] = len(ids)
        done(sent)
    return sent
