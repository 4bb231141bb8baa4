"""``DeferredCompletions.ride`` asks a tally first, without the lock: every publish rides, the
flusher thread may hold the lock, and most publishes find nothing due. What is pinned: nothing due
takes no lock; once a batch waits, or the oldest mark is half its delay old, the ride takes the
lock and the marks; the tally follows marks taken, put back after a failed write, and forgotten."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

import pytest
from django.test import override_settings

from contracts.kernel.models import Publication
from contracts.kernel.outbox.completions import DeferredCompletions

pytestmark = pytest.mark.django_db(databases=["orders"])

#: Three marks make a batch; the delay is long, so only a full batch is due.
EVENTS = {"COMPLETION_BATCH": 3, "COMPLETION_DELAY": 10}


class CountingLock:
    """The instance's own lock, its acquisitions counted (the conditions keep the lock they wrap)."""

    def __init__(self, lock: Any) -> None:
        self.lock, self.taken = lock, 0

    def __enter__(self) -> bool:
        self.taken += 1
        return bool(self.lock.__enter__())

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.lock.__exit__(kind, exc, tb)


def completions() -> tuple[DeferredCompletions, CountingLock, list[list[int]]]:
    written: list[list[int]] = []
    deferred = DeferredCompletions(writer=lambda alias, marks, worker: written.append([p.pk for p in marks]))
    deferred._start = lambda: None  # type: ignore[method-assign]  # no flusher thread: this test is the only writer
    lock = CountingLock(deferred._lock)
    deferred._lock = lock  # type: ignore[assignment]
    return deferred, lock, written


def marks(*pks: int) -> list[Publication]:
    return [Publication(pk=pk) for pk in pks]


@override_settings(SEAMS_EVENTS=EVENTS)
def test_a_ride_with_nothing_due_takes_no_lock() -> None:
    deferred, lock, _ = completions()
    deferred.ride("orders")  # nothing waits at all
    deferred.add("orders", marks(1, 2), "w")
    deferred.add("catalog", marks(3, 4, 5), "w")  # a batch, but of another database
    lock.taken = 0
    deferred.ride("orders")
    assert lock.taken == 0
    assert deferred._tally["orders"][0] == 2 and deferred._tally["catalog"][0] == 3


@override_settings(SEAMS_EVENTS=EVENTS)
def test_a_full_batch_is_due_and_taking_it_clears_the_tally() -> None:
    deferred, lock, written = completions()
    deferred.add("orders", marks(1, 2), "w")
    deferred.add("orders", marks(3), "other claim")  # the batch counts every claim of the database
    deferred.flush("catalog")
    assert deferred._tally["orders"][0] == 3
    deferred.flush("orders")
    assert sorted(pk for batch in written for pk in batch) == [1, 2, 3]
    assert "orders" not in deferred._tally
    lock.taken = 0
    deferred.ride("orders")
    assert lock.taken == 0


@override_settings(SEAMS_EVENTS={"COMPLETION_BATCH": 100, "COMPLETION_DELAY": 0.001})
def test_marks_half_their_delay_old_are_due_and_ride() -> None:
    deferred, lock, _ = completions()
    deferred.add("orders", marks(1), "w")
    threading.Event().wait(0.01)  # not a timed assertion: the mark is older than its delay, whatever the machine
    lock.taken = 0
    deferred.ride("orders")  # in the test's transaction: the UPDATE runs, its commit never comes
    assert lock.taken >= 1
    assert "orders" not in deferred._tally and deferred.waiting("orders")  # riding, no longer waiting to ride


@override_settings(SEAMS_EVENTS=EVENTS)
def test_marks_put_back_after_a_failed_write_are_tallied_and_discard_forgets_them() -> None:
    deferred, _, _ = completions()
    deferred._failed("orders", "w", marks(7, 8))
    assert deferred._tally["orders"][0] == 2
    deferred.add("orders", marks(9), "w")
    assert deferred._tally["orders"][0] == 3
    deferred.discard()
    assert deferred._tally == {}
