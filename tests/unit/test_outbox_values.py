"""The outbox's values take a shorter way to the database than Django's generic field path
(``contracts.kernel.outbox.values``), and arrive as that path would have sent them: each preparer
answers what ``field.get_db_prep_save`` answers, on the database at hand (SQLite, or PostgreSQL
with ``DATABASE_URL``), for the values the outbox writes and for those it hands back to the field."""

from __future__ import annotations

import datetime
import json
import uuid
import zoneinfo
from typing import Any

import pytest
from django.db import connections
from django.test import override_settings
from django.utils import timezone
from django.utils.functional import lazystr

from contracts.kernel.models import InboxEntry, Publication, inbox_key
from contracts.kernel.outbox import values
from contracts.kernel.outbox.statements import EVENT_FIELDS, insert_inbox

ALIAS = "orders"

pytestmark = pytest.mark.django_db(databases=[ALIAS])

AWARE = datetime.datetime(2026, 12, 1, 22, 30, 5, 123456, tzinfo=datetime.UTC)
ELSEWHERE = AWARE.astimezone(zoneinfo.ZoneInfo("Asia/Kolkata"))  # the same instant, another offset

#: Per field of the outbox's fixed INSERTs: the values it is given, and others it may meet.
CASES: dict[str, list[Any]] = {
    "event_id": [uuid.UUID("0190f1e2-3c4d-7e5f-8a9b-0c1d2e3f4a5b"), uuid.uuid4(), None, "0190f1e2-3c4d-7e5f-8a9b-0c1d2e3f4a5b"],
    "event_type": ["orders.OrderPlaced", "", lazystr("orders.Lazy")],
    "version": [1, 2, True, "3"],
    "key": ["42", None, lazystr("7")],
    "payload": [{"order_id": 5, "note": "é", "nested": {"a": [1, 2.5, None]}}, [], {}, "text", None],
    "headers": [{"publisher": "orders"}, {"traceparent": "00-abc-def-01", "publisher": "orders"}, {}],
    "publisher": ["orders"],
    "occurred_at": [AWARE, ELSEWHERE, timezone.now(), None],
    "subscriber": ["notifications.email_order_cancellation"],
    "event_subscriber": ["0190f1e23c4d7e5f8a9b0c1d2e3f4a5b:notifications.email_order_cancellation"],
    "handled_at": [AWARE, ELSEWHERE, None],
}


def fields() -> list[Any]:
    found = [Publication._meta.get_field(name) for name in EVENT_FIELDS]
    return found + [InboxEntry._meta.get_field(name) for name in ("event_subscriber", "subscriber", "handled_at")]


@pytest.mark.parametrize("field", fields(), ids=lambda f: f"{f.model.__name__}.{f.name}")
def test_each_preparer_answers_what_the_field_answers(field: Any) -> None:
    connection = connections[ALIAS]
    prepare = values.preparer(field)
    for value in CASES[field.name]:
        ours, django = prepare(value, connection), field.get_db_prep_save(value, connection)
        assert type(ours) is type(django), (field.name, value)
        assert _comparable(ours) == _comparable(django), (field.name, value)


def _comparable(value: Any) -> Any:
    """psycopg's Jsonb wrapper compares by identity: its object and its dumps."""
    obj = getattr(value, "obj", None)
    return ("jsonb", obj, getattr(value, "dumps", None)) if obj is not None or type(value).__name__ == "Jsonb" else value


@pytest.mark.parametrize("zone", [None, "Asia/Kolkata"], ids=["UTC", "another zone"])
def test_a_datetime_is_written_in_the_connections_time_zone_as_the_backend_writes_it(zone: str | None) -> None:
    connection = connections[ALIAS]
    saved = connection.settings_dict["TIME_ZONE"]
    connection.settings_dict["TIME_ZONE"] = zone
    connection.__dict__.pop("timezone", None)
    try:
        for value in (AWARE, ELSEWHERE, AWARE.replace(microsecond=0), timezone.now()):
            assert values.datetime_value(value, connection) == connection.ops.adapt_datetimefield_value(value)
    finally:
        connection.settings_dict["TIME_ZONE"] = saved
        connection.__dict__.pop("timezone", None)


@override_settings(USE_TZ=False)
def test_without_time_zones_a_naive_datetime_is_the_backends_and_an_aware_one_is_refused_as_it_refuses_it() -> None:
    connection = connections[ALIAS]
    naive = datetime.datetime(2026, 12, 1, 22, 30, 5)
    assert values.datetime_value(naive, connection) == connection.ops.adapt_datetimefield_value(naive)
    if connection.vendor == "sqlite":
        with pytest.raises(ValueError, match="does not support timezone-aware"):
            values.datetime_value(AWARE, connection)


