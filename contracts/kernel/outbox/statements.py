"""The hot path's SQL, written once per shape and reused: one statement per step.

The ORM rebuilds a query on every call (a measurable share of a publication's cost) and cannot say
"insert these rows, already claimed unless an earlier event of their key is still open" or
"complete these rows and tell me which hold a later one back" in one statement. These can, on
SQLite (3.35+, ``RETURNING``) and PostgreSQL alike.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

from ..models import NO_SUBSCRIBER, InboxEntry, Publication, PublicationStatus, inbox_key, open_condition
from . import prepared
from .values import JsonText, datetime_value, jsonb_text, preparer

_UUID = uuid.UUID


class PreparedInsert:
    """``INSERT INTO <model's table> (<fields>) VALUES (...) [RETURNING <pk>]``, its SQL built once;
    each value prepared by its field exactly as ``Model.objects.create`` would (JSON, UUIDs, dates)."""

    def __init__(self, model: type[models.Model], fields: tuple[str, ...], returning: bool = False) -> None:
        self.fields = [model._meta.get_field(name) for name in fields]
        self.preparers = [preparer(f) for f in self.fields]  # type: ignore[arg-type]
        columns = ", ".join(f.column for f in self.fields)  # type: ignore[union-attr]
        marks = ", ".join(["%s"] * len(self.fields))
        pk = model._meta.pk.column  # type: ignore[union-attr]
        self.sql = f"INSERT INTO {model._meta.db_table} ({columns}) VALUES ({marks})" + (f" RETURNING {pk}" if returning else "")
        self.returning = returning

    def params(self, connection: BaseDatabaseWrapper, values: tuple[object, ...]) -> list[object]:
        return [prepare(v, connection) for prepare, v in zip(self.preparers, values, strict=True)]  # as get_db_prep_save, shorter

    def __call__(self, alias: str, *values: object) -> object:
        connection = connections[alias]
        params = self.params(connection, values)
        if connection.vendor == "postgresql":  # the first statement of a transaction: its BEGIN goes with it
            rows = prepared.begin_and_execute(connection, self.sql, params)
            if rows is not None:
                return rows[0][0] if self.returning else None
        with prepared.cursor(connection) as cursor:
            cursor.execute(self.sql, params)
            return cursor.fetchone()[0] if self.returning else None


class PreparedInboxInsert(PreparedInsert):
    """The inbox row of one handled event, given (event id, subscriber, handled at): its primary
    key (``inbox_key`` of the first two, migration 0007) is worked out here, so every writer sends
    the same three values as before the key existed."""

    def __init__(self) -> None:
        super().__init__(InboxEntry, ("event_subscriber", "event_id", "subscriber", "handled_at"))

    def params(self, connection: BaseDatabaseWrapper, values: tuple[object, ...]) -> list[object]:
        event_id, subscriber, handled_at = values
        if type(event_id) is _UUID and type(subscriber) is str and type(handled_at) is datetime and handled_at.tzinfo is UTC:
            # What the preparers answer for these types, in one step.
            vendor = connection.vendor
            if vendor == "postgresql":  # the UUID and the aware datetime as they are
                return [f"{event_id.hex}:{subscriber}", event_id, subscriber, handled_at]
            if vendor == "sqlite" and connection.timezone is UTC:
                hex_id = event_id.hex
                return [f"{hex_id}:{subscriber}", hex_id, subscriber, handled_at.isoformat(" ")[:-6]]
        return super().params(connection, (inbox_key(event_id, str(subscriber)), event_id, subscriber, handled_at))


#: The inbox row of one handled event.
insert_inbox = PreparedInboxInsert()

#: An earlier publication ``o`` is open: the open indexes' condition (``open_condition``), so that
#: SQLite reads ``seams_pub_key_open`` and skips the test (the index holds only rows that pass it).
_O_OPEN = open_condition("o.status")
_TABLE = Publication._meta.db_table

#: The event's columns, written into each of its publications (prepared by their fields, once per event).
EVENT_FIELDS = ("event_id", "event_type", "version", "key", "payload", "headers", "publisher", "occurred_at")
_EVENT_PREP = PreparedInsert(Publication, EVENT_FIELDS)
_COLUMNS = (
    "position, " + ", ".join(f.column for f in _EVENT_PREP.fields) + ", subscriber, subscriber_module, status, attempts,"  # type: ignore[union-attr]
    " created_at, next_attempt_at, dispatched_at, claimed_by, lease_until, completed_at, last_error, last_traceback, holds_back"
)
_EVENT_MARKS = ", ".join(["%s"] * len(EVENT_FIELDS))

#: PostgreSQL: the positions' own sequence (migration 0004), one number per event.
POSITION_SEQUENCE = "seams_publication_position_seq"


def _position(vendor: str) -> tuple[str, str, str]:
    """How the single INSERT numbers its event: (``WITH`` clause, ``FROM`` item, the expression).

    Every publication of one event gets the same position, increasing from event to event and never
    reused while rows exist. PostgreSQL: one ``nextval`` of ``POSITION_SEQUENCE`` in a ``WITH``
    clause (evaluated once per statement). SQLite: the id its first publication gets, read from the
    table's ``AUTOINCREMENT`` counter (``sqlite_sequence``, which never goes down, also when rows are
    deleted) by an uncorrelated scalar subquery, evaluated once before any row is inserted; the
    write lock (``BEGIN IMMEDIATE``) is held, so nobody else can take that id meanwhile."""
    if vendor == "postgresql":
        return f"WITH n AS (SELECT nextval('{POSITION_SEQUENCE}') AS position) ", "n, ", "n.position"
    return "", "", f"(SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{_TABLE}'), 0) + 1)"


@lru_cache(maxsize=128)
def _insert_sql(vendor: str, subscribers: int, claimed: bool) -> str:
    """The publications' ``INSERT ... SELECT``: one row per subscriber (``subscribers`` 0: the one
    completed row that records an event nobody subscribes to), the event's columns in each, bound once."""
    head, source, position = _position(vendor)
    event = f"{position}, {_EVENT_MARKS}"
    if not subscribers:
        return (
            f"{head}INSERT INTO {_TABLE} ({_COLUMNS}) SELECT {event}, '{NO_SUBSCRIBER}', '',"
            f" '{PublicationStatus.COMPLETED.value}', 0, %s, %s, NULL, '', NULL, %s, '', '', %s FROM {source}(SELECT 1) v"
            " RETURNING id, subscriber, status, position"
        )
    rows = " UNION ALL ".join(["SELECT %s AS subscriber, %s AS module"] * subscribers)
    if not claimed:
        return (
            f"{head}INSERT INTO {_TABLE} ({_COLUMNS}) SELECT {event}, v.subscriber, v.module,"
            f" '{PublicationStatus.PENDING.value}', 0, %s, %s, NULL, '', NULL, NULL, '', '', %s"
            f" FROM {source}({rows}) v RETURNING id, subscriber, status, position"
        )
    # PostgreSQL pulls a plain subquery up into the statement that reads it, each reference to its
    # ``held`` column becoming a copy of the ``EXISTS``: four probes of ``seams_pub_key_open`` per row,
    # one per ``CASE``. ``OFFSET 0`` keeps the subquery whole, so the check runs once per row.
    fence = " OFFSET 0" if vendor == "postgresql" else ""
    return (
        f"{head}INSERT INTO {_TABLE} ({_COLUMNS}) SELECT {event}, s.subscriber, s.module,"
        f" CASE WHEN s.held THEN '{PublicationStatus.PENDING.value}' ELSE '{PublicationStatus.PROCESSING.value}' END,"
        " CASE WHEN s.held THEN 0 ELSE 1 END, %s, %s, NULL,"
        " CASE WHEN s.held THEN '' ELSE %s END, CASE WHEN s.held THEN NULL ELSE %s END, NULL, '', '', %s"
        f" FROM {source}(SELECT v.subscriber, v.module, EXISTS (SELECT 1 FROM {_TABLE} o WHERE o.subscriber = v.subscriber"
        f" AND o.key = %s AND {_O_OPEN}) AS held FROM ({rows}) v{fence}) s"
        " RETURNING id, subscriber, status, position"
    )


