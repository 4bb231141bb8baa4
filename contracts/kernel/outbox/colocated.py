"""A dispatched publication taken, read and completed inside its handler's transaction.

Why: a Celery message for a publication the publisher wrote already claimed used to cost the
worker a SELECT of the publication (autocommit, on the publisher's connection) and then, in the
handler's transaction, the inbox row with the completion. When the handler's connection can write
the publisher's publication table (``statements.reachable_table``: the same alias, or module schemas
of one PostgreSQL database), the read is folded into that transaction: the compare-and-set
completion ``UPDATE ... RETURNING`` hands back the publication, its event in it, and, committed
with the handler's writes, is the record that the handler ran (no inbox row: the ``UPDATE``
refuses an event the inbox already has, ``NOT EXISTS``, as ``statements.complete_unhandled``). One
statement on either database, so a task costs BEGIN, that statement, the handler's own statements
and COMMIT: as many round trips as a hand-written task plus one.

The message says which module's handler it is for (the fourth task argument): the worker must know
the handler's database before it opens the transaction that reads the publication.

Every guarantee is the claim path's: the ``UPDATE`` matches only while the message's claim still
holds the row (``status = processing AND claimed_by = <claim>``) and locks it until the handler's
transaction ends, so the relay cannot take it back meanwhile; a failing handler rolls the
completion and its own writes back together and is recorded as a failure (retry,
then dead letter) as on any path. Anything off the happy path — the claim no longer holds (the
relay took the row back, it is done), the inbox already has the event (handled by a path that writes it), the
payload no longer validates, the row is not the named module's, the module is served elsewhere —
rolls back before the handler ran and goes through ``processing.process_dispatched``, which decides
it as before.
"""

from __future__ import annotations

import traceback
from functools import lru_cache
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from ..bus import call_handler
from ..errors import Undeliverable
from ..models import InboxEntry, Publication, PublicationStatus
from ..modules import get_module
from ..registry import Subscriber
from ..remote import is_remote
from ..telemetry.events import handling, record_error
from . import prepared
from .claiming import _claim_read_statement
from .config import outbox_settings
from .processing import _bury, _dispatch_next_of_key, _failed, _materialize, process_dispatched
from .statements import reachable_table


class _Elsewhere(Exception):
    """Not for the one-transaction path (see the module docstring): roll back, take the usual one."""


def deliver_dispatched(alias: str, pk: int, claimed_by: str, module: str) -> str:
    """Run publication ``pk`` of ``alias``, sent already claimed by ``claimed_by`` to a handler of
    ``module``; returns the outcome, as ``process_dispatched`` does."""
    handler_alias = None
    if outbox_settings().completion == "keep" and not is_remote(module):
        handler_alias = get_module(module).database_alias
    table = None if handler_alias is None else reachable_table(alias, handler_alias)
    if handler_alias is None or table is None:
        return process_dispatched(alias, [pk], claimed_by)[0]
    run = _Run(alias, module)
    try:
        outcome = _deliver(run, handler_alias, table, pk, claimed_by)
    except BaseException as exc:
        run.close(type(exc), exc, exc.__traceback__)
        raise
    run.close(None, None, None)
    return outcome


def _deliver(run: _Run, handler_alias: str, table: str, pk: int, claimed_by: str) -> str:
    alias = run.alias
    try:
        with transaction.atomic(using=handler_alias):
            run.take(handler_alias, table, pk, claimed_by)
            run.handle()
    except _Elsewhere:  # rolled back before anything ran
        return process_dispatched(alias, [pk], claimed_by)[0]
    except Exception as exc:  # the handler (or its commit) failed: everything rolled back
        publication = run.publication
        if publication is None:  # the statement itself failed: nothing ran, the lease decides
            raise
        if isinstance(exc, Undeliverable):  # the handler's verdict: retrying cannot help
            record_error(exc)
            _bury(alias, publication, str(exc), "".join(traceback.format_exception(exc)))
            return run.end("dead")
        return run.end(_failed(alias, publication, exc))
    publication = run.publication
    assert publication is not None
    if publication.holds_back:  # a later event of its key waits for this one
        _dispatch_next_of_key(alias, publication)
    return run.end("completed")


