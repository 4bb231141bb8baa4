"""Gunicorn hooks for Prometheus' multiprocess mode: ``gunicorn -c python:contracts.kernel.telemetry.gunicorn``.

With ``PROMETHEUS_MULTIPROC_DIR`` set, each worker writes its metrics to files in that directory.
When a worker exits, its live gauges (``seams_breaker_state``) must stop counting, or a breaker a
dead worker saw open would stay open on every scrape: ``child_exit`` tells prometheus-client.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["child_exit"]


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