#: SQLite, one row: the open-publication-of-this-key check, its values named (subscriber, key), so
#: that each of its four uses below binds the same two values once.
_HELD = (
    f"EXISTS (SELECT 1 FROM {_TABLE} o WHERE o.subscriber = %(subscriber)s AND o.key = %(key)s AND {_O_OPEN})"
)
_EVENT_NAMES = ", ".join(f"%({name})s" for name in EVENT_FIELDS)


def _event_params_sqlite(connection: BaseDatabaseWrapper, event: tuple[object, ...]) -> dict[str, object]:
    """``EVENT_FIELDS`` to their values as ``_EVENT_PREP.params`` prepares them, on SQLite.

    For the types ``backend.publish`` gives (a ``uuid.UUID``, strings, an ``int``, ``JsonText``
    payload and headers, an aware datetime in UTC with the connection in UTC) the values are
    worked out here in one step, as each field's preparer answers them (``values``: the UUID's hex,
    the JSON's text, the datetime's text less its ``+00:00``); anything else goes through the
    preparers (``tests/unit/test_outbox_values.py`` checks both against ``get_db_prep_save``)."""
    event_id, event_type, version, key, payload, headers, publisher, occurred_at = event
    if (
        type(event_id) is _UUID and type(event_type) is str and type(version) is int and (key is None or type(key) is str)
        and type(payload) is JsonText and type(headers) is JsonText and type(publisher) is str
        and type(occurred_at) is datetime and occurred_at.tzinfo is UTC and connection.timezone is UTC
    ):  # fmt: skip
        return {
            "event_id": event_id.hex, "event_type": event_type, "version": version, "key": key, "payload": payload.text,
            "headers": headers.text, "publisher": publisher, "occurred_at": occurred_at.isoformat(" ")[:-6],
        }  # fmt: skip
    return dict(zip(EVENT_FIELDS, _EVENT_PREP.params(connection, event), strict=True))


