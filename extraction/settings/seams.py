"""Seams' own settings every process shares: contract validation, the outbox, the transports,
the readiness probe's broker check and the logs (docs/events.md, docs/transports.md)."""

from __future__ import annotations

from typing import Any

from contracts.kernel.telemetry.logs import logging_config

from .env import Env

__all__ = ["TRANSPORTS", "seams_defaults"]

#: Transports other than in-process, by name (dotted paths to client factories).
TRANSPORTS = {
    "http": "extraction.http.client.HttpTransport",
    "celery": "extraction.celery.client.CeleryTransport",
}


def seams_defaults(env: Env, *, debug: bool) -> dict[str, Any]:
    """From these variables:

    * ``SEAMS_VALIDATE_CONTRACTS``: validate DTOs on in-process contract calls (default: DEBUG);
    * ``SEAMS_EVENT_BACKEND``: how events reach subscribers (the durable outbox by default);
    * ``SEAMS_EVENT_DISPATCH`` (inline | celery), ``_MAX_ATTEMPTS``, ``_BACKOFF_BASE``,
      ``_BACKOFF_MAX``, ``_LEASE``, ``_STALE_AFTER``, ``_COMPLETION``, ``_PREPARED_STATEMENTS``: the
      outbox (docs/events.md);
    * ``SEAMS_HEALTH_BROKER``: /health/ready checks the Celery broker ``auto`` (when events or a
      binding use Celery), ``always`` or ``never``; ``SEAMS_HEALTH_DETAILS``: its answer carries each
      check's reason (URLs, exception text) — default DEBUG, since anyone reaching the port reads it;
    * ``SEAMS_LOG_FORMAT=json`` (one JSON object per line, with trace and span ids, module and event
      fields; plain by default), ``SEAMS_LOG_LEVEL``, ``LOG_LEVEL`` (contracts/kernel/telemetry/logs.py).
    """
    return {
        "SEAMS_VALIDATE_CONTRACTS": env.bool("SEAMS_VALIDATE_CONTRACTS", debug),
        "SEAMS_EVENT_BACKEND": env.str("SEAMS_EVENT_BACKEND", "contracts.kernel.outbox.OutboxEventBackend"),
        "SEAMS_EVENTS": {
            "DISPATCH": env.str("SEAMS_EVENT_DISPATCH", "inline"),
            "MAX_ATTEMPTS": env.int("SEAMS_EVENT_MAX_ATTEMPTS", 6),
            "BACKOFF_BASE": env.float("SEAMS_EVENT_BACKOFF_BASE", 1.0),
            "BACKOFF_MAX": env.float("SEAMS_EVENT_BACKOFF_MAX", 300.0),
            "LEASE": env.float("SEAMS_EVENT_LEASE", 60.0),
            "STALE_AFTER": env.float("SEAMS_EVENT_STALE_AFTER", 30.0),
            "COMPLETION": env.str("SEAMS_EVENT_COMPLETION", "keep"),
            "PREPARED_STATEMENTS": env.bool("SEAMS_EVENT_PREPARED_STATEMENTS", True),
        },
        "SEAMS_TRANSPORTS": dict(TRANSPORTS),
        "SEAMS_HEALTH_BROKER": env.str("SEAMS_HEALTH_BROKER", "auto"),
        "SEAMS_HEALTH_DETAILS": env.bool("SEAMS_HEALTH_DETAILS", debug),
        "LOGGING": logging_config(env),
    }
