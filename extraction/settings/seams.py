"""Seams' own settings every process shares: contract validation, the outbox, the transports,
the readiness probe's broker check and the logs (docs/events.md, docs/transports.md)."""

from __future__ import annotations

from typing import Any

from contracts.kernel.telemetry.logs import logging_config

from .env import FALSE, TRUE, Env

__all__ = ["COMPLETION_MODES", "DISPATCH_MODES", "LOG_LEVELS", "TRANSPORTS", "health_broker", "seams_defaults"]

#: ``SEAMS_EVENT_DISPATCH`` and ``SEAMS_EVENT_COMPLETION`` (contracts.kernel.outbox.config, which
#: imports the outbox: settings only name them, a unit test keeps the two the same).
DISPATCH_MODES = ("inline", "celery")
COMPLETION_MODES = ("keep", "delete", "archive")
#: ``SEAMS_HEALTH_BROKER``; a flag word means always (on) or never (off), as extraction.health reads it.
HEALTH_BROKER = ("auto", "always", "never")
#: ``SEAMS_LOG_FORMAT`` and the levels ``SEAMS_LOG_LEVEL``, ``SEAMS_CELERY_TASK_LOG_LEVEL``, ``LOG_LEVEL`` take.
LOG_FORMATS = ("plain", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

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
      fields; plain by default), ``SEAMS_LOG_LEVEL``, ``SEAMS_CELERY_TASK_LOG_LEVEL``, ``LOG_LEVEL``
      (DEBUG, INFO, WARNING, ERROR or CRITICAL; contracts/kernel/telemetry/logs.py).

    Every value is checked here, at start-up: a word in the wrong case is taken (``SEAMS_LOG_LEVEL=info``),
    anything else stops with a ``ConfigurationError`` naming the variable and what it takes.
    """
    return {
        "SEAMS_VALIDATE_CONTRACTS": env.bool("SEAMS_VALIDATE_CONTRACTS", debug),
        "SEAMS_EVENT_BACKEND": env.dotted("SEAMS_EVENT_BACKEND", "contracts.kernel.outbox.OutboxEventBackend"),
        "SEAMS_EVENTS": {
            "DISPATCH": env.choice("SEAMS_EVENT_DISPATCH", "inline", DISPATCH_MODES),
            "MAX_ATTEMPTS": env.int("SEAMS_EVENT_MAX_ATTEMPTS", 6, at_least=1),
            "BACKOFF_BASE": env.float("SEAMS_EVENT_BACKOFF_BASE", 1.0, at_least=0),
            "BACKOFF_MAX": env.float("SEAMS_EVENT_BACKOFF_MAX", 300.0, at_least=0),
            "LEASE": env.float("SEAMS_EVENT_LEASE", 60.0, above=0),
            "STALE_AFTER": env.float("SEAMS_EVENT_STALE_AFTER", 30.0, at_least=0),
            "COMPLETION": env.choice("SEAMS_EVENT_COMPLETION", "keep", COMPLETION_MODES),
            "PREPARED_STATEMENTS": env.bool("SEAMS_EVENT_PREPARED_STATEMENTS", True),
        },
        "SEAMS_TRANSPORTS": dict(TRANSPORTS),
        "SEAMS_HEALTH_BROKER": health_broker(env),
        "SEAMS_HEALTH_DETAILS": env.bool("SEAMS_HEALTH_DETAILS", debug),
        "LOGGING": logging_config(
            {
                "SEAMS_LOG_FORMAT": env.choice("SEAMS_LOG_FORMAT", "plain", LOG_FORMATS),
                "SEAMS_LOG_LEVEL": env.choice("SEAMS_LOG_LEVEL", "INFO", LOG_LEVELS),
                "SEAMS_CELERY_TASK_LOG_LEVEL": env.choice("SEAMS_CELERY_TASK_LOG_LEVEL", "WARNING", LOG_LEVELS),
                "LOG_LEVEL": env.choice("LOG_LEVEL", "WARNING", LOG_LEVELS),
            }
        ),
    }


def health_broker(env: Env) -> str:
    """``SEAMS_HEALTH_BROKER``: auto, always or never (any case); on/off and the other flag words too."""
    value = env.str("SEAMS_HEALTH_BROKER", "auto").lower()
    if value in TRUE or value in FALSE:
        return "always" if value in TRUE else "never"
    return env.choice("SEAMS_HEALTH_BROKER", "auto", HEALTH_BROKER)
