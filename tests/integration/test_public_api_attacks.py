"""The probes of issue 8 against the public API, in process: each is refused with a clear 4xx (never
a 5xx or a traceback) and leaves nothing changed.

Forged prices and stock without a staff token, orders and mail read by someone else, a 300-request
burst, a text/plain or form body, a price near 2^63, a 100,000-deep JSON document, a 7 kB trace id;
plus the token checks themselves (expired, wrong audience or issuer, unknown key, no signature).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.core import mail
from django.db import DataError, connections
from django.test import Client, override_settings

from contracts.catalog import Catalog, ProductDTO
from contracts.kernel.models import Publication
from contracts.kernel.public import ensure_dev_keys, issue_token
from contracts.kernel.testing import override_contract
from modules.catalog.models import Product
from modules.orders.models import Order
from tests.support.tokens import AUDIENCE, ISSUER, KEYS_DIR, STAFF_SCOPE, bearer, customer, staff, token

from .shop import JSON, add_product, place_order, stock_of

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture
def client() -> Client:
    c = Client()
    add_product(c, "KB-101", 4999, stock=5)
    return c


def product_count() -> int:
    return Product.objects.count()


# --- authentication and scopes ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), (customer(), 403), (bearer("not-a-token"), 401), ({"Authorization": "Basic YTpi"}, 401)],
    ids=["anonymous", "customer", "garbage", "basic"],
)
def test_a_forged_product_is_refused_without_a_staff_token(client: Client, headers: dict[str, str], status: int) -> None:
    before = product_count()

    r = client.post("/api/catalog/products/", {"sku": "FREE-1", "name": "Free", "price_cents": 0}, content_type=JSON, headers=headers)

    assert r.status_code == status, r.content
    assert r.json()["code"] in {"seams.Unauthorized", "seams.Forbidden"}
    assert r["WWW-Authenticate"].startswith("Bearer")
    assert product_count() == before and not Product.objects.filter(sku="FREE-1").exists()


def test_a_customer_token_is_403_on_staff_writes(client: Client) -> None:
    r = client.put("/api/inventory/stock/KB-101", {"quantity": 1_000_000_000}, content_type=JSON, headers=customer())

    assert r.status_code == 403, r.content
    assert "shop:staff" in r.json()["detail"]
    assert stock_of(client, "KB-101") == (5, 0, 5)


def test_a_billion_units_of_stock_need_a_staff_token(client: Client) -> None:
    anonymous = client.put("/api/inventory/stock/KB-101", {"quantity": 1_000_000_000}, content_type=JSON)

    assert anonymous.status_code == 401
    assert stock_of(client, "KB-101") == (5, 0, 5)
    allowed = client.put("/api/inventory/stock/KB-101", {"quantity": 1_000_000_000}, content_type=JSON, headers=staff())
    assert allowed.status_code == 200 and allowed.json()["on_hand"] == 1_000_000_000


def claims_token(**changes: object) -> str:
    """A staff token with some claims changed (or removed, for a None value)."""
    private, _ = ensure_dev_keys(KEYS_DIR)
    decoded = jwt.decode(token("staff-1", STAFF_SCOPE), options={"verify_signature": False})
    decoded.update(changes)
    header_kid = jwt.get_unverified_header(token("staff-1", STAFF_SCOPE))["kid"]
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    return jwt.encode({k: v for k, v in decoded.items() if v is not None}, key, algorithm="EdDSA", headers={"kid": header_kid})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda: claims_token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200), id="expired"),
        pytest.param(lambda: claims_token(aud="another-api"), id="wrong-audience"),
        pytest.param(lambda: claims_token(iss="https://evil.example/"), id="wrong-issuer"),
        pytest.param(lambda: claims_token(sub=None), id="no-subject"),
        pytest.param(lambda: claims_token(exp=None), id="no-expiry"),
        pytest.param(lambda: jwt.encode({"sub": "x", "scope": STAFF_SCOPE, "iss": ISSUER, "aud": AUDIENCE,
                                         "exp": int(time.time()) + 60, "iat": int(time.time())}, None, algorithm="none"), id="alg-none"),
        pytest.param(lambda: jwt.encode({"sub": "x", "scope": STAFF_SCOPE, "iss": ISSUER, "aud": AUDIENCE,
                                         "exp": int(time.time()) + 60, "iat": int(time.time())},
                                        "a-shared-secret-nobody-configured-here-0123456789", algorithm="HS256"), id="hs256"),
        pytest.param(lambda: "x" * 9000, id="huge"),
    ],
)
def test_tokens_that_fail_verification_are_401(client: Client, bad: object, tmp_path: Path) -> None:
    r = client.post("/api/catalog/products/", {"sku": "X-1", "name": "X", "price_cents": 1}, content_type=JSON,
                    headers=bearer(bad()))  # type: ignore[operator]

    assert r.status_code == 401, r.content
    assert not Product.objects.filter(sku="X-1").exists()


def test_a_token_signed_by_an_unknown_key_is_401(client: Client, tmp_path: Path) -> None:
    forged = issue_token("staff-1", scopes=[STAFF_SCOPE], keys_dir=tmp_path / "other", issuer=ISSUER, audience=AUDIENCE)

    r = client.post("/api/catalog/products/", {"sku": "X-1", "name": "X", "price_cents": 1}, content_type=JSON, headers=bearer(forged))

    assert r.status_code == 401
    assert not Product.objects.filter(sku="X-1").exists()


# --- ownership ----------------------------------------------------------------------------------
def test_orders_cannot_be_enumerated_by_id(client: Client) -> None:
    ada = place_order(client, "ada@example.com", ("KB-101", 1)).json()

    mine = client.get(f"/api/orders/{ada['id']}", headers=customer("ada@example.com"))
    theirs = client.get(f"/api/orders/{ada['id']}", headers=customer("bob@example.com"))
    nobody = client.get(f"/api/orders/{ada['id'] + 1000}", headers=customer("bob@example.com"))
    anonymous = client.get(f"/api/orders/{ada['id']}")

    assert mine.status_code == 200 and mine.json()["customer_email"] == "ada@example.com"
    # Another customer's order looks exactly like one that does not exist (only the id differs).
    assert theirs.status_code == nobody.status_code == 404
    assert theirs.json()["code"] == nobody.json()["code"] == "orders.OrderNotFound"
    assert "ada" not in theirs.content.decode()
    assert anonymous.status_code == 401


def test_notifications_cannot_be_read_for_another_recipient(client: Client) -> None:
    place_order(client, "ada@example.com", ("KB-101", 1))

    bob = client.get("/api/notifications/?recipient=ada@example.com", headers=customer("bob@example.com"))
    anonymous = client.get("/api/notifications/?recipient=ada@example.com")
    ada = client.get("/api/notifications/", headers=customer("ada@example.com"))

    assert bob.status_code == 200 and bob.json() == []
    assert anonymous.status_code == 401
    assert [m["recipient"] for m in ada.json()] == ["ada@example.com"]


def test_an_order_is_placed_for_the_token_customer_only(client: Client) -> None:
    r = client.post(
        "/api/orders/",
        {"customer_email": "victim@example.com", "lines": [{"sku": "KB-101", "quantity": 1}]},
        content_type=JSON,
        headers=customer("eve@example.com"),
    )

    assert r.status_code == 422
    assert Order.objects.count() == 0 and mail.outbox == []


def test_a_customer_token_without_an_email_is_403(client: Client) -> None:
    r = client.post("/api/orders/", {"lines": [{"sku": "KB-101", "quantity": 1}]}, content_type=JSON,
                    headers=bearer(token("someone", "shop:customer")))

    assert r.status_code == 403
    assert Order.objects.count() == 0


# --- rate limits --------------------------------------------------------------------------------
@override_settings(SEAMS_API_RATE_LIMITS={"ANONYMOUS": "50/hour", "AUTHENTICATED": "80/hour", "CACHE": "seams-rate"})
def test_a_burst_of_300_requests_is_cut_at_the_limit_with_retry_after(client: Client) -> None:
    from django.core.cache import caches

    caches["seams-rate"].clear()
    statuses = [client.get("/api/catalog/products/KB-101", REMOTE_ADDR="10.9.9.9").status_code for _ in range(300)]

    assert statuses[:50] == [200] * 50
    assert set(statuses[50:]) == {429}
    limited = client.get("/api/catalog/products/KB-101", REMOTE_ADDR="10.9.9.9")
    assert limited.json()["code"] == "seams.RateLimited"
    assert 1 <= int(limited["Retry-After"]) <= 3600
    # Another client is not affected; a client cannot pose as another with X-Forwarded-For.
    assert client.get("/api/catalog/products/KB-101", REMOTE_ADDR="10.9.9.10").status_code == 200
    spoofed = client.get("/api/catalog/products/KB-101", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert spoofed.status_code == 429
    # Authenticated clients are counted per principal, with their own rate.
    ada = [client.get("/api/notifications/", headers=customer(), REMOTE_ADDR="10.9.9.9").status_code for _ in range(81)]
    assert ada[:80] == [200] * 80 and ada[80] == 429
    caches["seams-rate"].clear()


# --- content type, CSRF, bodies -----------------------------------------------------------------
def test_a_method_the_route_does_not_serve_is_a_json_405_with_allow(client: Client) -> None:
    r = client.get("/api/catalog/products/", headers=staff())

    assert r.status_code == 405
    assert r["Content-Type"] == "application/json"
    assert r.json()["code"] == "seams.MethodNotAllowed"
    assert "POST" in r["Allow"] and "POST" in r.json()["detail"]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin-1", ""],
)
def test_a_body_that_is_not_application_json_is_415(client: Client, content_type: str) -> None:
    body = json.dumps({"lines": [{"sku": "KB-101", "quantity": 1}]})

    r = client.generic("POST", "/api/orders/", body, content_type=content_type, headers=customer())

    assert r.status_code == 415, r.content
    assert r.json()["code"] == "seams.UnsupportedMediaType"
    assert Order.objects.count() == 0


def test_a_cross_site_form_post_with_a_session_cookie_is_refused(client: Client) -> None:
    """What a page on another site can make a visitor's browser send: a form post with cookies."""
    client.cookies["sessionid"] = "a-logged-in-visitor"
    r = client.post("/api/orders/", "lines=KB-101", content_type="application/x-www-form-urlencoded",
                    headers={"Origin": "https://evil.example"})
    json_without_token = client.post("/api/orders/", {"lines": [{"sku": "KB-101", "quantity": 1}]}, content_type=JSON)

    assert r.status_code == 415
    assert json_without_token.status_code == 401  # cookies are no credential here
    assert Order.objects.count() == 0


