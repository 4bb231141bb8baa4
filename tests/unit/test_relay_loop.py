"""contracts/kernel/relay_loop.py: the relay loop behind ``relay_events`` and ``serve`` keeps going."""

from __future__ import annotations

import logging
import threading

import pytest

from contracts.kernel.relay_loop import RelayLoop


@pytest.fixture(autouse=True)
def _connections_may_be_tidied(django_db_blocker: pytest.FixtureRequest) -> object:
    """Every pass drops stale connections (``close_old_connections``), which pytest-django blocks
    outside database tests once an earlier test has opened one. No pass here queries anything."""
    with django_db_blocker.unblock():
        yield


class ScriptedPasses:
    """A relay pass that follows a script: a dict is returned, an exception raised; stops the loop at the end."""

    def __init__(self, script: list[object]) -> None:
        self.script = list(script)
        self.loop: RelayLoop | None = None

    def __call__(self) -> dict[str, int]:
        step = self.script.pop(0)
        if not self.script and self.loop is not None:
            self.loop.stop()
        if isinstance(step, Exception):
            raise step
        return step  # type: ignore[return-value]


def test_a_failing_pass_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    passes = ScriptedPasses([{"orders": 1}, RuntimeError("database restarting"), {"orders": 2}])
    reported: list[dict[str, int]] = []
    loop = RelayLoop(0.001, relay_pass=passes, on_pass=reported.append)
    passes.loop = loop
    with caplog.at_level(logging.ERROR, logger="seams.relay"):
        loop.run()
    assert reported == [{"orders": 1}, {"orders": 2}]
    assert (loop.passes, loop.failures) == (3, 1)
    assert "Relay pass failed" in caplog.text and "database restarting" in caplog.text


def test_stop_ends_the_wait_between_passes_at_once() -> None:
    ran = threading.Event()

    def relay_pass() -> dict[str, int]:
        ran.set()
        return {}

    loop = RelayLoop(3600, relay_pass=relay_pass)  # would wait an hour for the next pass
    thread = loop.start_thread()
    assert ran.wait(30)
    assert thread.daemon  # never keeps the server's process alive
    loop.stop()
    thread.join(30)
    assert not thread.is_alive()
    assert loop.passes == 1


@pytest.mark.parametrize("interval", [0, -1])
def test_a_non_positive_interval_is_refused(interval: float) -> None:
    with pytest.raises(ValueError, match="positive number of seconds"):
        RelayLoop(interval)
