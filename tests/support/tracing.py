"""Trace context in tests: a known W3C ``traceparent`` to send, and reading one back."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from contracts.kernel.telemetry import tracing

from .processes import appended_lines

#: A caller's trace (W3C trace context, sampled).
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def trace_of(headers: Mapping[str, Any]) -> str | None:
    """The trace id in ``headers``' ``traceparent`` (any case of the name), or None."""
    value = next((str(v) for k, v in headers.items() if str(k).lower() == "traceparent"), None)
    return value.split("-")[1] if value else None


def current_trace() -> str | None:
    """The trace id of the current span, or None outside any trace."""
    ids = tracing.current_ids()
    return ids[0] if ids else None


@contextlib.contextmanager
def in_trace(traceparent: str = TRACEPARENT) -> Iterator[None]:
    """Run the block as a continuation of ``traceparent`` (as a request carrying it would)."""
    with tracing.attach({"traceparent": traceparent}, replace=True):
        yield


def read_spans(path: Path) -> list[dict[str, Any]]:
    """The spans a process exported to ``SEAMS_TRACE_FILE`` (one JSON object per line), as
    ``{"name", "kind", "trace_id", "span_id", "parent_id", "attributes", "status", "service"}`` with
    ids in lower-case hex without ``0x`` (``parent_id`` None for a root)."""
    found = []
    for line in appended_lines(path):  # a span still being written is read next time
        if not line.strip():
            continue
        raw = json.loads(line)
        found.append(
            {
                "name": raw["name"],
                "kind": raw["kind"].removeprefix("SpanKind."),
                "trace_id": raw["context"]["trace_id"].removeprefix("0x"),
                "span_id": raw["context"]["span_id"].removeprefix("0x"),
                "parent_id": raw["parent_id"].removeprefix("0x") if raw.get("parent_id") else None,
                "attributes": raw.get("attributes") or {},
                "status": raw.get("status", {}).get("status_code", "UNSET"),
                "service": (raw.get("resource", {}).get("attributes") or {}).get("service.name"),
            }
        )
    return found


def wait_for_spans(path: Path, done: Callable[[list[dict[str, Any]]], bool], within: float = 30.0) -> list[dict[str, Any]]:
    """Read ``path`` until ``done(spans)`` holds (other processes export as they finish work);
    after ``within`` seconds, return what is there and let the test's assertions say what is missing."""
    deadline = time.monotonic() + within
    while True:
        spans = read_spans(path)
        if done(spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.2)
