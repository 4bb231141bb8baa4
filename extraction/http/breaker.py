"""A small circuit breaker, one per service base URL.

* **closed** — calls go through; each transport failure counts, each success resets the count.
* **open** — after ``threshold`` consecutive failures: calls fail at once, without touching the
  network, for ``cooldown`` seconds.
* **half-open** — after the cool-down, exactly one call (the *probe*) goes through while the others
  keep failing fast; its success closes the circuit, its failure opens it for another cool-down.

Only transport failures count (connection refused, timeouts, 5xx without a contract error body). A
contract error such as ``ProductNotFound`` is a successful exchange: the service answered.
Thread-safe; the clock is injectable for tests. A breaker made for a target (``breaker_for``) reports
its state as ``seams_breaker_state{target}`` (0 closed, 1 half-open, 2 open) on every change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from contracts.kernel.telemetry.metrics import BREAKER_STATE, BREAKER_STATES

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "CircuitBreaker", "breaker_for", "reset_breakers"]

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"

#: Defaults: open after 5 consecutive failures, probe again after 10 seconds.
DEFAULT_THRESHOLD = 5
DEFAULT_COOLDOWN = 10.0


class CircuitBreaker:
    def __init__(
        self,
        threshold: int = DEFAULT_THRESHOLD,
        cooldown: float = DEFAULT_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
        target: str | None = None,
    ) -> None:
        if threshold < 1 or cooldown < 0:
            raise ValueError("threshold must be at least 1 and cooldown not negative")
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._gauge = BREAKER_STATE.labels(target) if target else None
        self._report(CLOSED)

    def _report(self, state: str) -> None:
        if self._gauge is not None:
            self._gauge.set(BREAKER_STATES[state])

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open`` (open turns half-open once the cool-down is over)."""
        with self._lock:
            if self._state == OPEN and self._clock() - self._opened_at >= self.cooldown:
                return HALF_OPEN
            return self._state

    @property
    def failures(self) -> int:
        return self._failures

    def retry_in(self) -> float:
        """Seconds until the next probe may go through (0 when calls are allowed)."""
        with self._lock:
            if self._state != OPEN:
                return 0.0
            return max(0.0, self.cooldown - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """May a call go through now? In half-open state only the first caller (the probe) may;
        whoever is allowed must report the outcome with ``success()`` or ``failure()``."""
        with self._lock:
            if self._state == CLOSED:
                return True
            if self._state == OPEN:
                if self._clock() - self._opened_at < self.cooldown:
                    return False
                self._state = HALF_OPEN
                self._probing = False
                self._report(HALF_OPEN)
            if self._probing:
                return False
            self._probing = True
            return True

    def success(self) -> None:
        with self._lock:
            if self._state != CLOSED:
                self._report(CLOSED)
            self._state = CLOSED
            self._failures = 0
            self._probing = False

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state == HALF_OPEN or self._failures >= self.threshold:
                self._state = OPEN
                self._opened_at = self._clock()
                self._report(OPEN)
            self._probing = False

    def abandon(self) -> None:
        """The allowed call ended without an outcome (interrupted): let another probe go."""
        with self._lock:
            self._probing = False

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.state} failures={self._failures}/{self.threshold} cooldown={self.cooldown}s>"


_breakers: dict[str, CircuitBreaker] = {}
_lock = threading.Lock()


def breaker_for(base_url: str, threshold: int = DEFAULT_THRESHOLD, cooldown: float = DEFAULT_COOLDOWN) -> CircuitBreaker:
    """The breaker shared by every caller of ``base_url`` in this process (created on first use
    with the given settings)."""
    with _lock:
        breaker = _breakers.get(base_url)
        if breaker is None:
            breaker = _breakers[base_url] = CircuitBreaker(threshold, cooldown, target=base_url)
        return breaker


def reset_breakers() -> None:
    """Forget every breaker (tests)."""
    with _lock:
        _breakers.clear()
