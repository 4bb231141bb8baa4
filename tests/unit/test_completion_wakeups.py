"""The flusher thread is woken (``Condition.notify``) only when a mark would otherwise wait past its
delay: each wake-up hands that thread the GIL, and on a loaded machine the publishing thread then
waited up to 20 ms to get it back, once per batch of marks. Pinned, by counting the notifies: a
first mark wakes a thread that waits to be woken; a mark that comes while the thread waits for an
earlier deadline (a ride just took the last batch), or polls after its last write
(``IDLE_POLLS``), wakes nothing and is still written by that thread; after the polls it waits to
be woken again, and the next first mark wakes it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.test import override_settings

from contracts.kernel.models import Publication
from contracts.kernel.outbox.completions import IDLE_POLLS, DeferredCompletions
from tests.support.waiting import eventually

#: Long enough that the polls after a write (IDLE_POLLS of them, 4 s) outlast a busy machine's pauses.
EVENTS = {"COMPLETION_DELAY": 0.5, "COMPLETION_BATCH": 100}


class CountingCondition(threading.Condition):
    """The flusher thread's condition, its notifies counted."""

    def __init__(self, lock: Any) -> None:
        super().__init__(lock)
        self.notified = 0

    def notify(self, n: int = 1) -> None:
        self.notified += 1
        super().notify(n)


class Writes:
    def __init__(self) -> None:
        self.written: list[list[int]] = []
        self.done = threading.Condition()

    def __call__(self, alias: str, publications: list[Publication], worker: str) -> None:
        with self.done:
            self.written.append([p.pk for p in publications])
            self.done.notify_all()


def completions() -> tuple[DeferredCompletions, CountingCondition, Writes]:
    writes = Writes()
    marks = DeferredCompletions(writer=writes)
    marks._due = CountingCondition(marks._lock)
    return marks, marks._due, writes


def until(check: Callable[[], bool]) -> None:
    eventually("the flusher thread's state", check, every=0.005)


def written(writes: Writes, count: int) -> None:
    with writes.done:
        assert writes.done.wait_for(lambda: len(writes.written) >= count, 30)


def mark(pk: int) -> list[Publication]:
    return [Publication(pk=pk)]


@override_settings(SEAMS_EVENTS=EVENTS)
def test_a_first_mark_wakes_the_thread_only_when_it_waits_to_be_woken() -> None:
    marks, due, writes = completions()
    marks.add("orders", mark(1), "w")  # no thread yet: started, nothing to wake
    written(writes, 1)
    until(lambda: 0 < marks._wakes_at < float("inf"))  # after its write it polls
    notified = due.notified
    marks.add("orders", mark(2), "w")  # it looks again before this one is due
    written(writes, 2)
    assert due.notified == notified and writes.written == [[1], [2]]
    until(lambda: marks._wakes_at == float("inf"))  # IDLE_POLLS later it waits to be woken
    marks.add("orders", mark(3), "w")
    assert due.notified == notified + 1
    written(writes, 3)
    assert writes.written == [[1], [2], [3]] and IDLE_POLLS >= 1


@override_settings(SEAMS_EVENTS={**EVENTS, "COMPLETION_DELAY": 10})
def test_a_mark_after_a_waiting_deadline_wakes_nothing() -> None:
    marks, due, writes = completions()
    marks.add("orders", mark(1), "w")
    until(lambda: 0 < marks._wakes_at < float("inf"))  # it waits for mark 1's deadline, 10 s away
    with marks._lock:
        taken = marks._take(("orders", "w"))  # as a ride takes them (its transaction then commits)
    assert [p.pk for p in taken] == [1]
    notified = due.notified
    marks.add("orders", mark(2), "w")  # due after that deadline: no wake-up needed
    assert due.notified == notified
    marks.flush()
    assert writes.written == [[2]]
