"""extraction/health.py: /health/live and /health/ready against the real test databases and Redis."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.test import Client, override_settings

from tests.support.processes import free_port, gunicorn, project_env

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

DEAD_BROKER = f"redis://127.0.0.1:{free_port()}/0"
CELERY_EVENTS = {**settings.SEAMS_EVENTS, "DISPATCH": "celery"}


def test_live_is_200_while_the_process_serves() -> None:
    response = Client().get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "live"}
    assert "no-cache" in response["Cache-Control"]


def test_ready_is_200_with_every_database_checked() -> None:
    response = Client().get("/health/ready")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready"
    assert {f"database:{alias}" for alias in settings.DATABASES} <= set(body["checks"])
    assert all(check["ok"] for check in body["checks"].values())


def test_an_embedded_monolith_does_not_need_the_broker() -> None:
    with override_settings(CELERY_BROKER_URL=DEAD_BROKER, SEAMS_HEALTH_BROKER="auto"):
        response = Client().get("/health/ready")
    assert response.status_code == 200
    assert "skipped" in response.json()["checks"]["broker"]


@override_settings(SEAMS_EVENTS=CELERY_EVENTS)
def test_ready_checks_the_broker_when_events_go_through_celery() -> None:
    response = Client().get("/health/ready")
    assert response.status_code == 200, response.content
    assert response.json()["checks"]["broker"]["ok"] is True


@pytest.mark.parametrize(
    "overrides",
    [
        {"SEAMS_EVENTS": CELERY_EVENTS},
        {"SEAMS_BINDINGS": {"catalog": {"TRANSPORT": "celery", "QUEUE": "seams.rpc.catalog", "TIMEOUT": "5"}}},
        {"SEAMS_HEALTH_BROKER": "always"},
    ],
    ids=["celery-events", "celery-binding", "always"],
)
def test_ready_is_503_naming_the_broker_when_it_is_down(overrides: dict[str, object]) -> None:
    with override_settings(CELERY_BROKER_URL=DEAD_BROKER, SEAMS_HEALTH_TIMEOUT=1, **overrides):
        response = Client().get("/health/ready")
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"]["ok"] is False
    assert str(DEAD_BROKER.split("//")[1].split("/")[0]) in body["checks"]["broker"]["error"]
    assert all(result["ok"] for name, result in body["checks"].items() if name.startswith("database:"))


def test_without_details_a_probe_reads_no_host_and_the_log_has_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    """Anyone who reaches the port reads /health/ready: with details off (DEBUG off) it names the
    failed check and an error id, never the broker's host, port or the exception."""
    with override_settings(CELERY_BROKER_URL=DEAD_BROKER, SEAMS_HEALTH_TIMEOUT=1, SEAMS_HEALTH_BROKER="always", SEAMS_HEALTH_DETAILS=False):
        response = Client().get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["broker"]
    broker = body["checks"]["broker"]
    assert set(broker) == {"ok", "error_id"} and broker["ok"] is False
    host = DEAD_BROKER.split("//")[1].split("/")[0]
    assert host not in response.content.decode() and "redis" not in response.content.decode().lower()
    (logged,) = [r for r in caplog.records if getattr(r, "error_id", None) == broker["error_id"]]
    assert logged.name == "seams.health" and host in logged.getMessage()


def test_never_skips_the_broker_check() -> None:
    with override_settings(CELERY_BROKER_URL=DEAD_BROKER, SEAMS_EVENTS=CELERY_EVENTS, SEAMS_HEALTH_BROKER="never"):
        assert Client().get("/health/ready").status_code == 200


def test_only_get_is_allowed() -> None:
    assert Client().post("/health/ready").status_code == 405


@pytest.mark.e2e
def test_a_server_process_whose_database_and_broker_are_down_is_live_but_not_ready(tmp_path: Path) -> None:
    """A real gunicorn process started against a PostgreSQL port and a broker port nobody listens on."""
    env = project_env(
        {
            "SEAMS_VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/seams",
            "CELERY_BROKER_URL": DEAD_BROKER,
            "SEAMS_HEALTH_BROKER": "always",
            "DEBUG": "false",
        }
    )
    with gunicorn(env, log=tmp_path / "gunicorn.log") as base:
        assert httpx.get(f"{base}/health/live").status_code == 200
        response = httpx.get(f"{base}/health/ready", timeout=30)
    assert response.status_code == 503
    body = response.json()
    assert "broker" in body["failed"] and "database:catalog" in body["failed"]
    assert not body["checks"]["database:default"]["ok"]
    assert "127.0.0.1" not in response.text and "error" not in body["checks"]["broker"]  # DEBUG off: no detail
