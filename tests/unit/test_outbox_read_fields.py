"""A worker reads only what running a publication needs (``claiming.READ_FIELDS``).

Why: the claim, the read of a publication sent already claimed and the colocated completion return
the row the worker runs; converting the lifecycle's five timestamps and two texts it never reads
was most of what turning that row into a model cost. What is not returned is deferred, so a caller
that does ask for it still gets it (one query, as the ORM's ``only()``): these tests pin that the
worker's own paths never do (no query while the handler's envelope, the span and the outcome are
built) and that what the statement says (the claim, the status) is set without a column.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contracts.kernel.models import Publication, PublicationStatus
from contracts.kernel.outbox.claiming import READ_FIELDS, claim_read, read_claimed
from contracts.kernel.outbox.statements import publish_rows

ALIAS = "orders"
SUBSCRIBER = ("tests.read_fields.one", "notifications")
LIFECYCLE = {"created_at", "next_attempt_at", "dispatched_at", "lease_until", "completed_at", "last_error", "last_traceback", "publisher"}

pytestmark = pytest.mark.django_db(databases=[ALIAS])


def publish(claimed_by: str = "") -> tuple[uuid.UUID, int]:
    now = timezone.now()
    event_id = uuid.uuid4()
    values = (event_id, "tests.ReadFields", 2, "k-1", {"n": 1}, {"traceparent": "00-x"}, ALIAS, now)
    _, written = publish_rows(
        ALIAS, values, subscribers=[SUBSCRIBER], now=now,
        claimed_by=claimed_by, lease_until=now + timedelta(seconds=60) if claimed_by else None,
    )  # fmt: skip
    return event_id, written[SUBSCRIBER[0]][0]


def read_without_a_query(publication: Publication) -> dict[str, object]:
    with CaptureQueriesContext(connections[ALIAS]) as queries:
        values = {name: getattr(publication, name) for name in (*READ_FIELDS, "claimed_by", "status")}
    assert len(queries) == 0, [q["sql"] for q in queries]
    return values


def test_a_claimed_publication_carries_what_running_it_reads_and_defers_its_lifecycle() -> None:
    event_id, pk = publish()
    taken = claim_read(ALIAS, pk, "w-1")
    assert taken is not None
    values = read_without_a_query(taken)
    assert (values["event_id"], values["version"], values["payload"], values["headers"]) == (
        event_id, 2, {"n": 1}, {"traceparent": "00-x"},
    )  # fmt: skip
    assert (values["claimed_by"], values["status"], values["attempts"], values["key"]) == (
        "w-1", PublicationStatus.PROCESSING, 1, "k-1",
    )  # fmt: skip
    assert taken.get_deferred_fields() == LIFECYCLE
    assert taken.publisher == ALIAS  # asked for: loaded from the row


def test_a_publication_read_under_its_claim_carries_the_claim() -> None:
    _, pk = publish(claimed_by="w-2")
    [held] = read_claimed(ALIAS, [pk], "w-2", timedelta(seconds=5))
    values = read_without_a_query(held)
    assert (values["id"], values["claimed_by"], values["status"]) == (pk, "w-2", PublicationStatus.PROCESSING)
    assert held.get_deferred_fields() == LIFECYCLE
