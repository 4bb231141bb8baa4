"""The worker's Django fix-up (``extraction/celery/fixup.py``) around tasks, driven as Celery drives
it (``close_database`` at ``task_prerun`` and ``task_postrun``) on the project's real connections.

A kept connection is health-checked (Django's ``CONN_HEALTH_CHECKS``: ``is_usable()``, a ``SELECT 1``
on PostgreSQL) before its first use at most once per ``HEALTH_CHECK_INTERVAL``, not before every
task; Django's other rules (``CONN_MAX_AGE``, a connection left with an error) still apply at every
task. The real worker is in tests/e2e/test_worker_keeps_connections.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from extraction.celery.fixup import KeptConnectionsWorkerFixup

pytestmark = pytest.mark.django_db(transaction=True, databases=["catalog"])  # autocommit, as in a worker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock)  # Django's CONN_MAX_AGE reads it too
    return clock


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[BaseDatabaseWrapper, list[str]]]:
    """The catalog connection, open and kept (health checks on, no age limit), and the list its
    health checks and closes append to (an in-memory SQLite test database ignores ``close()``)."""
    connection = connections["catalog"]
    connection.ensure_connection()
    pings: list[str] = []
    usable, close = connection.is_usable, connection.close

    def is_usable() -> bool:
        pings.append(connection.alias)
        return usable()

    def closing() -> None:
        pings.append("closed")
        close()

    monkeypatch.setattr(connection, "is_usable", is_usable)
    monkeypatch.setattr(connection, "close", closing)
    monkeypatch.setattr(connection, "health_check_enabled", True)
    monkeypatch.setattr(connection, "close_at", None)
    yield connection, pings


def task(fixup: KeptConnectionsWorkerFixup, connection: BaseDatabaseWrapper, *, uses: bool = True) -> None:
    """What Celery runs around one task: the fix-up, the task's queries, the fix-up."""
    fixup.close_database()
    if uses:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    fixup.close_database()


def worker_fixup() -> KeptConnectionsWorkerFixup:
    return KeptConnectionsWorkerFixup(Celery("fixup-test", set_as_current=False))


def test_a_busy_worker_checks_a_kept_connection_once_per_interval_not_per_task(clock: Clock, checked: Any) -> None:
    connection, pings = checked
    fixup = worker_fixup()
    for _ in range(5):
        task(fixup, connection)
        clock.now += 0.1
    assert pings == ["catalog"]  # Django's rule alone: one per task
    clock.now += 1.0  # a pause longer than the interval: the next task checks again
    task(fixup, connection)
    task(fixup, connection)
    assert pings == ["catalog"] * 2  # and never closed


def test_a_check_that_is_due_waits_for_the_connections_next_use(clock: Clock, checked: Any) -> None:
    connection, pings = checked
    fixup = worker_fixup()
    task(fixup, connection, uses=False)  # the check is let be due, but nothing used the connection
    clock.now += 0.1
    assert pings == []
    task(fixup, connection)  # its next use checks it, within the interval
    assert pings == ["catalog"]


def test_a_connection_left_with_an_error_is_checked_at_once_and_dropped_if_unusable(clock: Clock, checked: Any) -> None:
    connection, pings = checked
    fixup = worker_fixup()
    task(fixup, connection)
    connection.errors_occurred = True
    connection.is_usable = lambda: pings.append("error check") or False  # type: ignore[method-assign]
    fixup.close_database()
    assert pings == ["catalog", "error check", "closed"]


def test_a_connection_past_conn_max_age_is_still_closed_at_the_next_task(clock: Clock, checked: Any) -> None:
    connection, pings = checked
    fixup = worker_fixup()
    task(fixup, connection)
    connection.close_at = clock.now - 1  # Django compares it with time.monotonic()
    fixup.close_database()
    assert pings == ["catalog", "closed"]


class Sender:
    """The task Celery passes to ``task_prerun`` / ``task_postrun`` (its request, run by a worker)."""

    class request:  # noqa: N801 - Celery's attribute
        is_eager = False


def test_a_task_right_after_the_previous_one_on_its_thread_skips_the_pass_before_it(clock: Clock, checked: Any) -> None:
    connection, pings = checked
    fixup = worker_fixup()
    fixup.on_task_postrun(Sender)  # the previous task's pass, on this thread
    connection.close_at = clock.now - 1  # past CONN_MAX_AGE since
    clock.now += 0.5
    fixup.on_task_prerun(Sender)  # within the interval: nothing to redo
    assert pings == []
    fixup.on_task_postrun(Sender)  # the pass after this task applies the age
    assert pings == ["closed"]


def test_a_task_after_a_pause_gets_the_pass_before_it(clock: Clock, checked: Any) -> None:
    connection, pings = checked
    fixup = worker_fixup()
    fixup.on_task_postrun(Sender)
    connection.close_at = clock.now - 1
    clock.now += fixup.HEALTH_CHECK_INTERVAL + 0.1
    fixup.on_task_prerun(Sender)
    assert pings == ["closed"]


def test_the_pass_before_a_task_is_skipped_only_after_a_pass_on_the_same_thread(clock: Clock, checked: Any) -> None:
    import threading

    connection, pings = checked
    fixup = worker_fixup()
    other = threading.Thread(target=fixup.close_database)  # another pool thread's pass: its own connections
    other.start()
    other.join()
    connection.close_at = clock.now - 1
    fixup.on_task_prerun(Sender)  # this thread has had no pass yet
    assert pings == ["closed"]
