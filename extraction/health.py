"""Health endpoints, the same in the monolith and in every extracted service.

* ``GET /health/live`` — 200 ``{"status": "live"}`` whenever the process serves requests. It checks
  nothing else on purpose: a dependency that is down must not get the process restarted.
* ``GET /health/ready`` — may this process take traffic? It runs every check and answers 200 with
  each result, or 503 naming the checks that failed::

      {"status": "unavailable", "failed": ["broker"],
       "checks": {"database:default": {"ok": true}, ..., "broker": {"ok": false, "error": "..."}}}

  Checks: every configured database alias (``SELECT 1``) and the Celery broker (a connection with a
  short timeout: the ``SEAMS_HEALTH_TIMEOUT`` setting, default 2 seconds). The broker is checked when this
  process uses it (``SEAMS_HEALTH_BROKER="auto"``, the default: events dispatched by Celery, or a
  module bound to the Celery transport), always (``"always"``) or never (``"never"``); an embedded
  monolith without Redis is therefore ready.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

__all__ = ["broker_in_use", "check_broker", "check_databases", "live", "ready"]

DEFAULT_TIMEOUT = 2.0


def _failure(exc: BaseException) -> dict[str, Any]:
    return {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip()}


def check_databases() -> dict[str, dict[str, Any]]:
    """``database:<alias>`` -> result of a ``SELECT 1`` on each configured alias."""
    results: dict[str, dict[str, Any]] = {}
    for alias in settings.DATABASES:
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except Exception as exc:
            results[f"database:{alias}"] = _failure(exc)
        else:
            results[f"database:{alias}"] = {"ok": True}
    return results


def broker_in_use() -> bool:
    """Whether /health/ready checks the broker (see the module docstring)."""
    mode = str(getattr(settings, "SEAMS_HEALTH_BROKER", "auto")).strip().lower()
    if mode in {"always", "1", "true", "yes", "on"}:
        return True
    if mode in {"never", "0", "false", "no", "off"}:
        return False
    if str(getattr(settings, "SEAMS_EVENTS", {}).get("DISPATCH", "inline")) == "celery":
        return True
    return any(b.get("TRANSPORT") == "celery" for b in getattr(settings, "SEAMS_BINDINGS", {}).values())


def check_broker(url: str, timeout: float) -> dict[str, Any]:
    """Open (and close) a connection to the Celery broker, giving up after ``timeout`` seconds."""
    from kombu import Connection

    options = {"socket_timeout": timeout, "socket_connect_timeout": timeout, "max_retries": 0}
    connection = Connection(url, connect_timeout=timeout, transport_options=options)
    try:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, interval_max=0, timeout=timeout)
        connection.default_channel  # noqa: B018 - a channel proves the broker answers, not just the socket
    except Exception as exc:
        return {**_failure(exc), "url": connection.as_uri()}
    finally:
        connection.release()
    return {"ok": True, "url": connection.as_uri()}


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "live"})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    checks = check_databases()
    broker_url = getattr(settings, "CELERY_BROKER_URL", "")
    if broker_url and broker_in_use():
        checks["broker"] = check_broker(broker_url, float(getattr(settings, "SEAMS_HEALTH_TIMEOUT", DEFAULT_TIMEOUT)))
    else:
        checks["broker"] = {"ok": True, "skipped": "this process does not use the broker (SEAMS_HEALTH_BROKER)"}
    failed = [name for name, result in checks.items() if not result["ok"]]
    body = {"status": "unavailable" if failed else "ready", "checks": checks}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)
