"""The event's payload reaches the outbox's INSERT as JSON text written by pydantic-core
(``backend._payload``, ``values.JsonText``) instead of ``model_dump(mode="json")`` then
``json.dumps``: what Django's JSONField reads back is what the old way stored (key order, unicode,
datetimes, decimals, nesting), on the database at hand, and the publication built in memory for the
fast path holds that same value."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from typing import Any, cast

import pydantic
import pytest
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.utils import timezone

from contracts.kernel.events import Event
from contracts.kernel.models import Publication
from contracts.kernel.outbox import values
from contracts.kernel.outbox.backend import _payload
from contracts.kernel.outbox.statements import publish_rows

ALIAS = "orders"

pytestmark = pytest.mark.django_db(databases=[ALIAS])


class Line(pydantic.BaseModel):
    sku: str
    price: decimal.Decimal


class Sample(pydantic.BaseModel):
    """Not an ``Event`` (declaring one registers it): ``_payload`` needs only its serialiser."""

    zeta: int
    alpha: str
    when: datetime.datetime
    amount: decimal.Decimal
    ratio: float
    lines: list[Line]
    tags: dict[str, int]
    maybe: str | None = "set"


def sample(**changes: Any) -> Event:
    fields: dict[str, Any] = {
        "zeta": 2**62,
        "alpha": "é ü 漢字 \u2028 \"quoted\" \\ 😀",
        "when": datetime.datetime(2026, 12, 1, 22, 30, 5, 123456, tzinfo=datetime.UTC),
        "amount": decimal.Decimal("1.50"),
        "ratio": 0.1 + 0.2,
        "lines": [Line(sku="a", price=decimal.Decimal("1E+3")), Line(sku="b", price=decimal.Decimal("0.001"))],
        "tags": {"z": 1, "a": 2},
    }
    return cast(Event, Sample(**(fields | changes)))


def stored(payload: object) -> Any:
    """``payload`` written by the outbox's INSERT, as the field reads it back."""
    event = (uuid.uuid4(), "tests.Sample", 1, None, payload, values.JsonText('{"publisher":"orders"}'), "orders")
    with transaction.atomic(using=ALIAS):
        _, written = publish_rows(ALIAS, (*event, timezone.now()), subscribers=[], now=timezone.now())
    (pk, _), = written.values()
    return Publication.objects.using(ALIAS).get(pk=pk)


def test_the_payload_reads_back_as_the_old_way_stored_it_keys_in_order() -> None:
    event = sample()
    held, text = _payload(event)
    assert type(text) is values.JsonText  # the short way was taken
    old = event.model_dump(mode="json")
    new_row, old_row = stored(text), stored(old)
    assert new_row.payload == old_row.payload == old
    assert list(new_row.payload) == list(old_row.payload)
    assert list(new_row.payload["tags"]) == list(old_row.payload["tags"])
    assert new_row.headers == {"publisher": "orders"}
    # The fast path's publication: the value, keys in the event's order as model_dump gave them
    # before (PostgreSQL's jsonb reads back its own order, for both ways alike).
    assert held() == new_row.payload and list(held()) == list(old) and list(held()["tags"]) == list(old["tags"])


def test_the_column_holds_that_value_as_json_text_ascii_on_sqlite() -> None:
    row = stored(_payload(sample())[1])
    sqlite = connections[ALIAS].vendor == "sqlite"
    with connections[ALIAS].cursor() as cursor:
        column = "payload" if sqlite else "payload::text"  # PostgreSQL's jsonb keeps no text of its own
        cursor.execute(f"SELECT {column} FROM {Publication._meta.db_table} WHERE id = %s", [row.pk])
        (raw,), = cursor.fetchall()
    assert json.loads(raw) == row.payload
    assert raw.isascii() or not sqlite  # the text as sent: json.dumps's escapes


def test_a_payload_with_null_in_it_takes_the_old_way() -> None:
    event = sample(maybe=None)
    held, payload = _payload(event)
    assert payload == event.model_dump(mode="json") and held() == payload
    assert stored(payload).payload == payload


def test_a_non_finite_float_is_refused_as_before_not_stored_as_null() -> None:
    held, payload = _payload(sample(ratio=float("inf")))
    assert type(payload) is dict  # pydantic-core would have written null
    with pytest.raises((IntegrityError, DatabaseError)):
        stored(payload)


def test_a_json_text_reads_back_as_its_value_escapes_included() -> None:
    row = stored(values.JsonText('{"publisher":"orders","x":"\\u00e9"}'))
    assert row.headers == {"publisher": "orders"}
    assert row.payload == {"publisher": "orders", "x": "é"}
