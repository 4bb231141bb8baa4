"""What this process depends on elsewhere: the services its modules are bound to, and the Celery
workers that must consume the queues it sends to.

A module bound to HTTP (``SEAMS_BIND_<M>=http://...``) is healthy when its service answers
``GET <URL>/health/ready?scope=local`` with 200 (``scope=local``: the service reports only its own
databases and broker, so a monolith and a service bound to each other never ask each other in a
loop). A module bound to Celery, and, with ``SEAMS_EVENTS["DISPATCH"] = "celery"``, each module whose
handlers run here, is healthy when at least one worker consumes its queue: a broker that takes the
messages while nobody reads them is an outage the broker check alone cannot see. Workers are asked
once per check with Celery's remote control (``inspect().active_queues()``), waiting
``SEAMS_HEALTH_WORKER_WAIT`` seconds (default 1) for replies.

Both ``/health/ready`` and the operator console use these checks; each result is a dict with
``ok`` and, when not ok, ``error`` (the reason, for a human).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from django.conf import settings

from contracts.kernel import module_configs
from contracts.kernel.remote import is_remote

__all__ = [
    "DEFAULT_WORKER_WAIT",
    "check_bound_services",
    "check_workers",
    "consumed_queues",
    "event_queues",
    "remote_aliases",
    "required_queues",
]

DEFAULT_WORKER_WAIT = 1.0


def _bindings() -> Mapping[str, Mapping[str, Any]]:
    return getattr(settings, "SEAMS_BINDINGS", {}) or {}


def remote_aliases() -> set[str]:
    """Database aliases of installed modules that are served elsewhere: not this process's to check."""
    return {m.database_alias for m in module_configs() if is_remote(m.label)}


def _probe_service(url: str, timeout: float, client: httpx.Client | None) -> dict[str, Any]:
    target = f"{url}/health/ready"
    try:
        response = (client or httpx).get(target, params={"scope": "local"}, timeout=timeout)
    except httpx.HTTPError as exc:
        return {"ok": False, "url": url, "error": f"unreachable: {type(exc).__name__}: {exc}".strip()}
    if response.status_code == 200:
        return {"ok": True, "url": url}
    reason = f"{target} answered {response.status_code}"
    try:
        failed = response.json().get("failed")
    except ValueError:
        failed = None
    if failed:
        reason += f" (failed: {', '.join(map(str, failed))})"
    return {"ok": False, "url": url, "error": reason}


def check_bound_services(timeout: float, client: httpx.Client | None = None) -> dict[str, dict[str, Any]]:
    """``service:<module>`` -> whether the service serving each HTTP-bound module is ready.

    A URL shared by several modules is asked once.
    """
    results: dict[str, dict[str, Any]] = {}
    by_url: dict[str, dict[str, Any]] = {}
    for label, binding in sorted(_bindings().items()):
        if binding.get("TRANSPORT") != "http":
            continue
        url = str(binding["URL"]).rstrip("/")
        if url not in by_url:
            by_url[url] = _probe_service(url, timeout, client)
        results[f"service:{label}"] = by_url[url]
    return results


def event_queues() -> dict[str, str]:
    """With Celery event dispatch, queue -> module for each module served here that handles or
    publishes events (a publication runs on its subscriber's queue, or on its publisher's when the
    subscriber is remote and the envelope is forwarded from there)."""
    events = getattr(settings, "SEAMS_EVENTS", {}) or {}
    if str(events.get("DISPATCH", "inline")) != "celery":
        return {}
    prefix = str(events.get("QUEUE_PREFIX", "seams."))
    return {
        f"{prefix}{m.label}": m.label for m in module_configs() if not is_remote(m.label) and (m.handled_events() or m.publishes)
    }


def required_queues() -> dict[str, str]:
    """Every queue this process sends to that some worker must consume: queue -> what it serves."""
    queues = {
        str(binding["QUEUE"]): f"contract calls to {label}"
        for label, binding in sorted(_bindings().items())
        if binding.get("TRANSPORT") == "celery"
    }
    for queue, label in event_queues().items():
        queues.setdefault(queue, f"events for {label}")
    return queues


def consumed_queues(wait: float) -> dict[str, list[str]]:
    """Queue -> the workers (hostnames) consuming it, from the replies received within ``wait`` seconds."""
    from celery import current_app
    from kombu import Connection

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=wait) as connection:
        replies = current_app.control.inspect(timeout=wait, connection=connection).active_queues() or {}
    consumers: dict[str, list[str]] = {}
    for worker, queues in replies.items():
        for queue in queues or []:
            consumers.setdefault(str(queue.get("name")), []).append(worker)
    return consumers


def check_workers(queues: Mapping[str, str], wait: float, consumers: Mapping[str, Iterable[str]] | None = None) -> dict[str, dict[str, Any]]:
    """``workers:<queue>`` -> whether at least one worker consumes each queue in ``queues``."""
    if not queues:
        return {}
    if consumers is None:
        try:
            consumers = consumed_queues(wait)
        except Exception as exc:  # the broker refused the broadcast: every queue is unserved
            error = f"could not ask the workers: {type(exc).__name__}: {exc}".strip()
            return {f"workers:{queue}": {"ok": False, "error": error} for queue in queues}
    results: dict[str, dict[str, Any]] = {}
    for queue, purpose in queues.items():
        workers = sorted(consumers.get(queue, []))
        if workers:
            results[f"workers:{queue}"] = {"ok": True, "workers": workers}
        else:
            results[f"workers:{queue}"] = {
                "ok": False,
                "error": f"no worker consumes {queue} ({purpose}) among the workers that answered within {wait:g} s",
            }
    return results
