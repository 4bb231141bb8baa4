"""Structured logs: one JSON object per line in production, readable lines in development.

``SEAMS_LOG_FORMAT=json`` selects :class:`JsonFormatter` (python-json-logger), ``plain`` (the
default) :class:`PlainFormatter`. Both show every ``extra=`` field a log call passes (``event_id``,
``event_type``, ``handler``...) and, through :class:`ContextFilter`, the current ``trace_id`` and
``span_id`` (OpenTelemetry, also without the SDK when a request carried a ``traceparent``) and the
Seams ``module`` the line is about. Errors logged with ``exc_info`` carry their traceback
(``exc_info`` in JSON). :func:`logging_config` is the ``LOGGING`` setting of the monolith and of
every generated service: one handler on the root logger, so Django's unhandled request errors
(``django.request``) and Celery's failed tasks reach it too.

A JSON line::

    {"time": "2026-12-01T10:12:03.120Z", "level": "ERROR", "logger": "seams.events",
     "message": "Handler ... failed ...", "trace_id": "4bf9...", "span_id": "00f0...",
     "module": "inventory", "event_id": "5d3c...", "event_type": "orders.OrderPlaced",
     "handler": "modules.inventory.handlers.reserve_stock_for_placed_order", "exc_info": "Traceback ..."}
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from . import tracing

__all__ = ["ContextFilter", "JsonFormatter", "PlainFormatter", "logging_config"]

#: Attributes every LogRecord has (plus those Django and this filter add): not "extra" fields.
STANDARD = frozenset(RESERVED_ATTRS) | {"taskName", "request", "server_time", "status_code", "color_message"}
#: What :class:`ContextFilter` adds.
CONTEXT = ("trace_id", "span_id", "seams_module")


def _module_of(record: logging.LogRecord) -> str | None:
    """The Seams module a record is about: an explicit ``seams_module`` extra, the module of the
    handler it names, or the module whose code logged it."""
    from ..modules import module_of

    explicit = getattr(record, "seams_module", None)
    if explicit:
        return str(explicit)
    for name in (getattr(record, "handler", None), record.name):
        if isinstance(name, str) and name:
            try:
                config = module_of(name)
            except Exception:  # before the app registry is ready
                return None
            if config is not None:
                return config.label
    return None


class ContextFilter(logging.Filter):
    """Adds ``trace_id``/``span_id`` of the current span and the Seams module to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "trace_id", None):
            ids = tracing.current_ids()
            record.trace_id, record.span_id = ids if ids else (None, None)
        record.seams_module = _module_of(record)
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in STANDARD and k not in CONTEXT and not k.startswith("_")}


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the context and
    every extra field; ``exc_info`` holds the formatted traceback."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("reserved_attrs", sorted(STANDARD | {"seams_module"}))
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.getMessage()
        for key, out in (("trace_id", "trace_id"), ("span_id", "span_id"), ("seams_module", "module")):
            value = getattr(record, key, None)
            if value:
                log_data[out] = value
        super().add_fields(log_data, record, message_dict)
        for key in ("trace_id", "span_id"):
            if log_data.get(key) is None:
                log_data.pop(key, None)


class PlainFormatter(logging.Formatter):
    """``time LEVEL logger message key=value ...`` for development: the context and the extra
    fields follow the message, the traceback the line."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, style: str = "%", **kwargs: Any) -> None:
        super().__init__(fmt or "%(asctime)s %(levelname)s %(name)s %(message)s", datefmt, style, **kwargs)  # type: ignore[arg-type]

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        line = super().formatMessage(record)
        fields: dict[str, Any] = {}
        if getattr(record, "seams_module", None):
            fields["module"] = record.seams_module
        fields.update(_extras(record))
        if getattr(record, "trace_id", None):
            fields["trace_id"] = record.trace_id
        pairs = " ".join(f"{key}={value}" for key, value in fields.items())
        return f"{line} {pairs}" if pairs else line


#: Celery's loggers of "Task ... received" and "Task ... succeeded in ...s: <answer>".
CELERY_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace")


def logging_config(env: Mapping[str, str]) -> dict[str, Any]:
    """The ``LOGGING`` setting: ``SEAMS_LOG_FORMAT`` (``plain`` | ``json``), ``SEAMS_LOG_LEVEL``
    (Seams' loggers, default INFO), ``SEAMS_CELERY_TASK_LOG_LEVEL`` (Celery's per-task lines,
    default WARNING: failures only) and ``LOG_LEVEL`` (everything else, default WARNING)."""
    kind = env.get("SEAMS_LOG_FORMAT", "plain").strip().lower() or "plain"
    if kind not in ("plain", "json"):
        raise ValueError(f"SEAMS_LOG_FORMAT must be 'plain' or 'json', got {kind!r}")
    formatter = "contracts.kernel.telemetry.logs.JsonFormatter" if kind == "json" else "contracts.kernel.telemetry.logs.PlainFormatter"
    seams_level = env.get("SEAMS_LOG_LEVEL", "INFO")
    task_level = env.get("SEAMS_CELERY_TASK_LOG_LEVEL", "WARNING")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "contracts.kernel.telemetry.logs.ContextFilter"}},
        "formatters": {"seams": {"()": formatter}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "seams", "filters": ["context"]}},
        "root": {"handlers": ["console"], "level": env.get("LOG_LEVEL", "WARNING")},
        "loggers": {
            "seams": {"level": seams_level},
            "modules": {"level": seams_level},
            # Django's own handlers print only under DEBUG; ours print always (unhandled errors
            # included, with their traceback), once.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "celery": {"level": "INFO"},
            # A worker's lines per task received and succeeded (with a repr of the answer) were about
            # a tenth of the catalog worker's CPU per contract call (py-spy); failures are logged at
            # ERROR whatever this says. SEAMS_CELERY_TASK_LOG_LEVEL=INFO brings them back.
            **{name: {"level": task_level} for name in CELERY_TASK_LOGGERS},
        },
    }
