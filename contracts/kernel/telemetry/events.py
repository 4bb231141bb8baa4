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
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from . import tracing
from .metrics import EVENTS_DEAD, EVENTS_DELIVERED, EVENTS_FAILED

__all__ = ["count_outcome", "forwarding", "handling", "record_error", "relaying"]

#: Which counter a processing outcome moves (``not-claimed`` moves none: nothing ran).
_COUNTERS = {"completed": EVENTS_DELIVERED, "duplicate": EVENTS_DELIVERED, "failed": EVENTS_FAILED, "dead": EVENTS_DEAD}


#: Labelled children, looked up once: ``labels()`` takes a lock and builds a key on every call.
_children: dict[tuple[str, str, str], Any] = {}


def count_outcome(event_type: str, subscriber: str, outcome: str) -> None:
    """Move the counter of a processing outcome for ``(event_type, subscriber)``."""
    key = (outcome, event_type, subscriber)
    child = _children.get(key)
    if child is None:
        counter = _COUNTERS.get(outcome)
        if counter is None:
            return
        child = _children[key] = counter.labels(event_type, subscriber)
    child.inc()


class _Counted:
    """``handling`` with nothing to trace: a context manager that only counts the outcome. One per
    ``(event type, subscriber)``, made once and reused (no generator, no partial per event), with
    the delivered counter's labelled child bound once: a delivery moves it without a lookup."""

    __slots__ = ("delivered", "event_type", "subscriber")

    def __init__(self, event_type: str, subscriber: str) -> None:
        self.event_type, self.subscriber = event_type, subscriber
        self.delivered = EVENTS_DELIVERED.labels(event_type, subscriber).inc

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
