"""The outbox's values prepared for its fixed statements as their fields prepare them, by the shortest way.

Why: a field prepares a value through ``get_db_prep_save`` -> ``get_db_prep_value`` ->
``get_prep_value`` -> ``to_python`` and the backend's ``adapt_*``, each step re-checking what the
value might be (a lazy string, an expression, a naive datetime...). For the twelve values one event
writes (its publication's event columns, its inbox row) that generic path was ~900 Python
bytecodes per event, about a sixth of what the outbox adds to a hand-written event's Python.

The outbox's own values have known types (a ``str``, an ``int``, a ``uuid.UUID``, a ``dict``, an
aware ``datetime``): for exactly those, each preparer here answers what the field's own path
answers, in one step, and hands anything else (``None`` included for the fields it does not know,
a subclass, a lazy string, a naive datetime) to ``get_db_prep_save``. Only Django's own field
classes get a short way; any other field goes through ``get_db_prep_save`` as before.
``tests/unit/test_outbox_values.py`` checks each against ``get_db_prep_save`` on the database at
hand.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

__all__ = ["JsonText", "Preparer", "datetime_value", "jsonb_text", "preparer"]

#: ``preparer(value, connection)``: the value as ``field.get_db_prep_save(value, connection)`` answers it.
Preparer = Callable[[Any, BaseDatabaseWrapper], Any]

_STRINGS = (models.CharField, models.TextField)
_INTEGERS = (models.IntegerField, models.PositiveIntegerField, models.BigIntegerField, models.SmallIntegerField)


class JsonText:
    """A JSON value serialised already: what its ``JSONField``'s preparer sends, as the text the
    field's ``json.dumps`` would have made of the value (``backend.publish`` has pydantic-core write
    the event's payload straight to JSON in Rust, instead of ``model_dump(mode="json")`` then
    ``json.dumps``: ~220 Python bytecodes an event). The text may differ from ``json.dumps``'s in
    separators only: what the field reads back is the same value, keys in the same order."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def jsonb_text(text: str) -> Any:
    """The text as the psycopg ``Jsonb`` that Django's ``adapt_json_value`` makes of a value, the
    text sent as it is (imported on first use: with SQLite alone psycopg may not be installed)."""
    global _Jsonb
    if _Jsonb is None:
        from django.db.backends.postgresql.psycopg_any import Jsonb

        _Jsonb = Jsonb
    return _Jsonb(text, dumps=str)


_Jsonb: Any = None


def datetime_value(value: Any, connection: BaseDatabaseWrapper) -> Any:
    """``connection.ops.adapt_datetimefield_value(value)`` (what a ``DateTimeField`` writes): on
    SQLite an aware datetime is written as its naive text in the connection's time zone
    (``str(timezone.make_naive(value, connection.timezone))``, which is its ``isoformat(" ")``), on
    PostgreSQL as itself. The
    connection's ``timezone`` is None unless ``USE_TZ`` (Django forgets it when that setting
    changes): without time zones SQLite's own adaptation refuses an aware datetime."""
    if type(value) is _DATETIME and value.tzinfo is _UTC:
        # The usual case (timezone.now() in UTC): on PostgreSQL itself; on SQLite in UTC its text
        # less its "+00:00", nothing to convert. isoformat(" ") is what str() answers (the
        # datetime's __str__ calls it by name: half as fast).
        vendor = connection.vendor
        if vendor == "postgresql":
            return value
        if vendor == "sqlite" and connection.timezone is _UTC:
            return value.isoformat(" ")[:-6]
    if type(value) is _DATETIME and value.utcoffset() is not None:
        vendor = connection.vendor
        if vendor == "postgresql":
            return value
        if vendor == "sqlite":
            zone = connection.timezone
            if zone is datetime.UTC:  # the text of the UTC time less its "+00:00": replace() costs more than the rest
                return value.astimezone(zone).isoformat(" ")[:-6]
            if zone is not None:
                return str(value.astimezone(zone).replace(tzinfo=None))
    return connection.ops.adapt_datetimefield_value(value)


_DATETIME, _UTC = datetime.datetime, datetime.UTC


def preparer(field: models.Field[Any, Any]) -> Preparer:
    """How ``field`` prepares the outbox's values, by the shortest way for the types it is given."""
    slow = field.get_db_prep_save
    kind = type(field)
    if kind in _STRINGS:

        def string(value: Any, connection: BaseDatabaseWrapper) -> Any:
            return value if value is None or type(value) is str else slow(value, connection)

        return string
    if kind in _INTEGERS:
        internal = field.get_internal_type()

        def integer(value: Any, connection: BaseDatabaseWrapper) -> Any:
            if type(value) is int:
                return value if connection.vendor == "sqlite" else connection.ops.adapt_integerfield_value(value, internal)
            return slow(value, connection)

        return integer
    if kind is models.UUIDField:

        def uuid_value(value: Any, connection: BaseDatabaseWrapper) -> Any:
            if type(value) is uuid.UUID:
                return value if connection.features.has_native_uuid_field else value.hex
            return slow(value, connection)

        return uuid_value
    if kind is models.JSONField:
        encoder = field.encoder  # type: ignore[attr-defined]

        def json_value(value: Any, connection: BaseDatabaseWrapper) -> Any:
            if type(value) is JsonText:
                vendor = connection.vendor
                if vendor == "sqlite":  # a JSONField is text on SQLite: adapt_json_value sends json.dumps's text
                    return value.text
                if vendor == "postgresql":
                    return jsonb_text(value.text)
                value = json.loads(value.text)
            if type(value) is dict or type(value) is list:
                return connection.ops.adapt_json_value(value, encoder)
            return slow(value, connection)

        return json_value
    if kind is models.DateTimeField:

        def moment(value: Any, connection: BaseDatabaseWrapper) -> Any:
            if type(value) is _DATETIME and (value.tzinfo is _UTC or value.utcoffset() is not None):
                return datetime_value(value, connection)
            return slow(value, connection)

        return moment
    return slow