#: The internal type of the ``version`` field, for the integer wrapper PostgreSQL's backend binds it as.
_VERSION_TYPE = _EVENT_PREP.fields[2].get_internal_type()  # type: ignore[union-attr]


def _event_params_pg(connection: BaseDatabaseWrapper, event: tuple[object, ...]) -> list[object]:
    """``_EVENT_PREP.params`` on PostgreSQL, in one step for the types ``backend.publish`` gives
    (as ``_event_params_sqlite``): the UUID and the aware datetime as they are, the version in the
    backend's integer wrapper, the JSON texts as psycopg ``Jsonb`` sent as they are; anything else
    through the preparers (``tests/unit/test_outbox_values.py`` checks both)."""
    event_id, event_type, version, key, payload, headers, publisher, occurred_at = event
    if (
        type(event_id) is _UUID and type(event_type) is str and type(version) is int and (key is None or type(key) is str)
        and type(payload) is JsonText and type(headers) is JsonText and type(publisher) is str
        and type(occurred_at) is datetime and occurred_at.tzinfo is UTC
    ):  # fmt: skip
        return [
            event_id, event_type, connection.ops.adapt_integerfield_value(version, _VERSION_TYPE), key,
            jsonb_text(payload.text), jsonb_text(headers.text), publisher, occurred_at,
        ]  # fmt: skip
    return _EVENT_PREP.params(connection, event)



