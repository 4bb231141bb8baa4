"""The keep-alive race against a real gunicorn: the server closes an idle kept-alive connection in
the instant the client reuses it, and the HTTP transport's requests that are safe to repeat (event
forwards, queries) are resent once on a fresh connection instead of failing.

gunicorn's gthread worker polls its sockets, then closes the kept-alive ones whose ``--keep-alive``
expired (``murder_keepalived``). A request that arrives between the two is in the socket, unread,
when it is closed: the kernel answers it with a reset, and the client, whose idle check passed a
moment before, reads ``ECONNRESET``. Under CPU load the worker's main thread can be descheduled
right there, which is how ``bench/shop.py --extracted http`` once lost a forward (an order left
pending, no relay in that stack to retry it). :class:`LingeringReaper` is gunicorn's own worker
with that moment stretched to a second, and it says when the moment begins, so the test can send
into it every time.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gunicorn.workers.gthread import ThreadWorker

from tests.support.processes import BIN, ROOT, listening_socket, stop
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

PAUSE = 1.0  # seconds between "expired" and the close: the window the client sends into


class LingeringReaper(ThreadWorker):
    """gunicorn's gthread worker, pausing between finding an expired kept-alive connection and
    closing it (``RACE_MARKER``: a file it creates when the pause begins)."""

    def murder_keepalived(self, force: bool = False) -> None:
        expired = self.keepalived_conns and self.keepalived_conns[0].timeout <= time.monotonic()
        if expired and not force:
            Path(os.environ["RACE_MARKER"]).touch()
            time.sleep(PAUSE)
        super().murder_keepalived(force)


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answers every POST as an event receiver does, and appends its body to ``RACE_LOG``."""
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    with open(os.environ["RACE_LOG"], "ab") as log:
        log.write(body + b"\n")
    answer = json.dumps({"outcome": "completed"}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
    return [answer]


@contextlib.contextmanager
def reaping_gunicorn(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """gunicorn (1 worker, :class:`LingeringReaper`, ``--keep-alive 1``) on a kernel-picked port;
    yields its URL, the marker and the log of the bodies it answered."""
    marker, log = tmp_path / "expired", tmp_path / "answered"
    listener = listening_socket()
    port = listener.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RACE_MARKER": str(marker), "RACE_LOG": str(log)}
    try:
        proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                f"{__name__}:app",
                "--worker-class",
                f"{__name__}.LingeringReaper",
                "--workers",
                "1",
                "--threads",
                "2",
                "--keep-alive",
                "1",
                "--bind",
                f"fd://{listener.fileno()}",
            ],
            cwd=ROOT,
            env=env,
            stdout=open(tmp_path / "gunicorn.log", "w"),  # noqa: SIM115 (closed with the process)
            stderr=subprocess.STDOUT,
            pass_fds=(listener.fileno(),),
        )
    finally:
        listener.close()
    url = f"http://127.0.0.1:{port}"
    def answers() -> bool:  # on a connection of its own, closed at once
        try:
            return httpx.post(url, content=b"ready", headers={"Connection": "close"}, timeout=2).is_success
        except httpx.TransportError:
            return False

    def gone() -> str | None:
        return None if proc.poll() is None else "gunicorn exited: " + (tmp_path / "gunicorn.log").read_text()

    try:
        eventually("gunicorn answers", answers, within=60, every=0.1, unless=gone)
        yield url, marker, log
    finally:
        stop(proc)


def into_the_window(marker: Path) -> None:
    """Until the worker has found the kept-alive connection expired and is about to close it."""
    marker.unlink(missing_ok=True)
    eventually("the kept-alive connection expires", marker.exists, within=10, every=0.01)


def answered(log: Path) -> list[bytes]:
    return [line for line in log.read_bytes().splitlines() if line != b"ready"]


def envelope(n: int) -> dict[str, object]:
    return {
        "id": f"00000000-0000-0000-0000-{n:012d}",
        "type": "orders.OrderConfirmed",
        "version": 1,
        "key": str(n),
        "payload": {"order_id": n, "customer_email": "ada@example.com", "total_cents": 2500},
        "headers": {},
        "occurred_at": "2025-01-01T12:00:00+00:00",
    }


def test_an_event_forward_on_a_connection_gunicorn_closes_as_it_arrives_is_delivered(tmp_path: Path) -> None:
    from extraction.http import CircuitBreaker
    from extraction.http.client import forward_event, pooled_transport

    subscriber = "modules.notifications.handlers.email_order_confirmation"
    with reaping_gunicorn(tmp_path) as (url, marker, log), httpx.Client(transport=pooled_transport()) as http:
        binding = {"TRANSPORT": "http", "MODULE": "notifications", "URL": url, "TIMEOUT": "10"}
        breaker = CircuitBreaker(threshold=1)

        def forward(n: int) -> str:
            return forward_event(binding=binding, subscriber=subscriber, envelope=envelope(n), client=http, breaker=breaker)

        assert forward(1) == "completed"
        into_the_window(marker)
        assert forward(2) == "completed"  # sent on the kept-alive connection, reset, sent again on a new one
        bodies = answered(log)
    assert len(bodies) == 2 and b"000000000001" in bodies[0] and b"000000000002" in bodies[1]
    assert breaker.state == "closed"


def test_the_pool_itself_resends_nothing_it_reports_the_stale_connection(tmp_path: Path) -> None:
    """The same race for a request of a caller that does not resend (a command without an idempotency
    key: whether it took effect is unknown to the client): ``StaleConnection``, nothing answered."""
    from extraction.http.client import pooled_transport
    from extraction.http.pool import StaleConnection

    with (
        reaping_gunicorn(tmp_path) as (url, marker, log),
        httpx.Client(transport=pooled_transport(), timeout=10) as http,
    ):
        http.post(url, content=b"first")
        into_the_window(marker)
        with pytest.raises(StaleConnection):
            http.post(url, content=b"second")
        assert answered(log) == [b"first"]
