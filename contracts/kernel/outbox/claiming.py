"""Claiming: which worker runs a publication, decided by one compare-and-set UPDATE.

Safe with any number of workers on PostgreSQL and with SQLite's single writer alike: two workers
can race for the same row, only one UPDATE matches it.

A worker taking one publication (``claim_read``, the claim path of the Celery drain and the relay)
claims it and reads what it needs to run it — the publication, which holds its event — in that
same statement (``UPDATE ... RETURNING``), its SQL built once: no ORM query
construction, no second round trip for the read. A publication the Celery dispatcher sent already
claimed (written so by the publisher, its message carrying the claim) is only read
(``read_claimed``): one SELECT, no write, no commit.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.db import connections
from django.db.models import DEFERRED, Exists, F, Field, OuterRef, Q
from django.utils import timezone

from ..models import OPEN_STATUSES, Publication, PublicationStatus, open_condition
from . import prepared
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
    return claim_read(alias, pk, worker) is not None


def claim_read(alias: str, pk: int, worker: str = WORKER_ID) -> Publication | None:
    """``claim``, returning the claimed publication, its event in it (None if not taken): one
    ``UPDATE ... RETURNING``."""
    connection = connections[alias]
    statement = _claim_read_statement(connection.vendor)
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    lease = connection.ops.adapt_datetimefield_value(now + timedelta(seconds=outbox_settings().lease))
    with prepared.cursor(alias) as cursor:
        cursor.execute(statement.sql, [worker, lease, pk, stamp, stamp])
        row = cursor.fetchone()
    return None if row is None else statement.publication(alias, row, worker)


def read_claimed(alias: str, ids: list[int], claimed_by: str, margin: timedelta) -> list[Publication]:
    """Publications of ``ids`` that ``claimed_by`` still holds with more than ``margin`` of its
    lease left, in publication order: one SELECT (the Celery dispatcher's
    messages for publications written already claimed: no claim UPDATE, no commit)."""
    connection = connections[alias]
    statement = _claim_read_statement(connection.vendor)
    until = connection.ops.adapt_datetimefield_value(timezone.now() + margin)
    with prepared.cursor(alias, listed=len(ids)) as cursor:
        cursor.execute(statement.read_sql(len(ids)), [*ids, claimed_by, until])
        rows = cursor.fetchall()
    return [statement.publication(alias, row, claimed_by) for row in rows]


def release_claims(alias: str, ids: list[int], claimed_by: str) -> int:
    """Give publications written claimed by ``claimed_by`` back to the relay (pending, never
    attempted): their message could not be sent."""
    return Publication.objects.using(alias).filter(  # type: ignore[no-any-return]
        pk__in=ids, claimed_by=claimed_by, status=PublicationStatus.PROCESSING
    ).update(status=PublicationStatus.PENDING, claimed_by="", lease_until=None, attempts=0)


def claim_many(alias: str, ids: list[int], worker: str = WORKER_ID) -> str | None:
    """Take every claimable publication of ``ids`` with one UPDATE; returns the claim token the
    taken rows carry in ``claimed_by`` (one read finds exactly them), or None if none was taken."""
    now = timezone.now()
    token = f"{worker}:{uuid.uuid4().hex[:12]}"
    taken = _claim(_claimable(alias, now).filter(pk__in=ids), token, now)  # type: ignore[attr-defined]
    return token if taken else None


# --- the claim-and-read statement ----------------------------------------------------------------
_PUB = Publication._meta.db_table
_O_OPEN = open_condition("o.status")  # as the open indexes' condition: SQLite reads seams_pub_key_open
_DUE = ", ".join(f"'{s.value}'" for s in (PublicationStatus.PENDING, PublicationStatus.FAILED))


#: The columns a worker reads of a publication it runs: the event (the handler's envelope, a
#: forward's wire form), the span's attributes, and what recording the outcome needs (the attempt
#: for the retry, the key, position and ``holds_back`` for ordering). Its lifecycle's timestamps,
#: last error and publisher are not read: they are only written, and converting them (five
#: timestamps, two texts) was most of what turning the row into a model cost.
READ_FIELDS = (
    "id",
    "position",
    "key",
    "event_type",
    "subscriber",
    "subscriber_module",
    "attempts",
    "holds_back",
    "event_id",
    "version",
    "payload",
    "headers",
    "occurred_at",
)


class ClaimRead:
    """The SQL of ``claim_read`` and ``read_claimed`` and how to turn their row into a publication,
    converted from the database exactly as the ORM converts a fetched row (dates, JSON, UUIDs).
    The publication row holds its event: no join, the same SQL on every vendor. Only
    ``READ_FIELDS`` are returned; the statement itself says the row's claim and status, and any
    other field is deferred (read from the database if something asks for it, as the ORM's
    ``only()`` does)."""

    def __init__(self, vendor: str) -> None:
        fields = {f.attname: f for f in Publication._meta.concrete_fields}
        self.publication_fields: list[Field[Any, Any]] = [fields[name] for name in READ_FIELDS]  # type: ignore[misc]
        returned = ", ".join(f"{_PUB}.{f.column}" for f in self.publication_fields)
        update = (
            f"UPDATE {_PUB} SET status = '{PublicationStatus.PROCESSING.value}', claimed_by = %s, lease_until = %s,"
            " attempts = attempts + 1"
        )
        where = (
            f" WHERE {_PUB}.id = %s AND (({_PUB}.status IN ({_DUE}) AND {_PUB}.next_attempt_at <= %s)"
            f" OR ({_PUB}.status = '{PublicationStatus.PROCESSING.value}' AND {_PUB}.lease_until < %s))"
            f" AND ({_PUB}.key IS NULL OR NOT EXISTS (SELECT 1 FROM {_PUB} o WHERE o.subscriber = {_PUB}.subscriber"
            f" AND o.key = {_PUB}.key AND o.position < {_PUB}.position AND {_O_OPEN}))"
        )
        self._by_alias: dict[str, list[_Converters]] = {}
        self._read = (
            f"SELECT {returned} FROM {_PUB} WHERE {_PUB}.id IN ({{marks}})"
            f" AND {_PUB}.claimed_by = %s AND {_PUB}.status = '{PublicationStatus.PROCESSING.value}'"
            f" AND {_PUB}.lease_until > %s ORDER BY {_PUB}.position"
        )
        self.sql = f"{update}{where} RETURNING {returned}"
        # Where each of the model's fields comes from: a returned column, the claim, the status
        # (the last two), or nowhere (deferred).
        given = {name: i for i, name in enumerate([*READ_FIELDS, "claimed_by", "status"])}
        self._all_names = [f.attname for f in Publication._meta.concrete_fields]
        self._places = [given.get(name, -1) for name in self._all_names]

    def read_sql(self, count: int) -> str:
        """The SELECT of ``read_claimed`` for ``count`` ids (the same columns as the claim returns)."""
        return self._read.format(marks=", ".join(["%s"] * count))

    def publication(
        self, alias: str, row: tuple[Any, ...], claimed_by: str, status: str = PublicationStatus.PROCESSING
    ) -> Publication:
        """The publication of a returned ``row``, held by ``claimed_by`` in ``status`` (what the
        statement that returned it made or required it to be)."""
        values = [*_converted(alias, self._converters(alias), row), claimed_by, status]
        return Publication.from_db(alias, self._all_names, [DEFERRED if i < 0 else values[i] for i in self._places])

    def value(self, name: str, row: tuple[Any, ...], alias: str) -> Any:
        """One converted column of a returned ``row`` (``name`` of ``READ_FIELDS``)."""
        i = READ_FIELDS.index(name)
        (column, functions) = self._converters(alias)[i]
        value = row[i]
        for convert in functions:
            value = convert(value, column, connections[alias])
        return value

    def _converters(self, alias: str) -> list[_Converters]:
        """Per field, the backend's and the field's converters, as the ORM's compiler picks them
        (found once per alias: they depend on the vendor and the field, not on the row)."""
        found = self._by_alias.get(alias)
        if found is None:
            connection = connections[alias]
            found = []
            for field in self.publication_fields:
                column = field.get_col(field.model._meta.db_table)
                found.append((column, (*connection.ops.get_db_converters(column), *field.get_db_converters(connection))))
            self._by_alias[alias] = found
        return found


_Converters = tuple[Any, tuple[Any, ...]]


def _converted(alias: str, converters: list[_Converters], values: tuple[Any, ...]) -> list[Any]:
    connection = connections[alias]
    out = []
    for (column, functions), value in zip(converters, values, strict=True):
        for convert in functions:
            value = convert(value, column, connection)
        out.append(value)
    return out


@lru_cache(maxsize=4)
def _claim_read_statement(vendor: str) -> ClaimRead:
    return ClaimRead(vendor)