def test_a_json_utf8_charset_is_accepted(client: Client) -> None:
    r = client.post("/api/orders/", {"lines": [{"sku": "KB-101", "quantity": 1}]}, content_type="application/json; charset=utf-8",
                    headers=customer())
    assert r.status_code == 201, r.content


def test_a_100000_deep_json_body_is_400_not_a_recursion_error(client: Client) -> None:
    for body in ("[" * 100_000 + "]" * 100_000, json.dumps({"lines": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})):
        r = client.post("/api/orders/", body, content_type=JSON, headers=customer())
        assert r.status_code in (400, 413), r.content
        assert "Traceback" not in r.content.decode()
    assert Order.objects.count() == 0


def test_a_huge_body_is_413_and_nul_or_surrogates_are_400(client: Client) -> None:
    huge = client.post("/api/orders/", json.dumps({"lines": [], "pad": "x" * 200_000}), content_type=JSON, headers=customer())
    nul = client.post("/api/catalog/products/", '{"sku": "N-1", "name": "a\\u0000b", "price_cents": 1}', content_type=JSON, headers=staff())
    surrogate = client.post("/api/catalog/products/", '{"sku": "S-1", "name": "\\ud800", "price_cents": 1}', content_type=JSON, headers=staff())

    assert huge.status_code == 413
    assert nul.status_code == 400 and surrogate.status_code == 400, (nul.content, surrogate.content)
    assert not Product.objects.filter(sku__in=["N-1", "S-1"]).exists()


