"""Failing handlers are retried with backoff, end dead after the last attempt, keep their error,
and never hold up anyone else; undeliverable publications go dead at once with a reason."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from contracts.kernel.models import Publication, PublicationStatus
from contracts.kernel.outbox import OutboxSettings, backoff_seconds, process_publication
from contracts.kernel.testing import deliver_pending
from tests.eventprobe.models import HandledEvent
from tests.integration.shop import place_order, stock_of
from tests.support.outbox_rows import raw_publication
from tests.support.tokens import customer

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def probe_publication(order_id: int) -> Publication:
    return Publication.objects.using("orders").get(subscriber_module="eventprobe", payload__order_id=order_id)


def test_a_handler_that_fails_twice_then_succeeds_ends_completed(shop: Client) -> None:
    order = place_order(shop, "flaky@example.com", ("KB-101", 1)).json()
    assert order["status"] == "confirmed"  # the other subscriber went ahead
    first = probe_publication(order["id"])
    assert (first.status, first.attempts) == (PublicationStatus.FAILED, 1)
    assert "ProbeFailure: flaky attempt 1" in first.last_error and "Traceback" in first.last_traceback

    deliver_pending()
    done = probe_publication(order["id"])
    assert (done.status, done.attempts) == (PublicationStatus.COMPLETED, 3)
    assert HandledEvent.objects.filter(customer_email="flaky@example.com").count() == 1


def test_a_handler_that_always_fails_ends_dead_and_others_are_unaffected(shop: Client) -> None:
    doomed = place_order(shop, "doomed@example.com", ("KB-101", 1)).json()
    fine = place_order(shop, "ada@example.com", ("MS-202", 1)).json()
    deliver_pending()

    dead = probe_publication(doomed["id"])
    assert (dead.status, dead.attempts) == (PublicationStatus.DEAD, 3)
    assert "gave up after 3 attempts" in dead.last_error and "ProbeFailure" in dead.last_traceback
    assert probe_publication(fine["id"]).status == PublicationStatus.COMPLETED
    assert shop.get(f"/api/orders/{doomed['id']}", headers=customer("doomed@example.com")).json()["status"] == "confirmed"
    assert stock_of(shop, "KB-101")[1] == 1


def _raw_event(type_: str, payload: dict[str, object], subscriber: str, module: str, key: str | None = None) -> Publication:
    return raw_publication("orders", type_, payload, subscriber, module, key=key)


def test_schema_drift_goes_dead_with_a_reason_and_blocks_nothing(shop: Client) -> None:
    drifted = _raw_event(
        "orders.OrderPlaced", {"order_id": 999, "customer_email": "x@example.com"},
        "modules.inventory.handlers.reserve_stock_for_placed_order", "inventory", key="999",
    )
    assert process_publication("orders", drifted.pk) == "dead"
    drifted.refresh_from_db()
    assert drifted.status == PublicationStatus.DEAD and "schema drift" in drifted.last_error
    assert "lines" in drifted.last_error  # names the missing field
    assert place_order(shop, "ada@example.com", ("KB-101", 1)).json()["status"] == "confirmed"


def test_unknown_event_type_and_unknown_subscriber_go_dead(shop: Client) -> None:
    unknown_type = _raw_event("orders.OrderTeleported", {"order_id": 1}, "modules.x.handlers.h", "inventory")
    unknown_handler = _raw_event(
        "orders.OrderPlaced",
        {"order_id": 5, "customer_email": "a@example.com", "lines": [], "total_cents": 0},
        "modules.inventory.handlers.renamed_handler", "inventory",
    )
    assert process_publication("orders", unknown_type.pk) == "dead"
    assert process_publication("orders", unknown_handler.pk) == "dead"
    unknown_type.refresh_from_db()
    unknown_handler.refresh_from_db()
    assert "unknown event type orders.OrderTeleported" in unknown_type.last_error
    assert "unknown subscriber" in unknown_handler.last_error


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    config = OutboxSettings(backoff_base=1.0, backoff_max=10.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (9, 10.0)]:
        samples = [backoff_seconds(attempt, config) for _ in range(200)]
        assert all(ceiling / 2 <= s <= ceiling for s in samples)
        assert len({round(s, 6) for s in samples}) > 1  # jitter


def test_a_failed_publication_is_not_retried_before_its_backoff(shop: Client) -> None:
    from django.test import override_settings

    slow = {"DISPATCH": "inline", "MAX_ATTEMPTS": 3, "BACKOFF_BASE": 60.0, "BACKOFF_MAX": 60.0}
    with override_settings(SEAMS_EVENTS=slow):
        order = place_order(shop, "flaky@example.com", ("KB-101", 1)).json()
        pub = probe_publication(order["id"])
        assert pub.next_attempt_at > timezone.now() + datetime.timedelta(seconds=25)
        assert process_publication("orders", pub.pk) == "not-claimed"
