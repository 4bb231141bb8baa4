"""Events observed: the spans and counters of publishing, handling, forwarding and relaying.

The outbox calls these at a few call sites and keeps its hot path: with tracing off, a handled
publication costs one counter update and, when its envelope carries a trace context, making that
context current (so the handler's logs and the events it publishes continue the trace).

* :func:`handling` — one publication processed: a ``handle <event type>`` span that continues the
  trace stored with the event (``traceparent`` in the envelope headers), however late the attempt;
  its outcome counts as delivered, failed (to be retried) or dead.
* :func:`forwarding` — a ``forward <event type>`` span; the envelope sent carries its context.
* :func:`relaying` — one relay pass.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from . import tracing
from .metrics import EVENTS_DEAD, EVENTS_DELIVERED, EVENTS_FAILED, EVENTS_PUBLISHED

__all__ = [
    "count_outcome", "flush_tallies", "forwarding", "handling", "published_counter", "record_error", "relaying", "untraced",
]


class Tally:
    """The increments of one labelled counter not yet in it: the two counters every event moves
    (published, delivered) are tallied here with a plain ``+=`` and folded into the counter by
    :func:`flush_tallies`, which every collection of the default registry runs first (``/metrics``,
    the console: ``metrics._FlushTallies``), so a scrape reads them exact. An update through
    prometheus-client costs about 50 Python bytecodes and a lock (``Counter.inc``: the
    observability check, the amount check, ``MutexValue.inc``'s lock); this costs a few and none.
    No update is lost between threads: an int attribute's ``+=`` (load, add, store) does not give
    up the GIL midway on CPython (the interpreter switches threads only at calls, returns and
    backward jumps), and the flush takes what it saw with ``-=``, the same way.

    In prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) a scrape reads the
    files of every process, not this one's tallies: there a counter is moved at once (``add`` is
    the child's ``inc``), as before."""

    __slots__ = ("__weakref__", "child", "count")

    def __init__(self, child: Any) -> None:
        self.child, self.count = child, 0
        _tallies.add(self)

    def add(self) -> None:
        self.count += 1

    def flush(self) -> None:
        count = self.count
        if count:
            self.count -= count
            self.child.inc(count)


_tallies: weakref.WeakSet[Tally] = weakref.WeakSet()


def flush_tallies() -> None:
    """Fold every tally of this process into its counter (before the counters are read)."""
    for tally in list(_tallies):
        tally.flush()


def _adder(child: Any) -> Callable[[], None]:
    """A call that moves ``child`` (a labelled counter) by one: tallied, or at once when its value is shared."""
    if getattr(child._value, "_multiprocess", False):
        return child.inc  # type: ignore[no-any-return]
    return Tally(child).add


@lru_cache(maxsize=1024)
def published_counter(event_type: str) -> Callable[[], None]:
    """What moves ``seams_events_published_total{event_type}`` by one, looked up once per type
    (``labels()`` takes a lock and builds its key on every call)."""
    return _adder(EVENTS_PUBLISHED.labels(event_type))

#: Which counter a processing outcome moves (``not-claimed`` moves none: nothing ran).
_COUNTERS = {"completed": EVENTS_DELIVERED, "duplicate": EVENTS_DELIVERED, "failed": EVENTS_FAILED, "dead": EVENTS_DEAD}


#: What moves each labelled child (``_adder``), looked up once: ``labels()`` takes a lock and builds
#: a key on every call.
_children: dict[tuple[str, str, str], Callable[[], None]] = {}


def count_outcome(event_type: str, subscriber: str, outcome: str) -> None:
    """Move the counter of a processing outcome for ``(event_type, subscriber)``."""
    key = (outcome, event_type, subscriber)
    add = _children.get(key)
    if add is None:
        counter = _COUNTERS.get(outcome)
        if counter is None:
            return
        add = _children[key] = _adder(counter.labels(event_type, subscriber))
    add()


