"""A Celery worker that is *busy* when Redis goes away (it holds an unacknowledged, late-acked task
and waits on BRPOP for the next one) stays up, and consumes again once Redis is back.

With celery 5.7.0 / kombu 5.7.0 / redis-py 8.1.0 such a worker exited for good ("Unrecoverable
error: AttributeError("'NoneType' object has no attribute 'hostname'")" from
``restore_unacked_once``); the cause and the fix are in ``extraction/celery/redis_transport.py``.
The worker is the project's own (``app.settings``, so the broker transport the settings choose),
with one slow task added by ``tests/support/busy_celery.py``, or a generated service's (its own
``service.celery`` app and settings, the same slow task added beside it); the broker is a private
redis-server. Each worker lives through three outages while busy: Redis stopped, started and at
once stopped again (the worker may be half-way through reconnecting), started, then a second
outage after it consumed again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery

from tests.support import waiting
from tests.support.busy_celery import QUEUE, SERVICE_APP
from tests.support.processes import BIN, project_env
from tests.support.services import extract, service_env, wait_for_worker
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
    """``tests.support.waiting.eventually`` while the worker runs, with its log's tail on a timeout."""
    try:
        waiting.eventually(what, probe, PATIENCE, every=0.2, unless=waiting.exited(worker))
    except AssertionError as failed:
        raise AssertionError(f"{failed}\n{worker.tail(60)}") from None


def worker_for(kind: str, broker: PrivateRedis, tmp_path: Path) -> Process:
    """The monolith's worker (``-A tests.support.busy_celery``) or a generated service's (its own
    directory and settings, ``-A busy_service``: the service's app with the slow task)."""
    celery = {"CELERY_BROKER_URL": broker.url, "CELERY_RESULT_BACKEND": broker.url, "SEAMS_VAR_DIR": str(tmp_path / "var")}
    options = ["worker", "-Q", QUEUE, "-c", "2", "-n", f"busy-{kind}@%h",
               "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"]
    if kind == "monolith":
        return Process("busy-worker", [str(BIN / "celery"), "-A", "tests.support.busy_celery", *options], project_env(celery), tmp_path)
    service = extract("notifications", "celery", tmp_path / "out", project_env({"SEAMS_VAR_DIR": str(tmp_path / "var")}))
    isolation = tmp_path / "isolation"
    isolation.mkdir()
    (isolation / "busy_service.py").write_text(SERVICE_APP)
    env = service_env(service, isolation, celery)
    return Process("busy-service-worker", [str(BIN / "celery"), "-A", "busy_service", *options], env, tmp_path, cwd=service)


@pytest.mark.parametrize("kind", ["monolith", "service"])
def test_a_busy_worker_survives_redis_going_away_and_consumes_again(kind: str, tmp_path: Path, broker: PrivateRedis) -> None:
    worker = worker_for(kind, broker, tmp_path).start()
    client = Celery(broker=broker.url, set_as_current=False)
    try:
        wait_for_worker(worker)
        output = worker.output
        for outage in (1, 2):
            first, second = tmp_path / f"first{outage}", tmp_path / f"second{outage}"
            lost, retrying = output().count("Connection to broker lost"), output().count("Cannot connect to")

            # Busy: one slow late-acked task running, the other slot waiting on the broker.
            client.send_task("tests.busy.sleep", args=[str(first), 6.0], queue=QUEUE)
            eventually("the slow task starting", lambda f=first: Path(f"{f}.started").exists(), worker)

            broker.stop()
            eventually("the worker noticing the broker is gone", lambda n=lost: output().count("Connection to broker lost") > n, worker)
            # The worker closed its broken connection and entered its reconnect loop: it survived.
            eventually("the worker retrying the broker", lambda n=retrying: output().count("Cannot connect to") > n, worker)
            assert "Unrecoverable error" not in output()
            if outage == 1:  # back, and gone again at once: twice in a row
                broker.start()
                time.sleep(0.5)
                broker.stop()
                time.sleep(3)

            broker.start()
            client.send_task("tests.busy.sleep", args=[str(second), 0.0], queue=QUEUE)
            eventually("a task sent after the outage running", lambda s=second: Path(f"{s}.done").exists(), worker)
            eventually("the task that was running finishing", lambda f=first: Path(f"{f}.done").exists(), worker)
            assert worker.running and "Unrecoverable error" not in output(), worker.tail(60)
    finally:
        client.close()
        worker.stop()
