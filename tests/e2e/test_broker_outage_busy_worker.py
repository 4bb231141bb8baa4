"""A Celery worker that is *busy* when Redis goes away (it holds an unacknowledged, late-acked task
and waits on BRPOP for the next one) stays up, and consumes again once Redis is back.

With celery 5.7.0 / kombu 5.7.0 / redis-py 8.1.0 such a worker exited for good ("Unrecoverable
error: AttributeError("'NoneType' object has no attribute 'hostname'")" from
``restore_unacked_once``); the cause and the fix are in ``extraction/celery/redis_transport.py``.
The worker is the project's own (``app.settings``, so the broker transport the settings choose),
with one slow task added by ``tests/support/busy_celery.py``; the broker is a private redis-server.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery

from tests.support.busy_celery import QUEUE
from tests.support.processes import BIN, project_env
from tests.support.services import wait_for_worker
from tests.support.stack import PrivateRedis, Process

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.own_stack]

#: A deadline for what the worker must show (not a measurement).
PATIENCE = 90.0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


def eventually(what: str, probe: Callable[[], bool], worker: Process) -> None:
    deadline = time.monotonic() + PATIENCE
    while not probe():
        if not worker.running:
            raise AssertionError(f"{what}: the worker exited\n{worker.tail(60)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {PATIENCE} s\n{worker.tail(60)}")
        time.sleep(0.2)


def test_a_busy_worker_survives_redis_going_away_and_consumes_again(tmp_path: Path, broker: PrivateRedis) -> None:
    env = project_env({"CELERY_BROKER_URL": broker.url, "CELERY_RESULT_BACKEND": broker.url,
                       "SEAMS_VAR_DIR": str(tmp_path / "var")})
    command = [str(BIN / "celery"), "-A", "tests.support.busy_celery", "worker", "-Q", QUEUE, "-c", "2",
               "-n", "busy@%h", "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"]
    worker = Process("busy-worker", command, env, tmp_path).start()
    client = Celery(broker=broker.url, set_as_current=False)
    try:
        wait_for_worker(worker)
        log = lambda: worker.log.read_text(errors="replace")  # noqa: E731
        first, second = tmp_path / "first", tmp_path / "second"

        # Busy: one slow late-acked task running, the other slot waiting on the broker.
        client.send_task("tests.busy.sleep", args=[str(first), 6.0], queue=QUEUE)
        eventually("the slow task starting", lambda: Path(f"{first}.started").exists(), worker)

        broker.stop()
        eventually("the worker noticing the broker is gone", lambda: "Connection to broker lost" in log(), worker)
        # The worker closed its broken connection and entered its reconnect loop: it survived.
        eventually("the worker retrying the broker", lambda: "Cannot connect to" in log(), worker)
        assert "Unrecoverable error" not in log()

        broker.start()
        client.send_task("tests.busy.sleep", args=[str(second), 0.0], queue=QUEUE)
        eventually("a task sent after the outage running", lambda: Path(f"{second}.done").exists(), worker)
        eventually("the task that was running finishing", lambda: Path(f"{first}.done").exists(), worker)
        assert worker.running and "Unrecoverable error" not in log()
    finally:
        client.close()
        worker.stop()