class _Run:
    """One publication on the one-transaction path: what was read, and the handler's span."""

    def __init__(self, alias: str, module: str) -> None:
        self.alias, self.module = alias, module
        self.publication: Publication | None = None
        self._span: Any = None
        self._done: Any = None

    def take(self, handler_alias: str, table: str, pk: int, claimed_by: str) -> None:
        """Complete and read (one statement, the record that the handler ran); ``_Elsewhere``
        when the publication is not for this path."""
        row = complete_read(handler_alias, table, pk, claimed_by)
        if row is None:  # the claim no longer holds, or the inbox has it: decided by the usual path
            raise _Elsewhere
        publication = _claim_read_statement(connections[self.alias].vendor).publication(self.alias, row, claimed_by)
        if publication.subscriber_module != self.module:
            raise _Elsewhere
        try:
            self.item = _materialize(publication)
        except Undeliverable:  # buried by the usual path, with its observation
            raise _Elsewhere from None
        if not isinstance(self.item.subscriber, Subscriber):
            raise _Elsewhere
        self.publication = publication

    def handle(self) -> None:
        """The handler, in the transaction that completed its publication, in its span."""
        p = self.publication
        assert p is not None
        self._span = handling(p.headers, p.event_type, p.subscriber, p.subscriber_module, p.event_id, p.attempts)
        self._done = self._span.__enter__()
        call_handler(self.item.subscriber, self.item.envelope)  # type: ignore[arg-type]
        p.status = PublicationStatus.COMPLETED  # committed with the handler's writes

    def end(self, outcome: str) -> str:
        if self._done is not None:
            self._done(outcome)
        return outcome

    def close(self, *exc_info: Any) -> None:
        if self._span is not None:
            span, self._span = self._span, None
            span.__exit__(*exc_info)


# --- the statement -------------------------------------------------------------------------------
def complete_read(alias: str, table: str, pk: int, claimed_by: str) -> tuple[Any, ...] | None:
    """On ``alias``'s connection, inside its transaction: mark publication ``pk`` of ``table``
    completed if ``claimed_by`` still holds it and the inbox has no row for its (event, subscriber),
    returning its row (the columns of ``claiming.ClaimRead``); None (and nothing written) otherwise.
    One statement on either database: the completed publication is the record that its handler ran
    (no inbox row, as ``statements.complete_unhandled``)."""
    connection = connections[alias]
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    sql, params = _complete_read_sql(table, connection.vendor), [stamp, pk, claimed_by]
    if connection.vendor == "postgresql":  # the handler's transaction starts here: its BEGIN goes with this statement
        rows = prepared.begin_and_execute(connection, sql, params)
        if rows is not None:
            return rows[0] if rows else None
    with prepared.cursor(alias) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()  # type: ignore[no-any-return]


@lru_cache(maxsize=64)
def _complete_read_sql(table: str, vendor: str) -> str:
    columns = ", ".join(f.column for f in _claim_read_statement("").publication_fields)
    # models.inbox_key of the row's own columns (the event id's hex digits, ':', the subscriber); the
    # row is named by its table's own name, also when ``table`` is qualified by a schema.
    own = Publication._meta.db_table
    if vendor == "postgresql":
        key = f"replace({own}.event_id::text, '-', '') || ':' || {own}.subscriber"
    else:  # SQLite keeps a UUID as its 32 hex digits
        key = f"{own}.event_id || ':' || {own}.subscriber"
    return (
        f"UPDATE {table} SET status = '{PublicationStatus.COMPLETED.value}', completed_at = %s, lease_until = NULL,"
        f" last_error = '' WHERE id = %s AND status = '{PublicationStatus.PROCESSING.value}' AND claimed_by = %s"
        f" AND NOT EXISTS (SELECT 1 FROM {InboxEntry._meta.db_table} WHERE event_subscriber = {key}) RETURNING {columns}"
    )
