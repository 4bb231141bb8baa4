"""The operator console in process: staff only, the graph, numbers, dead letters and resubmit."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from contracts.kernel.models import Publication, PublicationStatus
from tests.eventprobe.models import HandledEvent
from tests.integration.shop import place_order

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def dead_probe_letter(shop: Client, email: str = "once@example.com") -> Publication:
    order = place_order(shop, email, ("KB-101", 1)).json()
    letter = Publication.objects.using("orders").get(subscriber_module="eventprobe", payload__order_id=order["id"])
    assert letter.status == PublicationStatus.DEAD
    return letter


def csrf_of(page: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert match, "the page carries its CSRF token"
    return match.group(1)


def test_anonymous_users_are_sent_to_the_login_page(shop: Client) -> None:
    response = Client().get("/console/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/console/")


@pytest.mark.parametrize("path", ["/console/stats.json", "/console/health.json"])
def test_the_json_endpoints_answer_403_to_anonymous_users(shop: Client, path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 403
    assert "staff" in response.json()["detail"]


def test_a_user_who_is_not_staff_is_not_let_in(shop: Client) -> None:
    get_user_model().objects.create_user("customer", password="pw")
    client = Client()
    client.login(username="customer", password="pw")
    assert client.get("/console/").status_code == 302
    assert client.get("/console/stats.json").status_code == 403
    assert client.post("/console/resubmit", {"ref": "orders:1"}).status_code == 403


def test_the_page_draws_every_module_and_its_connections(operator: Client) -> None:
    page = operator.get("/console/").content.decode()
    for label in ("catalog", "inventory", "orders", "notifications", "eventprobe"):
        assert f'id="node-{label}"' in page
    assert 'class="edge call" data-source="orders" data-target="catalog"' in page
    assert 'class="edge event" data-source="inventory" data-target="orders"' in page
    assert "StockReservationFailed, StockReserved" in page
    assert "in-process" in page


def test_the_page_lists_a_dead_letter_with_its_error(operator: Client, shop: Client) -> None:
    letter = dead_probe_letter(shop)
    page = operator.get("/console/").content.decode()
    assert f'data-ref="orders:{letter.pk}"' in page
    assert "ProbeFailure: once attempt 1" in page
    assert "Resubmit all orders.OrderPlaced (1)" in page


def test_stats_are_totals_per_module(operator: Client, shop: Client) -> None:
    dead_probe_letter(shop)
    body = operator.get("/console/stats.json").json()
    orders = body["modules"]["orders"]
    assert orders["served_here"] is True
    assert orders["published"] >= 2  # OrderPlaced and OrderConfirmed
    assert orders["dead"] == 1 and body["dead"] == 1
    assert orders["backlog"] == 0
    assert set(body["modules"]) >= {"catalog", "inventory", "orders", "notifications"}


def test_resubmitting_one_dead_letter_completes_it(operator: Client, shop: Client) -> None:
    letter = dead_probe_letter(shop)
    token = csrf_of(operator.get("/console/").content.decode())
    response = operator.post("/console/resubmit", {"ref": f"orders:{letter.pk}", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    letter.refresh_from_db()
    assert letter.status == PublicationStatus.COMPLETED
    assert HandledEvent.objects.filter(customer_email="once@example.com").count() == 1
    page = operator.get(response["Location"]).content.decode()
    assert "Resubmitted 1 dead letter." in page
    assert f"<code>orders:{letter.pk}</code> is now <b" in page and ">completed</b>" in page
    assert "No dead letters." in page


def test_resubmitting_a_type_resubmits_every_dead_letter_of_it(operator: Client, shop: Client) -> None:
    letters = [dead_probe_letter(shop, f"once-{i}@example.com") for i in range(2)]
    token = csrf_of(operator.get("/console/").content.decode())
    response = operator.post("/console/resubmit", {"event_type": "orders.OrderPlaced", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert "count=2" in response["Location"]
    assert {p.status for p in Publication.objects.using("orders").filter(pk__in=[p.pk for p in letters])} == {"completed"}


def test_resubmit_needs_the_csrf_token(operator: Client, shop: Client) -> None:
    letter = dead_probe_letter(shop)
    assert operator.post("/console/resubmit", {"ref": f"orders:{letter.pk}"}).status_code == 403
    letter.refresh_from_db()
    assert letter.status == PublicationStatus.DEAD


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({}, "Send either ref"),
        ({"ref": "orders:1", "event_type": "orders.OrderPlaced"}, "Send either ref"),
        ({"ref": "nowhere:1"}, "is not a publication reference"),
        ({"ref": "orders:x"}, "is not a publication reference"),
        ({"ref": "orders:" + "9" * 300}, "at most 200 characters"),
    ],
)
def test_malformed_resubmits_are_400_naming_the_problem(operator: Client, form: dict[str, str], says: str) -> None:
    token = csrf_of(operator.get("/console/").content.decode())
    response = operator.post("/console/resubmit", {**form, "csrfmiddlewaretoken": token})
    assert response.status_code == 400
    assert says in response.content.decode()


def test_only_post_resubmits(operator: Client) -> None:
    assert operator.get("/console/resubmit").status_code == 405


def test_health_json_says_per_module_whether_it_can_be_reached(operator: Client) -> None:
    body = operator.get("/console/health.json").json()
    assert body["status"] == "ready"
    assert body["modules"]["orders"] == {"ok": True, "check": "database:orders", "detail": "ok"}


@pytest.mark.parametrize(
    "query",
    ["?resubmitted=nowhere:1,orders:abc,orders:99999&count=x", "?resubmitted=" + "orders:1," * 500, "?resubmitted=&count=-3"],
)
def test_a_hostile_result_query_still_draws_the_page(operator: Client, query: str) -> None:
    response = operator.get("/console/" + query)
    assert response.status_code == 200
    assert "Resubmitted" in response.content.decode()


def test_stats_count_the_contract_calls_an_order_makes(operator: Client, shop: Client) -> None:
    before = operator.get("/console/stats.json").json()["modules"]["catalog"]["calls"]
    assert place_order(shop, "ada@example.com", ("KB-101", 1)).status_code == 201
    after = operator.get("/console/stats.json").json()["modules"]["catalog"]["calls"]
    assert after > before  # orders (and inventory) asked catalog, counted by seams_contract_calls_total


def test_a_module_bound_to_a_service_that_is_down_is_drawn_there_and_reported_down(operator: Client) -> None:
    from django.test import override_settings

    from tests.support.processes import free_port

    down = f"http://127.0.0.1:{free_port()}"
    binding = {"catalog": {"TRANSPORT": "http", "MODULE": "catalog", "URL": down, "TIMEOUT": "5"}}
    with override_settings(SEAMS_BINDINGS=binding, SEAMS_HEALTH_TIMEOUT=1):
        page = operator.get("/console/").content.decode()
        health = operator.get("/console/health.json").json()
    assert '<g class="node http" id="node-catalog"' in page and down in page
    assert health["status"] == "degraded"
    assert health["modules"]["catalog"]["ok"] is False
    assert health["modules"]["catalog"]["check"] == "service:catalog"
    assert health["modules"]["catalog"]["detail"].startswith("unreachable: ConnectError")
    assert health["modules"]["orders"]["ok"] is True
