"""Run a service written by ``manage.py extract_module`` as real processes: its gunicorn
(``service.wsgi``) and its Celery worker, from the service's own directory, with this virtualenv's
Python but without the monolith on the path.

The project is installed in editable mode here, so a ``sitecustomize`` (found first on the
service's ``PYTHONPATH``) removes that finder from the service's processes: an import of ``app`` or
of a module that stayed in the monolith fails as it would in the service's container.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from .processes import BIN, ROOT, fd_bind, free_port, listening_pids, project_env
from .stack import PortTaken, Process
from .waiting import eventually, exited

ISOLATION = '''"""Hide the monolith's editable install from the generated service's processes."""
import sys

sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
'''

#: Variables of the test's own environment that would configure a process behind the test's back.
_FOREIGN = ("DJANGO_", "SEAMS_", "DATABASE_URL", "CELERY_")


def clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN)}


def monolith_env(extra: dict[str, str]) -> dict[str, str]:
    """The monolith's environment: no binding or gateway leaks in from the test's own."""
    env = project_env({})
    env = {k: v for k, v in env.items() if not k.startswith(("SEAMS_BIND_", "SEAMS_GATEWAY", "CELERY_"))}
    env.update(extra)
    return env


def extract(label: str, transport: str, out: Path, env: dict[str, str]) -> Path:
    """``manage.py extract_module`` for real; returns the service's directory."""
    result = subprocess.run(
        [sys.executable, "manage.py", "extract_module", label, "--transport", transport, "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out / f"{label}-service"


def service_env(service: Path, isolation: Path, extra: dict[str, str]) -> dict[str, str]:
    """The generated service's environment: its own directory on the path, the monolith hidden."""
    (isolation / "sitecustomize.py").write_text(ISOLATION)
    from .tokens import api_env

    env = clean_environ()
    env.update(
        {
            "DEBUG": "true",
            **api_env(),  # SECRET_KEY and the tests' token keys, for DEBUG=false
            "PYTHONPATH": f"{isolation}{os.pathsep}{service}",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "service.settings",
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            **extra,
        }
    )
    return env


def web_command(wsgi: str, at: socket.socket | int, threads: int = 8) -> list[str]:
    """gunicorn with one worker and threads: a request may wait on a call that comes back here.
    ``at``: a listening socket the process inherits (its ``Process``'s ``listeners``: no other
    process can take the port first), or a port to bind (an address that must survive a restart)."""
    bind = fd_bind(at) if isinstance(at, socket.socket) else f"127.0.0.1:{at}"
    return [
        str(BIN / "gunicorn"), wsgi, "--bind", bind, "--workers", "1", "--threads", str(threads),
        "--timeout", "120", "--access-logfile", "-",
    ]


def worker_command(app: str, queues: str, name: str, concurrency: int = 1) -> list[str]:
    return [
        str(BIN / "celery"), "-A", app, "worker", "-Q", queues, "-c", str(concurrency), "-n", f"{name}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO",
    ]


def wait_for(url: str, process: Process, timeout: float = 90) -> None:
    """Wait until ``url`` answers (any status); fail at once if the process died."""

    def answers() -> bool:
        try:
            httpx.get(url, timeout=5)
            return True
        except httpx.TransportError:
            return False

    try:
        eventually(f"{process.name} answering {url}", answers, timeout, every=0.3, unless=exited(process))
    except AssertionError as failed:
        raise AssertionError(f"{failed}:\n{process.tail()}") from None


#: What a server that could not bind its port says (Django's runserver, gunicorn).
PORT_IN_USE = ("That port is already in use", "Address already in use")


def serving_on_a_free_port(make: Callable[[int], Process], path: str = "/health/live", timeout: float = 90,
                           tries: int = 3) -> tuple[Process, str]:  # fmt: skip
    """Start ``make(port)`` (a server that can only be told a port: ``manage.py serve``, ``make run``)
    on a port ``free_port`` picks and wait until it serves there (``wait_serving``). If it exits
    because the port was taken between the pick and its bind, start it again on another (at most
    ``tries`` times). Returns the started process and its base URL."""
    for attempt in range(1, tries + 1):
        port = free_port()
        process = make(port).start()
        try:
            return process, wait_serving(process, port, path, timeout)
        except PortTaken:
            if attempt == tries:
                raise
    raise AssertionError("unreachable")


def wait_serving(process: Process, port: int, path: str = "/health/live", timeout: float = 90) -> str:
    """Wait until ``process`` answers ``path`` on loopback ``port`` from a socket of its own process
    group (``listening_pids``), not another's that took the port before it could bind it; returns
    its base URL. ``PortTaken`` if it exited saying so, AssertionError if it exited otherwise or
    did not answer within ``timeout``."""
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + timeout
    while True:
        if not process.running:
            if any(text in process.output() for text in PORT_IN_USE):
                raise PortTaken(f"{process.name}: port {port} was taken:\n{process.tail()}")
            raise AssertionError(f"{process.name} exited:\n{process.tail()}")
        try:
            httpx.get(f"{base}{path}", timeout=5)
            assert process.proc is not None
            if process.proc.pid in {_group_of(pid) for pid in listening_pids(port)}:
                return base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{process.name} did not serve {base}{path} within {timeout} s:\n{process.tail()}")
        time.sleep(0.3)  # the poll interval of a wait with a deadline


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def wait_for_worker(process: Process, timeout: float = 90) -> None:
    """Wait until a Celery worker says it is ready (its log line ``celery@... ready.``) in this
    start's output: the log is appended to, so an earlier run's line would already be there."""
    try:
        eventually(f"{process.name} ready", lambda: " ready." in process.output(), timeout, every=0.3, unless=exited(process))
    except AssertionError as failed:
        raise AssertionError(f"{failed}:\n{process.tail()}") from None
