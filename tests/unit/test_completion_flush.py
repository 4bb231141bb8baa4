"""A flush of every alias (at exit, at a Celery worker's shutdown, before counting) returns only once
every mark this process had is written, the flusher thread's write in flight included.

The bug it pins: three gunicorn workers stopped at once; each one's flusher thread had taken its
last marks and was waiting for the orders SQLite file's lock when the interpreter exited; the exit
flush found nothing left to write, the daemon thread died, and ten publications stayed
``processing`` until their lease ran out (tests/e2e/test_embedded_concurrency.py, CI of stop 13).
"""

from __future__ import annotations

import threading
import time

import pytest
from django.test import override_settings

from contracts.kernel.models import Publication
from contracts.kernel.outbox.completions import DeferredCompletions

EVENTS = {"COMPLETION_DELAY": 0.01}


class SlowWrites:
    """A writer whose writes block until released, recording what it wrote."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.written: list[tuple[str, list[int], str]] = []

    def __call__(self, alias: str, publications: list[Publication], worker: str) -> None:
        self.started.set()
        assert self.release.wait(10)
        self.written.append((alias, [p.pk for p in publications], worker))


def writing(writer: SlowWrites, *ids: int) -> DeferredCompletions:
    """Marks whose flusher thread has taken ``ids`` (orders' publications) and is writing them."""
    marks = DeferredCompletions(writer=writer)
    with override_settings(SEAMS_EVENTS=EVENTS):
        marks.add("orders", [Publication(pk=i) for i in ids], "worker-a")
        assert writer.started.wait(10)
    return marks


def test_a_full_flush_waits_for_the_flusher_threads_write_in_flight() -> None:
    writer = SlowWrites()
    marks = writing(writer, 1, 2)
    threading.Timer(0.3, writer.release.set).start()
    marks.flush()
    assert writer.written == [("orders", [1, 2], "worker-a")]


def test_a_full_flush_writes_what_waits_and_what_is_in_flight() -> None:
    writer = SlowWrites()
    marks = writing(writer, 1)
    with override_settings(SEAMS_EVENTS={"COMPLETION_DELAY": 60}):
        marks.add("inventory", [Publication(pk=7)], "worker-a")  # waits: the thread is busy, its delay is long
        writer.release.set()
        marks.flush()
    assert sorted(writer.written) == [("inventory", [7], "worker-a"), ("orders", [1], "worker-a")]


def test_a_full_flush_gives_up_on_a_stuck_write_after_its_timeout() -> None:
    writer = SlowWrites()
    marks = writing(writer, 1)
    began = time.monotonic()
    marks.flush(timeout=0.2)  # the lease and the relay take over beyond it
    assert time.monotonic() - began < 5
    writer.release.set()


def test_a_flush_of_one_alias_does_not_wait_for_the_thread() -> None:
    """Before dispatching a held-back publication only what waits must be written: the thread's own
    write dispatches what its marks held back when it ends."""
    writer = SlowWrites()
    marks = writing(writer, 1)
    began = time.monotonic()
    marks.flush("orders")
    assert time.monotonic() - began < 5 and writer.written == []
    writer.release.set()


class FailsOnce:
    """A writer whose first write fails (the file busy beyond its timeout), then writes."""

    def __init__(self) -> None:
        self.calls = 0
        self.written: list[list[int]] = []
        self.done = threading.Event()

    def __call__(self, alias: str, publications: list[Publication], worker: str) -> None:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("database table is locked")
        self.written.append([p.pk for p in publications])
        self.done.set()


def test_a_failed_write_of_the_flusher_thread_is_tried_again() -> None:
    """The marks are not dropped after one failed write (they would leave their publications
    processing until their lease): they wait again and the next write takes them."""
    writer = FailsOnce()
    marks = DeferredCompletions(writer=writer)
    with override_settings(SEAMS_EVENTS=EVENTS):
        marks.add("orders", [Publication(pk=1), Publication(pk=2)], "worker-a")
        assert writer.done.wait(10)
    assert writer.written == [[1, 2]] and writer.calls == 2


class ConnectingWrites(SlowWrites):
    """Writes that use the flusher thread's own connection to ``alias``, as the real ones do."""

    def __init__(self) -> None:
        super().__init__()
        self.release.set()
        self.wrappers: list[object] = []

    def __call__(self, alias: str, publications: list[Publication], worker: str) -> None:
        from django.db import connections

        connections[alias].ensure_connection()
        self.wrappers.append(connections[alias])
        super().__call__(alias, publications, worker)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_flusher_thread_holds_no_connection_once_nothing_waits() -> None:
    """A thread that kept its connection for the life of the process held a PostgreSQL session that
    nothing closes: the test database could not be dropped ("accessed by 1 other session")."""
    from django.db import connections

    if connections["orders"].vendor == "sqlite":
        pytest.skip("SQLite's test databases are in memory, where Django ignores close(); run with DATABASE_URL=postgres://...")
    writer = ConnectingWrites()
    marks = DeferredCompletions(writer=writer)
    with override_settings(SEAMS_EVENTS=EVENTS):
        marks.add("orders", [Publication(pk=1)], "worker-a")
        assert writer.started.wait(10)  # written by the thread, after the delay
        marks.flush()
    (wrapper,) = writer.wrappers
    assert wrapper is not connections["orders"]  # the thread's own
    assert wrapper.connection is None
