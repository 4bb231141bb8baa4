"""extraction/gateway.py: which requests the gateway takes, decided per request from the settings,
and its configuration from the environment."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from contracts.kernel import ConfigurationError
from extraction.bindings import gateway_from_env
from tests.support.tokens import customer

DEAD = "http://127.0.0.1:9"  # discard port: nothing answers

pytestmark = pytest.mark.django_db(databases="__all__")


def operator_detail(caplog: pytest.LogCaptureFixture, response: object) -> str:
    """The gateway's log line under the error id of ``response`` (the client sees only the id)."""
    error_id = response.json()["error_id"]  # type: ignore[attr-defined]
    (record,) = [r for r in caplog.records if getattr(r, "error_id", None) == error_id]
    return record.getMessage()


def test_a_module_bound_over_http_is_forwarded_and_a_dead_service_is_a_503(caplog: pytest.LogCaptureFixture) -> None:
    with override_settings(SEAMS_BINDINGS={"catalog": {"TRANSPORT": "http", "URL": DEAD, "MODULE": "catalog"}}):
        r = Client().get("/api/catalog/products/KB-101")
    assert r.status_code == 503 and r.json()["code"] == "seams.ServiceUnavailable"
    assert DEAD.encode() not in r.content and b"127.0.0.1" not in r.content  # no host for the client
    assert f"the catalog service at {DEAD} could not be reached" in operator_detail(caplog, r)
    assert r["Retry-After"] == "5"


def test_the_decision_is_per_request_so_an_unbound_module_is_served_here_again() -> None:
    """The URLconf is built once; a binding seen while it was built must not stick (it did)."""
    with override_settings(SEAMS_BINDINGS={"catalog": {"TRANSPORT": "http", "URL": DEAD, "MODULE": "catalog"}}):
        assert Client().get("/api/catalog/products/NOPE").status_code == 503
    assert Client().get("/api/catalog/products/NOPE").status_code == 404  # served in-process


def test_an_explicit_target_wins_over_the_binding(caplog: pytest.LogCaptureFixture) -> None:
    gateway = {"ENABLED": True, "TARGETS": {"catalog": "http://127.0.0.1:1"}, "TIMEOUT": 5.0}
    with override_settings(
        SEAMS_BINDINGS={"catalog": {"TRANSPORT": "http", "URL": DEAD}}, SEAMS_GATEWAY=gateway
    ):
        r = Client().get("/api/catalog/products/X")
    assert "http://127.0.0.1:1" in operator_detail(caplog, r)


def test_a_celery_bound_module_without_a_target_tells_the_operator_which_variable_to_set(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with override_settings(SEAMS_BINDINGS={"catalog": {"TRANSPORT": "celery", "QUEUE": "q"}}):
        r = Client().get("/api/catalog/products/X")
    assert r.status_code == 503 and b"SEAMS_GATEWAY" not in r.content and r["Retry-After"] == "5"
    assert "SEAMS_GATEWAY_CATALOG" in operator_detail(caplog, r)


def test_with_the_gateway_off_an_extracted_modules_paths_are_not_found() -> None:
    gateway = {"ENABLED": False, "TARGETS": {}, "TIMEOUT": 5.0}
    with override_settings(SEAMS_BINDINGS={"catalog": {"TRANSPORT": "http", "URL": DEAD}}, SEAMS_GATEWAY=gateway):
        r = Client().get("/api/catalog/products/X")
    assert r.status_code == 404 and "served by its own service" in r.json()["detail"]


def test_paths_of_other_modules_and_outside_the_api_pass_through() -> None:
    with override_settings(SEAMS_BINDINGS={"catalog": {"TRANSPORT": "http", "URL": DEAD}}):
        assert Client(headers=customer()).get("/api/orders/999999").status_code == 404
        assert Client().get("/health/live").status_code == 200


def test_gateway_settings_from_the_environment() -> None:
    env = {"SEAMS_GATEWAY_CATALOG": "http://catalog:8000/", "SEAMS_GATEWAY_TIMEOUT": "12"}
    assert gateway_from_env(env, ["catalog", "orders"]) == {
        "ENABLED": True, "TARGETS": {"catalog": "http://catalog:8000"}, "TIMEOUT": 12.0
    }
    assert gateway_from_env({"SEAMS_GATEWAY": "off"}, ["catalog"])["ENABLED"] is False
    with pytest.raises(ConfigurationError, match="SEAMS_GATEWAY_TIMEOUT"):
        gateway_from_env({"SEAMS_GATEWAY_TIMEOUT": "soon"}, [])
    with pytest.raises(ConfigurationError, match="SEAMS_GATEWAY_CATALOG"):
        gateway_from_env({"SEAMS_GATEWAY_CATALOG": "catalog:8000"}, ["catalog"])


# --- the keep-alive race (the service closed the pooled connection as the request reached it) -------
def test_an_idempotent_request_meeting_the_keep_alive_race_is_sent_again_on_a_fresh_connection() -> None:
    """A public GET through the gateway is not a 503 because the service's keep-alive ran out the
    instant it was sent (RFC 9110 9.2.2: browsers and urllib3 resend an idempotent request then)."""
    from tests.support.keepalive_race import ClosesAsTheRequestArrives

    server = ClosesAsTheRequestArrives()
    try:
        with override_settings(SEAMS_BINDINGS={"catalog": {"TRANSPORT": "http", "URL": server.url, "MODULE": "catalog"}}):
            answers = [Client().get("/api/catalog/products/KB-101") for _ in range(2)]
            deleted = Client().delete("/api/catalog/products/KB-101")
        assert [a.status_code for a in answers] == [200, 200] and answers[1].json() == {"ok": True}
        assert deleted.status_code == 200
        assert server.request_lines == ["GET /api/catalog/products/KB-101 HTTP/1.1"] * 2 + ["DELETE /api/catalog/products/KB-101 HTTP/1.1"]
        assert server.connections == 3  # each resend on a new connection
    finally:
        server.close()


def test_a_post_meeting_the_keep_alive_race_is_a_503_not_sent_twice(caplog: pytest.LogCaptureFixture) -> None:
    """A POST may have taken effect: the client decides whether to repeat it (Retry-After)."""
    from tests.support.keepalive_race import ClosesAsTheRequestArrives

    server = ClosesAsTheRequestArrives()
    try:
        with override_settings(SEAMS_BINDINGS={"catalog": {"TRANSPORT": "http", "URL": server.url, "MODULE": "catalog"}}):
            first = Client().get("/api/catalog/products/KB-101")
            posted = Client().post("/api/catalog/products", data={"sku": "X"}, content_type="application/json")
        assert first.status_code == 200
        assert posted.status_code == 503 and posted["Retry-After"] == "5"
        assert "StaleConnection" in operator_detail(caplog, posted)
        assert server.request_lines == ["GET /api/catalog/products/KB-101 HTTP/1.1"]  # the POST never answered
    finally:
        server.close()
