"""The internal-surface probes of issue 8, replayed against today's code, in process, with the
internal surface exposed on the main port (``SEAMS_INTERNAL=all``: the worst case; by default the
monolith with nothing extracted exposes nothing and every one of these is a plain 404).

Each probe is what the issue's attacker sent, plus the stronger attacker: one holding a valid token
captured from a real forward. Every one is refused and leaves nothing behind: no inbox row, no
email, no stock reserved. The public-API probes of the issue are in test_public_api_attacks.py
(authentication, enumeration, rate limits, media types, bounds, 500s, trace headers), the forged
calls against real processes (HTTP and Celery) in tests/e2e/test_forged_internal_calls.py.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core import mail
from django.test import Client, override_settings

from contracts.kernel.models import InboxEntry
from extraction.identity import issue, key_id
from extraction.identity.keys import load_private_key
from modules.notifications.models import SentEmail

from .shop import add_product, stock_of

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

NOTIFY = "/internal/notifications/events/"
INVENTORY = "/internal/inventory/events/"
GET_ORDER = "/internal/orders/v1/orders/get_order"
CONFIRMATION = "modules.notifications.handlers.email_order_confirmation"
CANCELLATION = "modules.notifications.handlers.email_order_cancellation"
RESERVE = "modules.inventory.handlers.reserve_stock_for_placed_order"


@pytest.fixture(autouse=True)
def exposed() -> Iterator[None]:
    with override_settings(SEAMS_INTERNAL={"MODULES": "all", "PORT": None}):
        yield


def forge(key: Ed25519PrivateKey, *, sub: str, aud: str, kid: str | None = None) -> str:
    now = int(time.time())
    claims = {"iss": "monolith", "sub": sub, "aud": aud, "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid or key_id(key)})


def monolith_key() -> Ed25519PrivateKey:
    return load_private_key(settings.SEAMS_IDENTITY["KEY"], "the test run's service key")


def envelope(event_type: str, **payload: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()), "type": event_type, "version": 1, "key": str(payload.get("order_id", 1)),
        "payload": payload, "headers": {}, "occurred_at": "2026-01-01T00:00:00+00:00",
    }


def post(path: str, subscriber: str, sent: dict[str, Any], bearer: str | None) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    body = json.dumps({"subscriber": subscriber, "envelope": sent})
    return Client().post(path, body, content_type="application/json", headers=headers)


def attackers(audience: str, not_the_publisher: str) -> dict[str, tuple[str | None, int]]:
    """Everyone who is not the publisher speaking through a key the receiver trusts."""
    stranger = Ed25519PrivateKey.generate()
    return {
        "no token": (None, 401),
        "garbage": ("not.a.token", 401),
        "a key of the attacker's": (forge(stranger, sub="orders", aud=audience), 401),
        "the attacker's key under the monolith's kid": (forge(stranger, sub="orders", aud=audience, kid=key_id(monolith_key())), 401),
        "a valid token for another module": (forge(monolith_key(), sub="orders", aud="catalog"), 401),
        f"a valid token of '{not_the_publisher}', which does not publish it": (forge(monolith_key(), sub=not_the_publisher, aud=audience), 403),
    }


def nothing_in(label: str) -> tuple[int, int]:
    return InboxEntry.objects.using(label).count(), SentEmail.objects.using("notifications").count()


def test_a_forged_order_confirmation_or_phishing_cancellation_sends_no_email() -> None:
    before = nothing_in("notifications")
    confirmed = envelope("orders.OrderConfirmed", order_id=7, customer_email="victim@example.com", total_cents=1)
    phishing = envelope("orders.OrderCancelled", order_id=7, customer_email="victim@example.com",
                        reason="Your card was refused: re-enter it at https://evil.example/pay")
    for subscriber, sent in ((CONFIRMATION, confirmed), (CANCELLATION, phishing)):
        for name, (bearer, status) in attackers("notifications", "inventory").items():  # new tokens: one request each
            answer = post(NOTIFY, subscriber, sent, bearer)
            assert answer.status_code == status, (name, subscriber, answer.content)
    assert nothing_in("notifications") == before and not mail.outbox


def test_a_forged_order_placed_reserves_no_stock() -> None:
    client = Client()
    add_product(client, "KB-101", 4999, stock=10)
    placed = envelope("orders.OrderPlaced", order_id=999_999, customer_email="x@example.com",
                      lines=[{"sku": "KB-101", "quantity": 10}], total_cents=49990)
    for name, (bearer, status) in attackers("inventory", "notifications").items():
        answer = post(INVENTORY, RESERVE, placed, bearer)
        assert answer.status_code == status, (name, answer.content)
    assert stock_of(client, "KB-101") == (10, 0, 10)
    assert InboxEntry.objects.using("inventory").count() == 0


def test_a_captured_token_cannot_forge_the_next_order(caplog: pytest.LogCaptureFixture) -> None:
    """The attacker holds a token the monolith really signed for one forward of OrderPlaced (read
    from a log or the wire) and sends a made-up OrderPlaced for the next order id with it, within
    its minute: refused as a replay (before, a cached token was accepted for its whole minute)."""
    client = Client()
    add_product(client, "KB-101", 4999, stock=10)
    captured = issue("orders", "inventory")
    real = envelope("orders.OrderPlaced", order_id=41, customer_email="a@example.com",
                    lines=[{"sku": "KB-101", "quantity": 1}], total_cents=4999)
    assert post(INVENTORY, RESERVE, real, captured).json() == {"outcome": "completed"}
    forged = envelope("orders.OrderPlaced", order_id=42, customer_email="a@example.com",
                      lines=[{"sku": "KB-101", "quantity": 9}], total_cents=44991)
    replayed = post(INVENTORY, RESERVE, forged, captured)
    assert replayed.status_code == 401 and "replayed" in replayed.json()["error"]["message"]
    assert stock_of(client, "KB-101") == (10, 1, 9)  # the real order's one unit, nothing for order 42


def test_contract_endpoints_answer_no_one_without_the_consumers_identity() -> None:
    """``/internal/orders/v1/orders/get_order`` once answered any caller, customer email included."""
    body = json.dumps({"order_id": 1})
    for name, (bearer, status) in {
        "no token": (None, 401),
        "a key of the attacker's": (forge(Ed25519PrivateKey.generate(), sub="notifications", aud="orders"), 401),
        "catalog does not consume Orders": (forge(monolith_key(), sub="catalog", aud="orders"), 403),
    }.items():
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        answer = Client().post(GET_ORDER, body, content_type="application/json", headers=headers)
        assert answer.status_code == status, (name, answer.content)
        assert b"@" not in answer.content
    document = Client().get("/internal/orders/v1/orders/openapi.json")
    assert document.status_code == 401