@lru_cache(maxsize=8)
def _values_sql(subscribed: bool, claimed: bool) -> str:
    """SQLite, at most one subscriber: the publication as one ``INSERT ... VALUES`` row.

    Why not the ``INSERT ... SELECT`` of ``_insert_sql``: SQLite runs a SELECT that reads the table
    it inserts into (the held check does) as a co-routine copied into a temporary b-tree first, then
    inserts from the copy. One row needs no copy: the statement's four uncorrelated held checks each
    run once, through ``seams_pub_key_open``. Measured in-process, alternating
    (``bench/sqlite_publish.py``, a loaded machine): the statement ~108 -> ~101 µs, the whole
    publishing transaction 0.92-1.01x (median ~0.95x) of the ``INSERT ... SELECT`` one. The position
    is the same uncorrelated subquery of the ``AUTOINCREMENT`` counter, evaluated once, before the
    row is inserted; the parameters are named, so the held check's two values bind once."""
    _, _, position = _position("sqlite")
    head = f"INSERT INTO {_TABLE} ({_COLUMNS}) VALUES ({position}, {_EVENT_NAMES}"
    tail = ") RETURNING id, subscriber, status, position"
    if not subscribed:
        return (
            f"{head}, '{NO_SUBSCRIBER}', '', '{PublicationStatus.COMPLETED.value}', 0, %(now)s, %(now)s, NULL, '', NULL, %(now)s,"
            f" '', '', %(no)s{tail}"
        )
    if not claimed:
        return (
            f"{head}, %(subscriber)s, %(module)s, '{PublicationStatus.PENDING.value}', 0, %(now)s, %(now)s, NULL, '', NULL, NULL,"
            f" '', '', %(no)s{tail}"
        )
    return (
        f"{head}, %(subscriber)s, %(module)s, CASE WHEN {_HELD} THEN '{PublicationStatus.PENDING.value}'"
        f" ELSE '{PublicationStatus.PROCESSING.value}' END, CASE WHEN {_HELD} THEN 0 ELSE 1 END, %(now)s, %(now)s, NULL,"
        f" CASE WHEN {_HELD} THEN '' ELSE %(claimed_by)s END, CASE WHEN {_HELD} THEN NULL ELSE %(lease_until)s END, NULL,"
        f" '', '', %(no)s{tail}"
    )


#: SQLite, one subscriber, written claimed: the row as a claim leaves it, unless an earlier
#: publication of its key is still open for the subscriber. Then its ``claimed_by`` is NULL, which
#: the column refuses, and ``OR IGNORE`` skips the row: one held check, no ``RETURNING``.
_CLAIMED_OR_NOTHING = (
    f"INSERT OR IGNORE INTO {_TABLE} ({_COLUMNS}) VALUES ({_position('sqlite')[2]}, {_EVENT_NAMES}, %(subscriber)s,"
    f" %(module)s, '{PublicationStatus.PROCESSING.value}', 1, %(now)s, %(now)s, NULL,"
    f" CASE WHEN {_HELD} THEN NULL ELSE %(claimed_by)s END, %(lease_until)s, NULL, '', '', %(no)s)"
)


def _publish_one_sqlite(
    alias: str, event: tuple[object, ...], subscribers: list[tuple[str, str]], now: datetime, claimed_by: str,
    lease_until: datetime | None,
) -> list[tuple[int, str, str, int]]:
    """``publish_rows`` on SQLite for no subscriber or one: ``_values_sql``'s one row; written
    claimed, first ``_CLAIMED_OR_NOTHING``.

    Why: ``RETURNING`` makes SQLite buffer the rows it returns in a temporary b-tree, built anew by
    each statement, and ``_values_sql``'s claimed row evaluates its held check four times (once per
    column it decides); together about a third of SQLite's work on the row (callgrind,
    ``tests/unit/test_outbox_no_temp_btrees.py``). The claimed row's id is the cursor's
    ``lastrowid``, and its position is that id: the ``AUTOINCREMENT`` counter's next value, which is
    the id SQLite gives the row (``_position``). When it wrote nothing (held back behind an earlier
    publication of its key, or refused by a constraint), ``_values_sql``'s statement writes the row
    (pending, held back) or raises, as it did alone: one statement more, under the write lock that
    ``BEGIN IMMEDIATE`` took, so nothing changed in between."""
    connection = connections[alias]
    params = _event_params_sqlite(connection, event)
    params.update(now=datetime_value(now, connection), no=False)
    claimed = False
    if subscribers:
        (subscriber, module), = subscribers
        params.update(subscriber=subscriber, module=module)
        if claimed_by:
            claimed = True
            params.update(key=event[3], claimed_by=claimed_by, lease_until=datetime_value(lease_until, connection))
    with prepared.cursor(connection) as cursor:
        if claimed:
            cursor.execute(_CLAIMED_OR_NOTHING, params)
            if cursor.rowcount == 1:
                pk = cursor.lastrowid
                return [(pk, subscriber, PublicationStatus.PROCESSING.value, pk)]
        cursor.execute(_values_sql(bool(subscribers), claimed), params)
        return cursor.fetchall()


