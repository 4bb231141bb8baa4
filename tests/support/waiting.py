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
    ``within`` seconds. ``every``: the pause between two calls. ``unless``: checked after each call
    that found nothing (what a process did before it exited still counts); a reason it returns (a
    process that exited) fails the wait at once."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value:
            return value
        if unless is not None and (reason := unless()):
            raise AssertionError(f"{what}: {reason}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within:g} s")
        time.sleep(every)  # the poll interval


def exited(process: object) -> Callable[[], str | None]:
    """For ``unless``: the reason to stop waiting on ``process`` (a ``tests.support.stack.Process``):
    it is no longer running."""

    def reason() -> str | None:
        return None if getattr(process, "running", True) else f"{getattr(process, 'name', 'the process')} exited"

    return reason
