"""Contract calls observed: a span and ``seams_contract_calls_total`` / ``_duration_seconds`` per call.

Every call is observed where it is made: in-process through the object ``use()`` returns
(:func:`observed`), over a transport in the transport's client (``extraction/proxy.py``, through
:func:`observe`).

An in-process call costs what its implementation costs (a query: a few hundred microseconds), so
its observation must cost next to nothing. prometheus-client takes a lock per update, three per
call (the counter, the histogram's sum and bucket), and a lock costs a microsecond or more on a
loaded machine. A successful call therefore only adds to plain per-method tallies (:class:`Tally`,
no lock: an int or float ``+=`` is not interrupted by another thread in CPython), which are moved
into the Prometheus metrics at most a second later — by the next call, by a flusher thread, and
before every ``/metrics`` answer of this process (:func:`flush`). A failed call, rare, updates the
metrics at once.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from ..contract import Contract
from ..errors import ContractError, ServiceUnavailable
from . import tracing
from .metrics import CALL_BUCKETS, CONTRACT_CALL_DURATION, CONTRACT_CALLS, OUTCOMES

__all__ = ["FLUSH_INTERVAL", "Tally", "flush", "observe", "observed", "outcome_of"]

#: At most this many seconds between a call and its appearance in the metrics.
FLUSH_INTERVAL = 1.0


def outcome_of(exc: BaseException) -> str:
    """The ``outcome`` label of a call that raised ``exc`` (see ``metrics.OUTCOMES``)."""
    if isinstance(exc, ServiceUnavailable):
        return "unavailable"
    if isinstance(exc, ContractError):
        return "contract_error"
    return "error"


class Tally:
    """The successful calls of one (contract, method, transport) not yet in the metrics."""

    __slots__ = ("__weakref__", "buckets", "count", "duration", "flushed_at", "lock", "ok", "total")

    def __init__(self, contract: str, method: str, transport: str) -> None:
        self.ok = CONTRACT_CALLS.labels(contract, method, transport, "ok")
        self.duration = CONTRACT_CALL_DURATION.labels(contract, method, transport)
        self.count = 0
        self.total = 0.0
        self.buckets = [0] * (len(CALL_BUCKETS) + 1)  # the last one: above the highest bound (+Inf)
        self.flushed_at = time.perf_counter()
        self.lock = threading.Lock()  # between flushers only; calls never take it
        _tallies.add(self)
        _ensure_flusher()

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.buckets[bisect.bisect_left(CALL_BUCKETS, seconds)] += 1

    def flush(self) -> None:
        """Move what was tallied into the metrics (prometheus-client's own histogram parts)."""
        with self.lock:
            self.flushed_at = time.perf_counter()
            count, self.count = self.count, 0
            if not count:
                return
            total, self.total = self.total, 0.0
            buckets, self.buckets = self.buckets, [0] * len(self.buckets)
        self.ok.inc(count)
        self.duration._sum.inc(total)
        for bucket, n in zip(self.duration._buckets, buckets, strict=True):
            if n:
                bucket.inc(n)


_tallies: weakref.WeakSet[Tally] = weakref.WeakSet()
_flusher: threading.Thread | None = None
_flusher_lock = threading.Lock()


def flush() -> None:
    """Move every tally of this process into the metrics (before a scrape answers)."""
    for tally in list(_tallies):
        tally.flush()


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_INTERVAL)
        flush()


def _ensure_flusher() -> None:
    """One daemon thread per process flushes idle tallies (a forked child starts its own)."""
    global _flusher
    with _flusher_lock:
        if _flusher is None or not _flusher.is_alive():
            _flusher = threading.Thread(target=_flush_forever, name="seams-metrics-flush", daemon=True)
            _flusher.start()


def _after_fork() -> None:
    """In a forked child: what the parent tallied is the parent's to flush, not counted twice."""
    global _flusher, _flusher_lock
    _flusher, _flusher_lock = None, threading.Lock()
    for tally in list(_tallies):
        tally.lock = threading.Lock()
        tally.count, tally.total, tally.buckets = 0, 0.0, [0] * len(tally.buckets)
    if _tallies:
        _ensure_flusher()


os.register_at_fork(after_in_child=_after_fork)


def observe(contract: type[Contract], method: str, transport: str, call: Callable[..., Any]) -> Callable[..., Any]:
    """``call`` (a method of ``contract``), observed as a call over ``transport``."""
    name = f"{contract.__seams_name__}.{method}"
    counters = {outcome: CONTRACT_CALLS.labels(contract.__seams_name__, method, transport, outcome) for outcome in OUTCOMES}
    duration = CONTRACT_CALL_DURATION.labels(contract.__seams_name__, method, transport)
    tally = Tally(contract.__seams_name__, method, transport)
    kind = tracing.SpanKind.INTERNAL if transport == "inprocess" else tracing.SpanKind.CLIENT
    attributes = {
        "seams.contract": contract.__seams_name__,
        "seams.method": method,
        "seams.transport": transport,
        "seams.module": contract.__seams_module__,
    }
    perf_counter = time.perf_counter
    active = tracing.active

    def measured(*args: Any, **kwargs: Any) -> Any:
        start = perf_counter()
        try:
            if active():
                with tracing.span(name, kind, attributes) as current:
                    try:
                        result = call(*args, **kwargs)
                    except BaseException as exc:
                        tracing.mark_outcome(current, outcome_of(exc), error_code=getattr(exc, "code", None))
                        raise
                    tracing.mark_outcome(current, "ok")
            else:
                result = call(*args, **kwargs)
        except Exception as exc:
            duration.observe(perf_counter() - start)
            counters[outcome_of(exc)].inc()
            raise
        end = perf_counter()
        tally.add(end - start)
        if end - tally.flushed_at > FLUSH_INTERVAL:
            tally.flush()
        return result

    return measured


def observed(contract: type[Contract], instance: Contract) -> Contract:
    """An object of a contract subclass whose methods call ``instance``'s, observed as in-process
    calls (what ``use()`` returns for a module served in this process)."""
    methods: dict[str, Any] = {
        name: staticmethod(observe(contract, name, "inprocess", getattr(instance, name)))
        for name in contract.__seams_methods__
    }
    methods["__repr__"] = lambda self: f"<Observed {instance!r}>"
    methods["__seams_target__"] = instance  # what the calls go to (the implementation, or its validating proxy)
    return type(f"Observed{contract.__name__}", (contract,), methods)()