def publish_rows(
    alias: str,
    event: tuple[object, ...],
    *,
    subscribers: list[tuple[str, str]],
    now: datetime,
    claimed_by: str = "",
    lease_until: datetime | None = None,
) -> tuple[int, dict[str, tuple[int, bool]]]:
    """Publish one event: one statement writes a publication per (subscriber, module), the event's
    columns (``event``: the values of ``EVENT_FIELDS``) in each. Returns the event's position and
    ``{subscriber: (id, claimed)}``.

    With ``claimed_by`` (and ``lease_until``) each row is written already claimed by that worker
    (processing, attempt 1, leased), unless an earlier publication of the same key for the same
    subscriber is still open: that one is written pending, held back, as a claim would leave it.
    Without, every row is pending. With no subscriber, the one completed ``NO_SUBSCRIBER`` row.
    (On SQLite, one subscriber held back costs a second statement: ``_publish_one_sqlite``.)"""
    if connections[alias].vendor == "sqlite" and len(subscribers) <= 1:
        rows = _publish_one_sqlite(alias, event, subscribers, now, claimed_by, lease_until)
    else:
        rows = _publish_select(alias, event, subscribers, now, claimed_by, lease_until)
    return _written(rows)


def publish_rows_at_commit(
    alias: str,
    event: tuple[object, ...],
    *,
    subscribers: list[tuple[str, str]],
    now: datetime,
    claimed_by: str = "",
    lease_until: datetime | None = None,
) -> Callable[[], tuple[int, dict[str, tuple[int, bool]]]] | None:
    """``publish_rows`` queued to run with the transaction's ``COMMIT``, in its round trip
    (PostgreSQL, ``commit_psycopg``): a function that answers what ``publish_rows`` would, once the
    statement ran (call it after the commit). None where it cannot be queued: call ``publish_rows``."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return None
    queued = prepared.queue_with_commit(connection, *_publish_select_statement(connection, event, subscribers, now, claimed_by, lease_until))
    if queued is None:
        return None
    return lambda: _written(queued.result())


def _written(rows: list[tuple[int, str, str, int]]) -> tuple[int, dict[str, tuple[int, bool]]]:
    return rows[0][3], {sub: (pk, status == PublicationStatus.PROCESSING.value) for pk, sub, status, _ in rows}


def _publish_select(
    alias: str, event: tuple[object, ...], subscribers: list[tuple[str, str]], now: datetime, claimed_by: str,
    lease_until: datetime | None,
) -> list[tuple[int, str, str, int]]:
    """``publish_rows`` as ``_insert_sql``'s one ``INSERT ... SELECT`` (PostgreSQL; SQLite for several subscribers)."""
    connection = connections[alias]
    sql, params = _publish_select_statement(connection, event, subscribers, now, claimed_by, lease_until)
    with prepared.cursor(connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _publish_select_statement(
    connection: BaseDatabaseWrapper, event: tuple[object, ...], subscribers: list[tuple[str, str]], now: datetime,
    claimed_by: str, lease_until: datetime | None,
) -> tuple[str, list[object]]:
    stamp = datetime_value(now, connection)
    if connection.vendor == "postgresql":
        params = _event_params_pg(connection, event)
        params += [stamp, stamp]
    else:
        params = _EVENT_PREP.params(connection, event) + [stamp, stamp]
    if not subscribers:
        params += [stamp, False]
    elif claimed_by:
        params += [claimed_by, datetime_value(lease_until, connection), False, event[3]]
    else:
        params += [False]
    for subscriber, module in subscribers:
        params += [subscriber, module]
    return _insert_sql(connection.vendor, len(subscribers), bool(claimed_by) and bool(subscribers)), params


@lru_cache(maxsize=128)
def _complete_sql(count: int, compare: bool = False) -> str:
    marks = ", ".join(["%s"] * count)
    held = f" AND status = '{PublicationStatus.PROCESSING.value}' AND claimed_by = %s" if compare else ""
    return (
        f"UPDATE {_TABLE} SET status = '{PublicationStatus.COMPLETED.value}', completed_at = %s,"
        f" lease_until = NULL, last_error = '' WHERE id IN ({marks}){held} RETURNING id, holds_back"
    )


def complete_publications(alias: str, ids: list[int], now: datetime, claimed_by: str = "") -> list[int]:
    """Mark ``ids`` completed in one statement (with ``claimed_by``, only those it still holds);
    returns those a later event of their key waits for."""
    params = [datetime_value(now, connections[alias]), *ids] + ([claimed_by] if claimed_by else [])
    with prepared.cursor(alias, listed=len(ids)) as cursor:
        cursor.execute(_complete_sql(len(ids), bool(claimed_by)), params)
        return [pk for pk, holds_back in cursor.fetchall() if holds_back]


#: The handler's inbox has no row for the event: the guard of a completion that is itself the record
#: of the handled event (``complete_unhandled``), an index probe of the inbox's primary key.
UNHANDLED = f" AND NOT EXISTS (SELECT 1 FROM {InboxEntry._meta.db_table} WHERE event_subscriber = %s)"


@lru_cache(maxsize=64)
def _complete_claimed_sql(table: str, guard: str = "") -> str:
    return (
        f"UPDATE {table} SET status = '{PublicationStatus.COMPLETED.value}', completed_at = %s, lease_until = NULL,"
        f" last_error = '' WHERE id = %s AND status = '{PublicationStatus.PROCESSING.value}' AND claimed_by = %s{guard}"
        " RETURNING holds_back"
    )


class Handled(Exception):
    """The inbox already has the event: a path that writes the inbox row handled it (``complete_unhandled``)."""


@lru_cache(maxsize=64)
def _held_and_handled_sql(table: str) -> str:
    return (
        f"SELECT EXISTS (SELECT 1 FROM {InboxEntry._meta.db_table} WHERE event_subscriber = %s) FROM {table}"
        f" WHERE id = %s AND status = '{PublicationStatus.PROCESSING.value}' AND claimed_by = %s"
    )


def complete_unhandled(
    alias: str, event_id: object, subscriber: str, now: datetime, table: str, pk: int, claimed_by: str
) -> bool | None:
    """In the handler's transaction on ``alias``: mark publication ``pk`` of ``table`` completed if
    ``claimed_by`` still holds it and the inbox has no row for (``event_id``, ``subscriber``). Returns
    None if the claim no longer holds (the relay took it back, it is done), else whether a later
    event of its key waits for it; raises ``Handled`` (nothing written) when the inbox has the row.

    The completed publication, committed with the handler's writes, *is* the record that the
    handler ran: no inbox row is written (one statement, on SQLite and PostgreSQL). The guard
    refuses an event that a path writing the inbox row handled and did not complete in its own
    transaction (completion ``delete``/``archive``, another SQLite file, a forward, older code) and
    that was claimed again after a crash. Only when the ``UPDATE`` matched nothing, a second
    statement says which of the two it was."""
    connection = connections[alias]
    key = inbox_key(event_id, subscriber)
    sql, params = _complete_claimed_sql(table, UNHANDLED), [datetime_value(now, connection), pk, claimed_by, key]
    # The handler's transaction starts here: on PostgreSQL its BEGIN goes with this statement.
    rows = prepared.begin_and_execute(connection, sql, params) if connection.vendor == "postgresql" else None
    with prepared.cursor(connection) as cursor:
        if rows is None:
            cursor.execute(sql, params)
            row = cursor.fetchone()
            if row is not None:
                return bool(row[0])
        elif rows:
            return bool(rows[0][0])
        cursor.execute(_held_and_handled_sql(table), [key, pk, claimed_by])
        held = cursor.fetchone()
    if held is not None and held[0]:
        raise Handled
    return None


@lru_cache(maxsize=256)
def reachable_table(publisher: str, subscriber: str) -> str | None:
    """How the subscriber's connection names the publisher's publication table, if it can write
    it in its own transaction: the same alias, or two PostgreSQL aliases on the same database
    (module schemas: the table qualified by the publisher's schema). None across SQLite files or
    servers."""
    from ..databases import schema_of

    if publisher == subscriber:
        return _TABLE
    one, other = connections[publisher], connections[subscriber]
    if one.vendor != "postgresql" or other.vendor != "postgresql":
        return None
    where = ("HOST", "PORT", "NAME", "USER")
    if any(one.settings_dict.get(k) != other.settings_dict.get(k) for k in where):
        return None
    schema = schema_of(one.settings_dict)
    return f'{one.ops.quote_name(schema)}.{_TABLE}' if schema else None
