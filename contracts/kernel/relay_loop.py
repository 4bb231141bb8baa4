"""The relay as a loop that keeps going: shared by ``manage.py relay_events`` (in the foreground)
and ``manage.py serve`` (in a thread beside the development server, which is what ``make run``
starts).

A pass that fails (the database restarting, a broker that is down while dispatching with Celery)
is logged and the loop carries on: a relay that died on the first hiccup would leave failed
publications waiting for someone to notice. Every pass starts by dropping database connections
that are too old or broken (what Django does around each request), so a long-running relay honours
``CONN_MAX_AGE`` and survives a database restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import close_old_connections

logger = logging.getLogger("seams.relay")

#: One pass: re-dispatch what is due; returns the count per module alias.
RelayPass = Callable[[], dict[str, int]]


def _relay_once() -> dict[str, int]:
    from .outbox import relay_once  # imported late: the outbox imports settings-dependent code

    return relay_once()


class RelayLoop:
    """Run a relay pass every ``interval`` seconds until :meth:`stop` is called."""

    def __init__(
        self,
        interval: float,
        *,
        relay_pass: RelayPass = _relay_once,
        on_pass: Callable[[dict[str, int]], None] | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"The relay interval must be a positive number of seconds, got {interval!r}")
        self.interval = interval
        self.relay_pass = relay_pass
        self.on_pass = on_pass
        self.passes = 0
        self.failures = 0
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Ask the loop to end; safe from a signal handler or another thread."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run_once(self) -> dict[str, int] | None:
        """One pass; ``None`` when it failed (logged with its traceback, never raised)."""
        close_old_connections()
        try:
            sent = self.relay_pass()
        except Exception:
            self.failures += 1
            logger.exception("Relay pass failed; retrying in %gs.", self.interval)
            close_old_connections()
            return None
        finally:
            self.passes += 1
        if self.on_pass is not None:
            self.on_pass(sent)
        return sent

    def run(self) -> None:
        """Passes until stopped; the wait between two passes ends at once when :meth:`stop` is called."""
        while not self.stopping:
            self.run_once()
            self._stopping.wait(self.interval)

    def start_thread(self, name: str = "seams-relay") -> threading.Thread:
        """Run in a daemon thread: it ends with the process that started it, whatever happens."""
        thread = threading.Thread(target=self._run_in_thread, name=name, daemon=True)
        thread.start()
        return thread

    def _run_in_thread(self) -> None:
        from django.db import connections

        try:
            self.run()
        finally:
            connections.close_all()  # this thread's own connections


__all__ = ["RelayLoop"]
