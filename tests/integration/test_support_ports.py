"""The test support's servers take no port another process can take first (tests/support/processes.py).

``free_port`` picks a port nothing listens on and lets it go; a server told that port binds it
later, and in between another process (another xdist worker's server) can take it. ``gunicorn()``
now hands gunicorn a socket already listening (``listening_socket``, ``--bind fd://N``)."""

from __future__ import annotations

import http.server
import socket
import threading
from pathlib import Path

import httpx
import pytest

from tests.support import processes
from tests.support.processes import free_port, gunicorn, listening_socket, project_env


def answering_server(only: str | None = None) -> http.server.ThreadingHTTPServer:
    """Another HTTP server on a loopback port of its own, in a thread: 200 to every GET (or only to
    the path ``only``, 404 to the others). Shut it down and close it after."""

    class Answering(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200 if only is None or self.path == only else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answering)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


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


@pytest.mark.e2e
def test_a_stacks_web_server_starts_even_when_the_port_free_port_picked_is_taken_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same race for the e2e stacks' gunicorn (``Stack.web``, tests/support/stack.py), made certain.
    Until 2026-12-02 it picked a port with ``free_port`` and told gunicorn to bind it: gunicorn could
    not, and the stack's URL was the other listener's (tests/e2e/test_extracted_services.py's servers
    were started the same way; its ``[inventory-celery]`` case failed once so under load)."""
    from tests.support import stack
    from tests.support.services import wait_for

    squatter = listening_socket()
    monkeypatch.setattr(stack, "free_port", lambda: squatter.getsockname()[1])
    dead = free_port()
    shop = stack.Stack(f"postgres://postgres@127.0.0.1:{dead}/seams", f"redis://127.0.0.1:{dead}/0", tmp_path)
    try:
        web, base = shop.web()
        assert not base.endswith(f":{squatter.getsockname()[1]}")
        wait_for(f"{base}/health/live", web, timeout=60)
        assert httpx.get(f"{base}/health/live", timeout=30).status_code == 200
    finally:
        shop.stop()
        squatter.close()


@pytest.mark.e2e
def test_a_server_told_its_port_starts_on_another_when_the_picked_one_is_taken_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that can only be told a port (``manage.py serve``, ``make run``) cannot be handed a
    socket: ``serving_on_a_free_port`` starts it again on another port when the one picked was taken
    (the race made certain: another HTTP server, whose /health/live answers 200, listens there first).
    Before, tests/e2e/test_make_run_relays.py and test_embedded_mixed_load.py waited for the health
    URL of the port they picked: the other server answered it, and the test went on against it."""
    import sys

    from tests.support import services
    from tests.support.stack import Process

    other = answering_server(only="/health/live")
    taken = other.server_address[1]
    picks = iter([taken])
    real = services.free_port
    monkeypatch.setattr(services, "free_port", lambda: next(picks, None) or real())
    env = project_env({"SEAMS_VAR_DIR": str(tmp_path / "var")})
    command = [sys.executable, "manage.py", "serve", "--noreload", "--relay-interval", "0.5"]
    try:
        server, base = services.serving_on_a_free_port(lambda port: Process("serve", [*command, f"127.0.0.1:{port}"], env, tmp_path))
        try:
            assert not base.endswith(f":{taken}")
            assert "already in use" in server.log.read_text()  # the first start, on the taken port
            assert httpx.get(f"{base}/api/openapi.json", timeout=30).status_code == 200  # ours: the other has no API
        finally:
            server.stop()
    finally:
        other.shutdown()
        other.server_close()


@pytest.mark.e2e
def test_gunicorn_told_a_port_someone_else_serves_fails_instead_of_using_the_other_server(tmp_path: Path) -> None:
    """``gunicorn(port=...)`` (an address that must survive a restart) cannot be handed a socket; when
    another server holds that port, its readiness probe used to take the other's answer for
    gunicorn's and the test went on against it. Now only an answer while gunicorn's own master holds
    the listening socket counts (``listening_pids``): here gunicorn cannot bind, and exits."""
    other = answering_server()
    env = project_env({"SEAMS_VAR_DIR": str(tmp_path / "var"), "DEBUG": "false",
                       "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/seams"})
    try:
        with pytest.raises(AssertionError, match="gunicorn exited|did not serve"):
            with gunicorn(env, log=tmp_path / "gunicorn.log", port=other.server_address[1]):
                pass
    finally:
        other.shutdown()
        other.server_close()
