"""A Celery app that records the tasks it is asked to send instead of sending them.

With ``SEAMS_EVENTS['DISPATCH'] = 'celery'`` the outbox's ``CeleryDispatcher`` runs its own code
(reads the publications' queues, cuts them into drain batches, carries claims) and hands each
message to ``celery.current_app.send_task``. Make a ``RecordingCelery`` the current app and nothing
reaches a broker or a handler: the bench (``bench/outbox_claim.py``) times the outbox's SQL, and a
test (``tests/integration/events/test_outbox_indexes_sqlite.py``) sees only the statements of the
operation it explains, with the tasks it would have sent to look at.

A subclass of the real ``Celery`` (the contract the dispatcher calls), not a mock: everything but
``send_task`` is Celery's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from celery import Celery


@dataclass(frozen=True)
class SentTask:
    name: str
    args: tuple[Any, ...]
    queue: str | None


class RecordingCelery(Celery):
    """``send_task`` appends a :class:`SentTask` to ``sent`` and returns; no broker is contacted."""

    def __init__(self, main: str = "recording") -> None:
        super().__init__(main, broker="memory://", set_as_current=False)
        self.sent: list[SentTask] = []

    def send_task(self, name: str, args: Any = None, kwargs: Any = None, **options: Any) -> None:  # type: ignore[override]
        self.sent.append(SentTask(name, tuple(args or ()), options.get("queue")))

    @property
    def publications(self) -> list[Any]:
        """The publication ids sent, in order (a drain task's list flattened)."""
        ids: list[Any] = []
        for task in self.sent:
            first = task.args[1]
            ids.extend(first if isinstance(first, list) else [first])
        return ids

    @contextmanager
    def as_current(self) -> Iterator[RecordingCelery]:
        """Celery's current app inside the block (``send_task`` by name goes to it), the previous after."""
        from celery import _state

        previous = _state.get_current_app()
        self.set_current()
        try:
            yield self
        finally:
            previous.set_current()
