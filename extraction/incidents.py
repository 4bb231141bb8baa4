"""Error ids: what a peer or a client sees of a failure, and what the operator reads in the log.

A failure on the serving side (a handler that raised, an implementation that broke its
declaration, a bug, a module out of reach) must not send its exception text, hosts, URLs or queue
names to whoever asked: that is a map of the system for an attacker, and for a forged request a
way to probe it. It gets a fresh *error id* instead; the details (and the traceback, when there is
an exception) go to the log under that id (``extra={"error_id": ...}``), so the two are
correlated by one search. Every receiver (HTTP contract endpoints and event receiver, Celery
tasks, the public API, the gateway) uses :func:`record`.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

__all__ = ["new_error_id", "record"]


def new_error_id() -> str:
    """32 hex characters, unique enough to find one log record among all services' logs."""
    return uuid.uuid4().hex


def record(
    logger: logging.Logger,
    message: str,
    *args: Any,
    exc: BaseException | None = None,
    level: int = logging.ERROR,
    **extra: Any,
) -> str:
    """Log ``message % args`` under a fresh error id (with ``exc``'s traceback); returns the id.

    The id is appended to the message and set as the record's ``error_id`` attribute, so a plain
    text log and a JSON log both carry it."""
    error_id = new_error_id()
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    logger.log(level, f"{message} (error id %s)", *args, error_id, exc_info=exc_info, extra={**extra, "error_id": error_id})
    return error_id
