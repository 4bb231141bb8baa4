"""A Celery worker keeps its database connections between tasks as ``CONN_MAX_AGE`` says
(``extraction/celery/fixup.py``), and still drops them after every task when it is 0.

Celery 5.7's own Django fix-up closed every connection before and after every task whatever
``CONN_MAX_AGE`` said: each outbox delivery reconnected to PostgreSQL (or reopened the SQLite files
and reran their PRAGMAs) once per database alias it touched. The worker here is the project's own
(``app/celery.py``) with a probe task (``tests/support/session_celery.py``) that finds a ``TEMP``
table only on the connection the previous task used; SQLite files of the test's own, or a
throwaway PostgreSQL database when DATABASE_URL is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from tests.support.processes import BIN, project_env, throwaway_database
from tests.support.services import wait_for_worker
from tests.support.session_celery import QUEUE
from tests.support.stack import PrivateRedis, Process

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.mark.parametrize(("max_age", "kept"), [("60", True), ("0", False)], ids=["kept-60s", "closed-max-age-0"])
def test_a_worker_reuses_its_connections_between_tasks_as_conn_max_age_says(
    tmp_path: Path, broker: PrivateRedis, max_age: str, kept: bool
) -> None:
    with throwaway_database(tmp_path) as database:
        env = project_env({**database, "CELERY_BROKER_URL": broker.url, "CELERY_RESULT_BACKEND": broker.url,
                           "DATABASE_CONN_MAX_AGE": max_age})
        command = [str(BIN / "celery"), "-A", "tests.support.session_celery", "worker", "-Q", QUEUE, "-P", "solo",
                   "-n", f"session-{max_age}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"]
        worker = Process("session-worker", command, env, tmp_path).start()
        client = Celery(broker=broker.url, backend=broker.url, set_as_current=False)
        try:
            wait_for_worker(worker)
            answers = [client.send_task("tests.session.kept", args=["orders"], queue=QUEUE).get(timeout=60)
                       for _ in range(3)]
        finally:
            client.close()
            worker.stop()
    assert answers == [False, kept, kept], worker.tail()
