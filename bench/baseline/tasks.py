"""A hand-written Celery task doing what ``Catalog.get_product`` does, without Seams.

Workers load it with ``celery -A app worker -I bench.baseline.tasks``. With ``BENCH_TASK_TIMINGS``
set to a file, such a worker also appends ``<task name> <seconds>`` for every task it runs, from
``task_prerun`` to ``task_postrun`` (the bench's view of the worker side of a call); with
``BENCH_TASK_STAMPS`` it appends ``<task name> <start> <end>`` in wall-clock seconds (``bench/events.py``
reads when a drain ended).

``raw_email_send`` is the events bench's baseline (``bench/events_micro.py``): the hand-written
per-event task doing what the notifications subscriber of ``OrderCancelled`` does (one
``SentEmail`` insert and a mail), with no outbox.
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
STAMPS = os.environ.get("BENCH_TASK_STAMPS", "")
EVENTS_TASK_NAME = "bench.raw_email_send"
EVENTS_QUEUE = "bench.raw.events"

_started: dict[str, float] = {}


@shared_task(name=TASK_NAME)
def raw_get_product(sku: str) -> dict[str, Any]:
    return catalog().get_product(sku).model_dump()


@shared_task(name=EVENTS_TASK_NAME, ignore_result=True)
def raw_email_send(event_id: str, recipient: str, subject: str, body: str) -> None:
    from modules.notifications.services import email_send

    email_send(event_id=event_id, recipient=recipient, subject=subject, body=body)  # type: ignore[arg-type]


if STAMPS:
    _stamps = open(STAMPS, "a", buffering=1)  # noqa: SIM115 (line-buffered, for the worker's lifetime)
    _begun: dict[str, float] = {}

    @task_prerun.connect(weak=False)
    def _stamp_start(task_id: str = "", **_: Any) -> None:
        _begun[task_id] = time.time()

    @task_postrun.connect(weak=False)
    def _stamp_end(task_id: str = "", task: Any = None, **_: Any) -> None:
        _stamps.write(f"{getattr(task, 'name', '?')} {_begun.pop(task_id, 0.0):.6f} {time.time():.6f}\n")


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
