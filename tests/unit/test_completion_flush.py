"""A flush of every alias (at exit, at a Celery worker's shutdown, before counting) returns only once
every mark this process had is written, the flusher thread's write in flight included.

The bug it pins: three gunicorn workers stopped at once; each one's flusher thread had taken its
last marks and was waiting for the orders SQLite file's lock when the interpreter exited; the exit
flush found nothing left to write, the daemon thread died, and ten publications stayed
``processing`` until their lease ran out (tests/e2e/test_embedded_concurrency.py, CI of stop 13).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from contracts.kernel.models import Publication
from contracts.kernel.outbox.completions import DeferredCompletions
from tests.support.waiting import eventually

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
def test_the_flusher_thread_holds_no_connection_once_told_to_close_them() -> None:
    """A thread that kept its connection for the life of the process held a PostgreSQL session that
    nothing closes: the test database could not be dropped ("accessed by 1 other session"). It keeps
    it as ``CONN_MAX_AGE`` says (the tests' PostgreSQL aliases: 60 s) and ``close_connections``
    (at exit, before the test database is dropped) closes it."""
    from django.db import connections

    if connections["orders"].vendor == "sqlite":
        pytest.skip("SQLite's test databases are in memory, where Django ignores close(); run with DATABASE_URL=postgres://...")
    writer = ConnectingWrites()
    marks = DeferredCompletions(writer=writer)
    try:
        with override_settings(SEAMS_EVENTS=EVENTS):
            marks.add("orders", [Publication(pk=1)], "worker-a")
            assert writer.started.wait(10)  # written by the thread, after the delay
            marks.flush()
        (wrapper,) = writer.wrappers
        assert wrapper is not connections["orders"]  # the thread's own
        assert (wrapper.connection is not None) is (wrapper.settings_dict["CONN_MAX_AGE"] != 0)
    finally:
        assert marks.close_connections()
    assert wrapper.connection is None


PROBE = "flusherprobe"  # an alias of the test's own, with the CONN_MAX_AGE it needs


@pytest.fixture
def probe_alias(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, django_db_blocker: pytest.FixtureRequest
) -> Iterator[Callable[[float], list[str]]]:
    """``probe_alias(max_age)``: the alias ``PROBE``, a copy of ``orders`` (on SQLite a file of the
    test's own: an in-memory one never closes) whose connections live ``max_age`` seconds; returns
    the names of the threads that opened one, appended as they connect. No ``django_db`` mark: a
    test case's allowed aliases are fixed before this alias exists; the writes touch no table."""
    from django.db import connections
    from django.db.backends.signals import connection_created

    opened: list[str] = []

    def connected(sender: object, connection: object, **_: object) -> None:
        if getattr(connection, "alias", None) == PROBE:
            opened.append(threading.current_thread().name)

    def configure(max_age: float) -> list[str]:
        settings_dict = {**connections.settings["orders"], "CONN_MAX_AGE": max_age}
        if settings_dict["ENGINE"].endswith("sqlite3"):
            settings_dict["NAME"] = str(tmp_path / "probe.sqlite3")
        monkeypatch.setitem(connections.settings, PROBE, settings_dict)
        return opened

    connection_created.connect(connected)
    try:
        with django_db_blocker.unblock():
            yield configure
    finally:
        connection_created.disconnect(connected)


def _written_twice(writer: ConnectingWrites, marks: DeferredCompletions) -> None:
    """Two writes of the flusher thread, with the thread idle (nothing waiting) between them."""
    with override_settings(SEAMS_EVENTS=EVENTS):
        marks.add(PROBE, [Publication(pk=1)], "worker-a")
        assert writer.started.wait(10)
        time.sleep(0.2)  # the thread is idle: nothing waits
        writer.started.clear()
        marks.add(PROBE, [Publication(pk=2)], "worker-a")
        assert writer.started.wait(10)
        marks.flush()


def _closes(wrapper: object, within: float = 10.0) -> bool:
    """Does ``wrapper`` (a connection of the flusher thread's) close within ``within`` seconds?"""
    with contextlib.suppress(AssertionError):
        eventually("the connection closing", lambda: getattr(wrapper, "connection", None) is None, within, every=0.02)
    return getattr(wrapper, "connection", None) is None


@pytest.mark.parametrize(("max_age", "connects"), [(60, 1), (0, 2)], ids=["kept-60s", "closed-max-age-0"])
def test_the_flusher_thread_keeps_its_connections_as_conn_max_age_says(
    probe_alias: Callable[[float], list[str]], max_age: float, connects: int
) -> None:
    """Until 2026-12-02 every idle moment of the thread closed its connections, whatever
    ``CONN_MAX_AGE`` said: in the extracted services (60 s) a new PostgreSQL connection about every
    tenth order. They are kept as a request's are, and closed by ``close_connections`` (at exit)."""
    opened = probe_alias(max_age)
    writer = ConnectingWrites()
    marks = DeferredCompletions(writer=writer)
    try:
        _written_twice(writer, marks)
        assert opened == ["seams-completions"] * connects
        if max_age == 0:  # closed once the thread, its write ended, finds nothing waiting
            assert _closes(writer.wrappers[-1])
        assert (writer.wrappers[-1].connection is not None) is (max_age > 0)
    finally:
        assert marks.close_connections()
    assert all(wrapper.connection is None for wrapper in writer.wrappers)


def test_a_kept_connection_of_the_idle_flusher_thread_closes_when_its_max_age_runs_out(
    probe_alias: Callable[[float], list[str]],
) -> None:
    probe_alias(0.5)
    writer = ConnectingWrites()
    marks = DeferredCompletions(writer=writer)
    try:
        with override_settings(SEAMS_EVENTS=EVENTS):
            marks.add(PROBE, [Publication(pk=1)], "worker-a")
            assert writer.started.wait(10)
        (wrapper,) = writer.wrappers
        assert _closes(wrapper)  # the thread, waiting for marks, woke to close it
    finally:
        marks.close_connections()