# --- integer bounds -----------------------------------------------------------------------------
@pytest.mark.parametrize("price", [2**63, 2**63 - 1, 2**31, -1, False, True, "12", 1.5, None, 1e300, "1e3"])
def test_a_price_that_does_not_fit_the_column_or_is_not_an_integer_is_422(client: Client, price: object) -> None:
    r = client.post("/api/catalog/products/", {"sku": "BIG-1", "name": "Big", "price_cents": price}, content_type=JSON, headers=staff())

    assert r.status_code == 422, r.content
    assert any(error["loc"][-1] == "price_cents" for error in r.json()["detail"])
    assert not Product.objects.filter(sku="BIG-1").exists()


def test_the_largest_price_still_orders_and_totals_fit(client: Client) -> None:
    r = client.post("/api/catalog/products/", {"sku": "TOP-1", "name": "Top", "price_cents": 2**31 - 1}, content_type=JSON, headers=staff())
    assert r.status_code == 201, r.content
    client.put("/api/inventory/stock/TOP-1", {"quantity": 2_000_000}, content_type=JSON, headers=staff())

    order = place_order(client, "ada@example.com", *[("TOP-1", 10_000)] * 100)

    assert order.status_code == 201, order.content
    assert order.json()["total_cents"] == (2**31 - 1) * 1_000_000


def test_a_product_stored_near_2_63_does_not_poison_later_orders(client: Client) -> None:
    """A price written before the API had bounds (SQLite stores 64 bits): ordering it is a 422
    naming the line, and every other order still works."""
    if connections["catalog"].vendor == "postgresql":
        # PostgreSQL's integer column cannot hold such a price at all: the poison cannot exist there.
        with pytest.raises(DataError):
            Product.objects.create(sku="POISON-1", name="Poison", price_cents=2**63 - 2)
        Product.objects.create(sku="POISON-1", name="Poison", price_cents=2**31 - 1)
        poisoned = place_order(client, "ada@example.com", ("POISON-1", 1))
        assert poisoned.status_code == 201, poisoned.content  # the largest storable price still orders
    else:
        Product.objects.create(sku="POISON-1", name="Poison", price_cents=2**63 - 2)
        poisoned = place_order(client, "ada@example.com", ("POISON-1", 1))
        assert poisoned.status_code == 422, poisoned.content
        assert poisoned.json()["detail"][0]["loc"] == ["body", "payload", "lines", 0, "sku"]

    fine = place_order(client, "ada@example.com", ("KB-101", 1))
    assert fine.status_code == 201 and fine.json()["status"] == "confirmed"