def test_the_inbox_insert_sends_what_the_fields_would() -> None:
    connection = connections[ALIAS]
    event_id = uuid.uuid4()
    row = (inbox_key(event_id, "s"), event_id, "s", AWARE)  # the key first (migration 0007)
    expected = [f.get_db_prep_save(v, connection) for f, v in zip(insert_inbox.fields, row, strict=True)]
    assert insert_inbox.params(connection, (event_id, "s", AWARE)) == expected


def test_a_field_the_outbox_does_not_know_keeps_its_own_path() -> None:
    field = Publication._meta.get_field("holds_back")  # a BooleanField: no short way
    assert values.preparer(field) == field.get_db_prep_save


@pytest.mark.parametrize(
    "event",
    [
        (uuid.uuid4(), "orders.OrderPlaced", 1, "42", values.JsonText('{"order_id":42}'), values.JsonText("{}"), "orders", AWARE),
        (uuid.uuid4(), "orders.OrderPlaced", 2, None, values.JsonText("[]"), values.JsonText('{"a":1}'), "orders", timezone.now()),
        (uuid.uuid4(), "orders.OrderPlaced", 1, "7", values.JsonText("{}"), values.JsonText("{}"), "orders", AWARE.replace(microsecond=0)),
        # Not the usual types: through the preparers.
        (uuid.uuid4(), lazystr("orders.Lazy"), 1, lazystr("7"), {"a": 1}, {}, "orders", ELSEWHERE),
        ("0190f1e2-3c4d-7e5f-8a9b-0c1d2e3f4a5b", "orders.X", True, "7", values.JsonText("{}"), {}, "orders", AWARE),
    ],
)
def test_sqlite_event_and_inbox_values_in_one_step_are_the_fields_own(event: tuple[Any, ...]) -> None:
    """``statements._event_params_sqlite`` and the inbox row's ``params`` on SQLite answer, for
    the types the backend gives and for any other, what each field's ``get_db_prep_save`` answers."""
    from contracts.kernel.outbox.statements import _event_params_sqlite

    connection = connections[ALIAS]
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's one-step values")
    expected = {}
    for name, value in zip(EVENT_FIELDS, event, strict=True):
        if type(value) is values.JsonText:
            value = json.loads(value.text)
        expected[name] = Publication._meta.get_field(name).get_db_prep_save(value, connection)
    got = _event_params_sqlite(connection, event)
    for name in ("payload", "headers"):  # the same JSON value (JsonText's separators may differ)
        assert json.loads(got.pop(name)) == json.loads(expected.pop(name))
    assert got == expected
    event_id, handled_at = event[0], event[7]
    fields = [InboxEntry._meta.get_field(name) for name in ("event_subscriber", "event_id", "subscriber", "handled_at")]
    row = (inbox_key(event_id, "x.y"), event_id, "x.y", handled_at)
    assert insert_inbox.params(connection, (event_id, "x.y", handled_at)) == [
        field.get_db_prep_save(value, connection) for field, value in zip(fields, row, strict=True)
    ]


@pytest.mark.parametrize(
    "event",
    [
        (uuid.uuid4(), "orders.OrderPlaced", 1, "42", values.JsonText('{"order_id":42}'), values.JsonText("{}"), "orders", AWARE),
        (uuid.uuid4(), "orders.OrderPlaced", 2, None, values.JsonText("[]"), values.JsonText('{"a":1}'), "orders", timezone.now()),
        # Not the usual types: through the preparers.
        (uuid.uuid4(), lazystr("orders.Lazy"), 1, lazystr("7"), {"a": 1}, {}, "orders", ELSEWHERE),
        ("0190f1e2-3c4d-7e5f-8a9b-0c1d2e3f4a5b", "orders.X", True, "7", values.JsonText("{}"), {}, "orders", AWARE),
    ],
)
def test_postgresql_event_values_in_one_step_are_the_fields_own(event: tuple[Any, ...]) -> None:
    """``statements._event_params_pg`` answers, for the types the backend gives and for any other,
    what each field's ``get_db_prep_save`` answers (the same types; JSON: the same value)."""
    from contracts.kernel.outbox.statements import _event_params_pg

    connection = connections[ALIAS]
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's one-step values; run with DATABASE_URL=postgres://...")
    got = _event_params_pg(connection, event)
    for name, value, ours in zip(EVENT_FIELDS, event, got, strict=True):
        if type(value) is values.JsonText:
            value = json.loads(value.text)
            assert type(ours).__name__ == "Jsonb" and json.loads(ours.dumps(ours.obj)) == value, name
            continue
        django = Publication._meta.get_field(name).get_db_prep_save(value, connection)
        assert type(ours) is type(django) and _comparable(ours) == _comparable(django), (name, value)
