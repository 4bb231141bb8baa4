"""/health/ready tells the truth about what the monolith depends on now: a bound service that is down
or a Celery queue nobody consumes shows as degraded (200, with the reason), and an extracted
module's old database is no longer checked."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from django.test import Client, override_settings

from extraction.dependencies import check_bound_services, check_workers
from tests.support.processes import free_port, gunicorn, project_env

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

#: A Redis database of the console tests' own: no worker of anyone else's listens on it.
BROKER = "redis://127.0.0.1:6379/3"


def http_binding(url: str) -> dict[str, dict[str, str]]:
    return {"catalog": {"TRANSPORT": "http", "MODULE": "catalog", "URL": url, "TIMEOUT": "5"}}


def test_a_bound_service_that_is_down_makes_the_monolith_degraded_not_unavailable() -> None:
    down = f"http://127.0.0.1:{free_port()}"
    with override_settings(SEAMS_BINDINGS=http_binding(down), SEAMS_HEALTH_TIMEOUT=1):
        response = Client().get("/health/ready")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "degraded"
    assert body["degraded"] == ["service:catalog"]
    assert "failed" not in body
    check = body["checks"]["service:catalog"]
    assert check["ok"] is False and check["url"] == down and check["error"].startswith("unreachable: ConnectError")


def test_the_extracted_modules_old_database_is_no_longer_checked() -> None:
    with override_settings(SEAMS_BINDINGS=http_binding(f"http://127.0.0.1:{free_port()}"), SEAMS_HEALTH_TIMEOUT=1):
        checks = Client().get("/health/ready").json()["checks"]
    assert "database:catalog" not in checks
    assert checks["database:orders"] == {"ok": True}


def test_scope_local_leaves_the_remote_checks_out() -> None:
    with override_settings(SEAMS_BINDINGS=http_binding(f"http://127.0.0.1:{free_port()}"), SEAMS_HEALTH_TIMEOUT=1):
        response = Client().get("/health/ready?scope=local")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
    assert "service:catalog" not in response.json()["checks"]


def answering(status: int, body: dict[str, object]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(status, json=body)))


def test_a_service_that_is_not_ready_is_reported_with_what_it_lacks() -> None:
    with override_settings(SEAMS_BINDINGS=http_binding("http://catalog.internal:8000")):
        results = check_bound_services(1, client=answering(503, {"status": "unavailable", "failed": ["database:catalog"]}))
    assert results == {
        "service:catalog": {
            "ok": False,
            "url": "http://catalog.internal:8000",
            "error": "http://catalog.internal:8000/health/ready answered 503 (failed: database:catalog)",
        }
    }


def test_the_service_is_asked_for_its_local_readiness_once_per_url() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, json={"status": "ready"})

    bindings = {**http_binding("http://svc:8000"), "orders": {"TRANSPORT": "http", "MODULE": "orders", "URL": "http://svc:8000"}}
    with override_settings(SEAMS_BINDINGS=bindings):
        results = check_bound_services(1, client=httpx.Client(transport=httpx.MockTransport(handler)))
    assert set(results) == {"service:catalog", "service:orders"} and all(r["ok"] for r in results.values())
    assert asked == ["http://svc:8000/health/ready?scope=local"]


def test_a_celery_queue_nobody_consumes_makes_the_monolith_degraded() -> None:
    queue = f"seams.rpc.console-{uuid.uuid4().hex[:8]}"
    binding = {"catalog": {"TRANSPORT": "celery", "MODULE": "catalog", "QUEUE": queue, "TIMEOUT": "5"}}
    with override_settings(SEAMS_BINDINGS=binding, CELERY_BROKER_URL=BROKER, SEAMS_HEALTH_WORKER_WAIT=0.5):
        response = Client().get("/health/ready")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["ok"] is True
    assert body["degraded"] == [f"workers:{queue}"]
    assert f"no worker consumes {queue} (contract calls to catalog)" in body["checks"][f"workers:{queue}"]["error"]


def test_a_queue_with_a_worker_is_healthy_and_names_it() -> None:
    results = check_workers({"seams.rpc.catalog": "contract calls to catalog"}, 1, consumers={"seams.rpc.catalog": ["w1@host"]})
    assert results == {"workers:seams.rpc.catalog": {"ok": True, "workers": ["w1@host"]}}


@pytest.mark.e2e
def test_a_bound_service_that_is_up_is_healthy(tmp_path: Path) -> None:
    """A real gunicorn process plays the catalog service (the monolith serves catalog too)."""
    env = project_env({"SEAMS_VAR_DIR": str(tmp_path / "var")})
    with gunicorn(env, log=tmp_path / "gunicorn.log") as base:
        with override_settings(SEAMS_BINDINGS=http_binding(base)):
            response = Client().get("/health/ready")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ready"
    assert response.json()["checks"]["service:catalog"] == {"ok": True, "url": base}
