"""Waiting on a condition, with a deadline: the one way tests wait for what other threads and
processes do (no fixed sleeps: a sleep long enough on a loaded machine is wasted on a quiet one,
and one short enough on a quiet machine fails on a loaded one)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    what: str,
    probe: Callable[[], T],
    within: float = 30.0,
    *,
    every: float = 0.05,
    unless: Callable[[], str | None] | None = None,
) -> T:
    """Call ``probe`` until it returns something truthy and return that; fail naming ``what`` after
    ``within`` seconds. ``every``: the pause between two calls. ``unless``: checked before each call;
    a reason it returns (a process that exited, with its log) fails the wait at once."""
    deadline = time.monotonic() + within
    while True:
        if unless is not None and (reason := unless()):
            raise AssertionError(f"{what}: {reason}")
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within:g} s")
        time.sleep(every)  # the poll interval


def exited(process: object, lines: int = 60) -> Callable[[], str | None]:
    """For ``unless``: the reason to stop waiting on ``process`` (a ``tests.support.stack.Process``):
    it is no longer running (with the tail of its log)."""

    def reason() -> str | None:
        if getattr(process, "running", True):
            return None
        return f"{getattr(process, 'name', 'the process')} exited\n{process.tail(lines)}"  # type: ignore[attr-defined]

    return reason