@pytest.mark.parametrize("quantity", [True, 10_001, 2**63, "1", 1.5])
def test_a_quantity_that_is_a_boolean_or_out_of_bounds_is_422(client: Client, quantity: object) -> None:
    r = client.post("/api/orders/", {"lines": [{"sku": "KB-101", "quantity": quantity}]}, content_type=JSON, headers=customer())

    assert r.status_code == 422, r.content
    assert Order.objects.count() == 0


@pytest.mark.parametrize("order_id", [str(2**63), str(2**70), "0", "-1", "1e3"])
def test_an_order_id_out_of_range_is_422_not_an_overflow(client: Client, order_id: str) -> None:
    r = client.get(f"/api/orders/{order_id}", headers=customer())

    assert r.status_code in (404, 422), r.content


@pytest.mark.parametrize("sku", ["x" * 65, "-lead", "a%00b", "a b"])
def test_a_malformed_sku_in_a_path_is_422_or_404(client: Client, sku: str) -> None:
    assert client.get(f"/api/catalog/products/{sku}").status_code in (404, 422)
    assert client.get(f"/api/inventory/stock/{sku}").status_code in (404, 422)


# --- errors and paths ---------------------------------------------------------------------------
class BrokenCatalog(Catalog):
    def get_product(self, sku: str) -> ProductDTO:
        raise RuntimeError("database password is hunter2")

    def get_products(self, skus: list[str]) -> list[ProductDTO]:
        raise RuntimeError("database password is hunter2")


def test_an_implementation_error_is_a_generic_500_with_an_error_id_and_a_logged_traceback(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with override_contract(Catalog, BrokenCatalog()), caplog.at_level(logging.ERROR, logger="seams.api"):
        r = client.post("/api/orders/", {"lines": [{"sku": "KB-101", "quantity": 1}]}, content_type=JSON, headers=customer())

    assert r.status_code == 500
    body = r.json()
    assert body["code"] == "seams.InternalError" and len(body["error_id"]) == 32
    assert "hunter2" not in r.content.decode() and "Traceback" not in r.content.decode()
    [record] = [rec for rec in caplog.records if getattr(rec, "error_id", None) == body["error_id"]]
    assert record.exc_info and "hunter2" in str(record.exc_info[1])
    assert Order.objects.count() == 0


@pytest.mark.parametrize("path", ["/api/nope", "/api/orders", "/api/catalog/products", "/api/catalog/products/KB-101/", "/api/x/y/z"])
def test_unknown_paths_and_slash_mismatches_under_api_are_json_404(client: Client, path: str) -> None:
    r = client.get(path)

    assert r.status_code == 404, (path, r.status_code)
    assert r["Content-Type"].startswith("application/json")
    assert r.json()["code"] == "seams.NotFound"


def test_a_7kb_trace_header_is_neither_echoed_nor_stored(client: Client) -> None:
    huge = "t" * 7000
    r = client.post(
        "/api/orders/",
        {"lines": [{"sku": "KB-101", "quantity": 1}]},
        content_type=JSON,
        headers={**customer(), "traceparent": huge, "tracestate": huge, "X-Seams-Trace-Id": huge},
    )

    assert r.status_code == 201
    assert all(huge not in value for value in r.headers.values())
    stored = [json.dumps(row.headers) for row in Publication.objects.using("orders").all()]  # each holds its event
    assert stored and all(huge not in headers and len(headers) < 1024 for headers in stored)


@pytest.mark.parametrize("path", ["/api/%E2%98%83", "/api/catalog/products/%E2%98%83", "/admin/%F0%9F%98%84/", "/api/caf%C3%A9", "/api/%FF%FE"])
def test_a_path_beyond_latin_1_is_answered_not_a_server_error(client: Client, path: str) -> None:
    """OpenTelemetry's Django middleware rebuilt the URL from ``PATH_INFO`` as Latin-1 and raised on
    anything beyond it: a 500 on every path while tracing is on (extraction/paths.py)."""
    response = client.get(path)
    if path.startswith("/admin/"):
        assert response.status_code == 302, response.status_code  # to the login page
    else:
        assert response.status_code in (404, 422), response.status_code  # no such route / not a product id
