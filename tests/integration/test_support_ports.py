"""The test support's servers take no port another process can take first (tests/support/processes.py).

``free_port`` picks a port nothing listens on and lets it go; a server told that port binds it
later, and in between another process (another xdist worker's server) can take it. ``gunicorn()``
now hands gunicorn a socket already listening (``listening_socket``, ``--bind fd://N``)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from tests.support import processes
from tests.support.processes import free_port, gunicorn, listening_socket, project_env


def test_a_listening_socket_holds_its_port_from_the_start() -> None:
    sock = listening_socket()
    try:
        host, port = sock.getsockname()
        assert host == "127.0.0.1" and port > 0
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", port))  # taken already: nobody can get in between
    finally:
        sock.close()


@pytest.mark.e2e
def test_gunicorn_starts_even_when_the_port_free_port_picked_is_taken_meanwhile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race made certain: the port ``free_port`` returns is taken (listening, never answering)
    before the server starts. Until 2026-12-02 gunicorn() bound that port: gunicorn could not,
    and its readiness probe reached the other listener."""
    squatter = listening_socket()
    monkeypatch.setattr(processes, "free_port", lambda: squatter.getsockname()[1])
    env = project_env({"SEAMS_VAR_DIR": str(tmp_path / "var"), "DEBUG": "false",
                       "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/seams"})
    try:
        with gunicorn(env, log=tmp_path / "gunicorn.log") as base:
            assert not base.endswith(f":{squatter.getsockname()[1]}")
            assert httpx.get(f"{base}/health/live", timeout=30).status_code == 200
    finally:
        squatter.close()
