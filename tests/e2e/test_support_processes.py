"""The test helpers that start and wait for processes: a wait must not be satisfied by what an
earlier run of the same process left behind, and a helper must not take another process for its own."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import redis

from tests.support.services import wait_for_worker
from tests.support.stack import PrivateRedis, Process

pytestmark = pytest.mark.e2e


def test_a_restarted_worker_is_not_ready_because_its_last_run_was(tmp_path: Path) -> None:
    """Process logs are appended to: the " ready." of the previous start was already there."""
    worker = Process("worker", [sys.executable, "-c", "print('celery@host ready.')"], {}, tmp_path).start()
    wait_for_worker(worker, timeout=30)
    worker.proc.wait()  # type: ignore[union-attr]
    worker.command = [sys.executable, "-c", "raise SystemExit(3)"]  # this run never gets ready
    worker.start()
    with pytest.raises(AssertionError, match="exited"):  # before: returned at once, "ready"
        wait_for_worker(worker, timeout=30)


def test_a_private_redis_whose_port_is_taken_fails_to_start_instead_of_using_the_other_server(tmp_path: Path) -> None:
    """A port picked free and taken before redis-server binds it (another xdist worker's pick, another
    run's server): the ping answered the other server, so "stopping our broker" stopped nothing."""
    first = PrivateRedis(tmp_path / "first")
    (tmp_path / "first").mkdir()
    first.start()
    try:
        (tmp_path / "second").mkdir()
        second = PrivateRedis(tmp_path / "second")
        second.port, second.url = first.port, first.url
        with pytest.raises(AssertionError, match="exited"):
            second.start()
    finally:
        first.stop()


def test_a_private_redis_whose_picked_port_is_taken_meanwhile_starts_on_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race made certain: the port ``free_port`` picks is taken (listening) before redis-server
    binds it. Until 2026-12-02 that start failed ("exited (port taken?)"); a first start on a port
    it picked itself now picks another."""
    from tests.support import stack
    from tests.support.processes import listening_socket

    squatter = listening_socket()
    picks = iter([squatter.getsockname()[1]])
    real = stack.free_port
    monkeypatch.setattr(stack, "free_port", lambda: next(picks, None) or real())
    try:
        broker = PrivateRedis(tmp_path)
        assert broker.port == squatter.getsockname()[1]
        broker.start()
        try:
            assert broker.port != squatter.getsockname()[1] and broker.url.endswith(f":{broker.port}/0")
            assert redis.Redis(port=broker.port).ping()
        finally:
            broker.stop()
    finally:
        squatter.close()
