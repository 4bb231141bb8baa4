"""The event publication registry (outbox) and the inbox.

These tables live in *every module's own database*: a module's outbox rows are written in the
same transaction as its business change, and a subscriber's inbox rows in the same transaction as
its handler's writes. Always query them with ``.using(alias)``; the router gives them no default.

* ``Publication`` — one row per (event, subscriber), the serialized event in it (as Spring
  Modulith's ``event_publication``): the unit of delivery, retry and dead-lettering. Publishing is
  one INSERT, whatever the number of subscribers. An event nobody subscribes to is recorded by one
  row with subscriber ``NO_SUBSCRIBER``, completed at once (``manage.py events list`` names them).
* ``InboxEntry`` — in the subscriber's database: "this handler already handled this event".
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL


class PublicationStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSING = "processing"
    FAILED = "failed"  # failed at least once; retried at next_attempt_at
    COMPLETED = "completed"
    DEAD = "dead"  # out of attempts, or can never succeed (schema drift, unknown type)


#: Statuses of a publication that still has to run; they also hold back later events of its key.
OPEN_STATUSES = (PublicationStatus.PENDING, PublicationStatus.PROCESSING, PublicationStatus.FAILED)


def open_condition(column: str = '"status"') -> str:
    """The open partial indexes' condition as SQL over ``column``: ``status = 'pending' OR status =
    'processing' OR status = 'failed'``, each status an equality, in ``OPEN_STATUSES``' order (as the
    indexes' ``OPEN`` condition is written, migration 0008).

    Why equalities and not ``status IN (...)``: SQLite evaluates a partial index's condition for
    every row a statement writes, and a list of three or more constants through a temporary b-tree
    of its values, built anew by every statement (two per publish, four per completion batch:
    ``tests/unit/test_outbox_no_temp_btrees.py``); equalities joined by ``OR`` are compared in place.
    A reader that wants SQLite to use those indexes repeats this text in its ``WHERE`` (SQLite uses a
    partial index only for a query that repeats a term of its condition; PostgreSQL proves either)."""
    return "(" + " OR ".join(f"{column} = '{status.value}'" for status in OPEN_STATUSES) + ")"


def open_rows() -> RawSQL:
    """The open partial indexes' condition (``open_condition``) for a query filter: the planner then
    reads only open rows, through ``seams_pub_due`` or ``seams_pub_key_open``, however many finished
    ones the table keeps.

    Why not ``status__in=OPEN_STATUSES``: Django sends those statuses as bound values, and SQLite
    uses a partial index only when the query's WHERE repeats a term of its condition, which a list
    of bound values never does (PostgreSQL proves either). For an unaliased query of this table."""
    return RawSQL(open_condition(), [], output_field=BooleanField())


#: The open partial indexes' condition (``open_condition``'s ``OR`` of equalities, not an ``IN``).
OPEN = Q(status=PublicationStatus.PENDING.value) | Q(status=PublicationStatus.PROCESSING.value) | Q(status=PublicationStatus.FAILED.value)


#: The subscriber of the row recording an event that has none (never delivered, never listed as a publication).
NO_SUBSCRIBER = ""


class Publication(models.Model):
    id = models.BigAutoField(primary_key=True)
    # --- the event, copied into each of its publications (one INSERT publishes it) ---------------
    #: The event's sequence number, shared by all its publications: increasing, never reused while
    #: rows exist (``outbox.statements``: a sequence on PostgreSQL, the first publication's id on
    #: SQLite). Ordering compares it within one key and subscriber.
    position = models.BigIntegerField()
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=200)
    #: ``version`` and ``attempts``: positive for Django's validation; on PostgreSQL without the
    #: database's ``CHECK`` (migration 0009: it was parsed and compiled on every publish and completion).
    version = models.PositiveIntegerField(default=1)
    key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001  NULL: no ordering key
    payload = models.JSONField()
    headers = models.JSONField(default=dict)
    publisher = models.CharField(max_length=100)
    occurred_at = models.DateTimeField()
    # --- its delivery to one subscriber ----------------------------------------------------------
    #: ``NO_SUBSCRIBER`` ('') for the one row that records an event nobody subscribes to.
    subscriber = models.CharField(max_length=300)
    subscriber_module = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=PublicationStatus.choices, default=PublicationStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_traceback = models.TextField(blank=True, default="")
    #: A later publication of the same key and subscriber waits for this one: when this one is done
    #: (completed or dead) the next of its key is dispatched. Set only when that happens, so that
    #: the completion of an event whose key has nothing queued behind it costs no extra query.
    holds_back = models.BooleanField(default=False)

    class Meta:
        db_table = "seams_publication"
        # No index on ``event_id`` (``seams_publication_once`` until migration 0006): no reader of the
        # kernel looks a publication up by its event id, and the only writer, ``publish``, takes a
        # new id per event and one row per distinct subscriber; a second delivery of one event to
        # one subscriber is refused by the inbox (its primary key) whatever this table holds.
        # It cost each event 1.4-1.6 WAL pages on SQLite (``docs/events.md``, pages per event).
        # On PostgreSQL the three conditions are ``IN`` lists in the database (migration 0010: cheaper to
        # compile on every write there); SQLite keeps these equalities.
        indexes = [
            # Claiming and the relay look only at open rows: a partial index keeps that cost flat
            # however many completed rows are kept. Its condition is three equalities, not an IN
            # (``open_condition``: no temporary b-tree per written row on SQLite).
            models.Index(
                fields=["next_attempt_at", "position"],
                name="seams_pub_due",
                condition=OPEN,
            ),
            # "Is an earlier event of this key still open for this subscriber?" (ordering).
            models.Index(
                fields=["subscriber", "key", "position"],
                name="seams_pub_key_open",
                condition=OPEN,
            ),
            # Purging and listing finished rows (``events purge``, dead letters, ``events list --status``).
            # Only finished rows enter it: a publication is written open (pending or processing) and
            # costs no entry here until it completes or dies, one b-tree write instead of three. The
            # condition is two equalities, not an IN: SQLite uses a partial index only for a query
            # whose WHERE repeats a term of it, and ``status = %s`` (a bound value) matches
            # ``status = 'completed'``, where it never matches a literal IN list.
            models.Index(
                fields=["status", "completed_at"],
                name="seams_pub_finished",
                condition=Q(status="completed") | Q(status="dead"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.subscriber} ({self.status})"


def inbox_key(event_id: object, subscriber: str) -> str:
    """An inbox row's primary key: the event id's 32 hex digits, ``:``, the subscriber (fixed-width
    id first, so two different pairs never make the same key)."""
    hex_id = event_id.hex if isinstance(event_id, uuid.UUID) else uuid.UUID(str(event_id)).hex
    return f"{hex_id}:{subscriber}"


class InboxEntry(models.Model):
    """One handled (event, subscriber): its primary key refuses the second.

    One b-tree per row since migration 0007: the primary key *is* (event id, subscriber), as
    ``inbox_key`` spells it (one column, because Django's admin refuses a composite primary key, and
    the console lists the inbox there), and on SQLite the table is ``WITHOUT ROWID``, so the row
    lives in its key's b-tree. Before, a rowid table plus a unique index on (event_id, subscriber):
    two b-trees written per handled event (2.6 WAL pages on SQLite, ``docs/events.md``). The event
    id and subscriber stay columns of their own for readers (the admin, ``filter(event_id=...)``).
    A migration that made Django rebuild this table on SQLite would drop ``WITHOUT ROWID`` (it
    rebuilds from the model): ``test_inbox_one_btree.py`` fails then."""

    event_subscriber = models.CharField(max_length=333, primary_key=True)
    event_id = models.UUIDField()
    subscriber = models.CharField(max_length=300)
    handled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "seams_inbox"

    def __str__(self) -> str:
        return f"{self.subscriber} handled {self.event_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """An entry made through the ORM (``objects.create(event_id=..., subscriber=...)``) gets its
        key from its two columns, as the kernel's own ``INSERT`` gives it: without, its key would be
        '' and it would refuse nothing."""
        if not self.event_subscriber:
            self.event_subscriber = inbox_key(self.event_id, self.subscriber)
        super().save(*args, **kwargs)


class ArchivedPublication(models.Model):
    """A completed publication moved out of the hot table (``SEAMS_EVENTS['COMPLETION'] = 'archive'``)."""

    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=200)
    key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001  NULL: no ordering key
    payload = models.JSONField()
    headers = models.JSONField(default=dict)
    subscriber = models.CharField(max_length=300)
    attempts = models.PositiveIntegerField()
    occurred_at = models.DateTimeField()
    completed_at = models.DateTimeField()

    class Meta:
        db_table = "seams_publication_archive"
        indexes = [models.Index(fields=["completed_at"], name="seams_archive_completed")]

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.subscriber} (archived)"

    @classmethod
    def archive(cls, alias: str, publication: Publication, completed_at: object) -> ArchivedPublication:
        return cls.objects.using(alias).create(
            event_id=publication.event_id,
            event_type=publication.event_type,
            key=publication.key,
            payload=publication.payload,
            headers=publication.headers,
            subscriber=publication.subscriber,
            attempts=publication.attempts,
            occurred_at=publication.occurred_at,
            completed_at=completed_at,
        )
