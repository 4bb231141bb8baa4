"""A hand-written Celery task doing what ``Catalog.get_product`` does, without Seams.

Workers load it with ``celery -A app worker -I bench.baseline.tasks``. With ``BENCH_TASK_TIMINGS``
set to a file, such a worker also appends ``<task name> <seconds>`` for every task it runs, from
``task_prerun`` to ``task_postrun`` (the bench's view of the worker side of a call).
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import shared_task
from celery.signals import task_postrun, task_prerun

from .api import catalog

TASK_NAME = "bench.raw_get_product"
QUEUE = "bench.raw"
TIMINGS = os.environ.get("BENCH_TASK_TIMINGS", "")

_started: dict[str, float] = {}


@shared_task(name=TASK_NAME)
def raw_get_product(sku: str) -> dict[str, Any]:
    return catalog().get_product(sku).model_dump()


if TIMINGS:
    _out = open(TIMINGS, "a", buffering=1)  # noqa: SIM115 (line-buffered, for the worker's lifetime)

    @task_prerun.connect(weak=False)
    def _prerun(task_id: str = "", **_: Any) -> None:
        _started[task_id] = time.perf_counter()

    @task_postrun.connect(weak=False)
    def _postrun(task_id: str = "", task: Any = None, **_: Any) -> None:
        started = _started.pop(task_id, None)
        if started is not None:
            _out.write(f"{getattr(task, 'name', '?')} {time.perf_counter() - started:.9f}\n")
