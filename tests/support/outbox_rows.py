"""Outbox rows written by hand for tests, the way the kernel writes them.

A publication holds its event, and its ``position`` must come from where the kernel takes it (a
sequence on PostgreSQL, the table's ``AUTOINCREMENT`` counter on SQLite), or a later event published
for real could get a smaller one and ordering tests would test nothing. So these go through the
kernel's own publishing statement (``outbox.statements.publish_rows``) and then adjust the row.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.utils import timezone

from contracts.kernel.models import Publication
from contracts.kernel.outbox.statements import publish_rows


def raw_publication(
    alias: str,
    event_type: str,
    payload: dict[str, Any],
    subscriber: str | None,
    module: str = "",
    *,
    key: str | None = None,
    version: int = 1,
    publisher: str = "orders",
    when: datetime.datetime | None = None,
    **fields: Any,
) -> Publication:
    """One pending publication of a new event to ``subscriber`` (None: the row recording an event
    nobody subscribes to), as if dispatch never happened; ``fields`` then set on the row."""
    when = when or timezone.now()
    values = (uuid.uuid4(), event_type, version, key, payload, {}, publisher, when)
    subscribers = [] if subscriber is None else [(subscriber, module)]
    _, written = publish_rows(alias, values, subscribers=subscribers, now=when)
    rows = Publication.objects.using(alias).filter(event_id=values[0])
    if fields:
        rows.update(**fields)
    return rows.get()
