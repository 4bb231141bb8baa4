"""Health endpoints, the same in the monolith and in every extracted service.

* ``GET /health/live`` — 200 ``{"status": "live"}`` whenever the process serves requests. It checks
  nothing else on purpose: a dependency that is down must not get the process restarted.
* ``GET /health/ready`` — may this process take traffic, and what is it missing? Three answers:

  - 200 ``"ready"``: every check passed;
  - 200 ``"degraded"`` with ``"degraded": [...]``: the process serves, but something it reaches
    elsewhere is down — a bound service (``service:<module>``) or a Celery queue nobody consumes
    (``workers:<queue>``). Only the calls and events that cross to it fail (with 503 and retries);
    answering 503 here would take the whole monolith out of rotation for one module's outage;
  - 503 ``"unavailable"`` with ``"failed": [...]``: its own databases or its broker are down::

      {"status": "unavailable", "failed": ["broker"],
       "checks": {"database:default": {"ok": true}, ..., "broker": {"ok": false, "error": "..."}}}

  Checks: the database alias of every module served here and ``default`` (``SELECT 1``; the alias
  of a module bound to a service is that service's to check, not this process's), the Celery broker
  (a connection with a short timeout: the ``SEAMS_HEALTH_TIMEOUT`` setting, default 2 seconds), and
  what :mod:`extraction.dependencies` reports on bound services and workers. The broker is checked
  when this process uses it (``SEAMS_HEALTH_BROKER="auto"``, the default: events dispatched by
  Celery, or a module bound to the Celery transport), always (``"always"``) or never (``"never"``);
  an embedded monolith without Redis is therefore ready.

  ``?scope=local`` leaves out the remote checks: it is what one process asks of another, so a
  monolith and a service bound to each other never wait on each other in a loop.

What a probe may read: the endpoint is reachable by whoever reaches the port, so with
``SEAMS_HEALTH_DETAILS`` off (the default when ``DEBUG`` is off) each check says only
``{"ok": ...}`` and a failed one its ``error_id``: no URL, host, queue or exception text. The
reason is logged (``seams.health``, WARNING) under that id, and the operator console
(``/console/health.json``, staff only) shows the full detail. ``DEBUG`` on (``make run``, the
tests) or ``SEAMS_HEALTH_DETAILS=true`` answers the detail as well.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .dependencies import DEFAULT_WORKER_WAIT, check_bound_services, check_workers, remote_aliases, required_queues
from .incidents import record

__all__ = ["broker_in_use", "check_broker", "check_databases", "live", "ready", "readiness", "redacted"]

DEFAULT_TIMEOUT = 2.0
logger = logging.getLogger("seams.health")


def _failure(exc: BaseException) -> dict[str, Any]:
    return {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip()}


def check_databases() -> dict[str, dict[str, Any]]:
    """``database:<alias>`` -> result of a ``SELECT 1`` on each alias this process serves (not the
    aliases of modules bound to a service)."""
    results: dict[str, dict[str, Any]] = {}
    elsewhere = remote_aliases()
    for alias in settings.DATABASES:
        if alias in elsewhere:
            continue
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


def readiness(*, local_only: bool = False) -> tuple[int, dict[str, Any]]:
    """Run the checks: (HTTP status, body) of ``/health/ready``."""
    timeout = float(getattr(settings, "SEAMS_HEALTH_TIMEOUT", DEFAULT_TIMEOUT))
    checks = check_databases()
    broker_url = getattr(settings, "CELERY_BROKER_URL", "")
    if broker_url and broker_in_use():
        checks["broker"] = check_broker(broker_url, timeout)
    else:
        checks["broker"] = {"ok": True, "skipped": "this process does not use the broker (SEAMS_HEALTH_BROKER)"}
    failed = [name for name, result in checks.items() if not result["ok"]]
    remote: dict[str, dict[str, Any]] = {}
    if not local_only:
        remote.update(check_bound_services(timeout))
        if checks["broker"]["ok"] and "skipped" not in checks["broker"]:
            wait = float(getattr(settings, "SEAMS_HEALTH_WORKER_WAIT", DEFAULT_WORKER_WAIT))
            remote.update(check_workers(required_queues(), wait))
    degraded = [name for name, result in remote.items() if not result["ok"]]
    checks.update(remote)
    body: dict[str, Any] = {"status": "unavailable" if failed else "degraded" if degraded else "ready", "checks": checks}
    if failed:
        body["failed"] = failed
    if degraded:
        body["degraded"] = degraded
    return (503 if failed else 200), body


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    status, body = readiness(local_only=request.GET.get("scope") == "local")
    if not details_shown():
        body = redacted(body)
    return JsonResponse(body, status=status)


def details_shown() -> bool:
    """``SEAMS_HEALTH_DETAILS`` (default: ``DEBUG``): whether /health/ready answers each check's reason."""
    return bool(getattr(settings, "SEAMS_HEALTH_DETAILS", settings.DEBUG))


def redacted(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with each check reduced to ``ok`` (and an ``error_id`` for a failed one, whose reason
    is logged under that id): what an unauthenticated probe may read."""
    checks: dict[str, dict[str, Any]] = {}
    for name, result in body["checks"].items():
        if result["ok"]:
            checks[name] = {"ok": True}
        else:
            reason = result.get("error", "failed")
            error_id = record(logger, "Readiness check %s failed: %s", name, reason, level=logging.WARNING)
            checks[name] = {"ok": False, "error_id": error_id}
    return {**body, "checks": checks}