class _Counted:
    """``handling`` with nothing to trace: a context manager that only counts the outcome. One per
    ``(event type, subscriber)``, made once and reused (no generator, no partial per event), with
    the delivered counter's labelled child bound once, tallied (``Tally``): a delivery moves it
    without a lookup or a lock."""

    __slots__ = ("delivered", "event_type", "subscriber")

    def __init__(self, event_type: str, subscriber: str) -> None:
        self.event_type, self.subscriber = event_type, subscriber
        self.delivered = _adder(EVENTS_DELIVERED.labels(event_type, subscriber))

    def __enter__(self) -> Callable[[str], None]:
        return self.done

    def done(self, outcome: str) -> None:
        if outcome == "completed" or outcome == "duplicate":
            self.delivered()
        else:
            count_outcome(self.event_type, self.subscriber, outcome)

    def __exit__(self, *exc: object) -> None:
        return None


_counted: dict[tuple[str, str], _Counted] = {}


def handling(
    headers: Mapping[str, Any] | None, event_type: str, subscriber: str, module: str, event_id: object, attempt: int
) -> contextlib.AbstractContextManager[Callable[[str], None]]:
    """Around one processed publication; call the yielded ``done(outcome)`` with its outcome."""
    if not (headers and "traceparent" in headers) and not tracing.active():  # nothing to trace or continue
        counted = _counted.get((event_type, subscriber))
        if counted is None:
            counted = _counted[(event_type, subscriber)] = _Counted(event_type, subscriber)
        return counted
    return _traced(headers, event_type, subscriber, module, event_id, attempt)


def untraced(headers: Mapping[str, Any] | None, event_type: str, subscriber: str) -> Callable[[str], None] | None:
    """``done`` of :func:`handling` when it would open no span (nothing to trace or continue), to
    call with the outcome without entering a context manager; None when it would (then use
    :func:`handling`)."""
    if (headers and "traceparent" in headers) or tracing.active():
        return None
    counted = _counted.get((event_type, subscriber))
    if counted is None:
        counted = _counted[(event_type, subscriber)] = _Counted(event_type, subscriber)
    return counted.done


@contextlib.contextmanager
def _traced(
    headers: Mapping[str, Any] | None, event_type: str, subscriber: str, module: str, event_id: object, attempt: int
) -> Iterator[Callable[[str], None]]:
    """``handling`` with a ``handle <event type>`` span continuing the trace stored with the event."""
    attributes = {
        "seams.event_type": event_type,
        "seams.subscriber": subscriber,
        "seams.module": module,
        "seams.event_id": str(event_id),
        "seams.attempt": attempt,
    }
    with tracing.continued(headers, f"handle {event_type}", tracing.SpanKind.CONSUMER, attributes, replace=True) as span:

        def done(outcome: str) -> None:
            count_outcome(event_type, subscriber, outcome)
            tracing.mark_outcome(span, outcome)

        yield done


def record_error(exc: BaseException) -> None:
    """Record a caught exception on the current span (a failed handler, a buried publication)."""
    if tracing.active():
        current = tracing.trace.get_current_span()
        if current.is_recording():
            current.record_exception(exc)


@contextlib.contextmanager
def forwarding(event_type: str, subscriber: str, module: str) -> Iterator[None]:
    """A ``forward <event type>`` span around sending an event to another process's subscriber."""
    attributes = {"seams.event_type": event_type, "seams.subscriber": subscriber, "seams.module": module}
    with tracing.span(f"forward {event_type}", tracing.SpanKind.CLIENT, attributes):
        yield


@contextlib.contextmanager
def relaying() -> Iterator[Callable[[dict[str, int]], None]]:
    """A ``relay`` span around one relay pass; ``done(sent)`` records how many it re-sent per alias."""
    with tracing.span("relay") as span:

        def done(sent: dict[str, int]) -> None:
            tracing.mark_outcome(span, "ok", redispatched=sum(sent.values()))

        yield done
