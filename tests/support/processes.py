"""Start real processes for end-to-end tests: a throwaway database and a server on a free port."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A loopback port nothing listens on *now*: for an address that must refuse connections, or
    for a server that can only be told a port. Something else may take it before that server binds
    it (another test's server, on xdist): a server that can take a socket gets ``listening_socket``
    instead (``gunicorn``)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening_socket() -> socket.socket:
    """A loopback TCP socket bound to a port the kernel picks (port 0) and listening, to hand to a
    server process (gunicorn's ``--bind fd://N``): no moment between picking the port and binding
    it in which another process could take it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def listening_pids(port: int) -> set[int]:
    """The processes holding a socket that listens on loopback ``port`` (Linux: /proc/net/tcp and
    each process's descriptors): whose server answers there."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{fields[9]}]")
    pids = set()
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in inodes for fd in fd_dir.iterdir()):
                pids.add(int(fd_dir.parent.name))
    return pids


def url_of(listener: socket.socket) -> str:
    """``http://127.0.0.1:<port>`` of a listening socket."""
    return f"http://127.0.0.1:{listener.getsockname()[1]}"


def fd_bind(listener: socket.socket) -> str:
    """gunicorn's ``--bind`` for a socket its process inherits (``pass_fds``): ``fd://N``."""
    return f"fd://{listener.fileno()}"


def appended_lines(path: Path) -> list[str]:
    """The complete lines of a file another process is appending to (its log, its spans), without
    the newlines: a read can end inside a line that one ``write()`` is still putting there (the
    kernel grows the file page by page), and that part is left for the next read."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    return text[: text.rfind("\n") + 1].splitlines()


@contextlib.contextmanager
def throwaway_database(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a fresh, empty project database: SQLite files in tmp_path by default, or a
    new PostgreSQL database (dropped afterwards) when DATABASE_URL is set."""
    url = os.environ.get("DATABASE_URL")
    env = {"SEAMS_VAR_DIR": str(tmp_path / "var")}
    if not url:
        yield env
        return
    import psycopg

    parts = urlsplit(url)
    name = f"seams_e2e_{uuid.uuid4().hex[:8]}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {**env, "DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}"))}
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_templates: dict[str, str] = {}


def _template_env() -> dict[str, str]:
    """The environment of this pytest process' template database, migrated on first use: SQLite
    files in a directory of its own, or a PostgreSQL database (dropped when the process exits)."""
    url = os.environ.get("DATABASE_URL") or ""
    if url in _templates:
        return {"SEAMS_VAR_DIR": _templates[url]} if not url else {"DATABASE_URL": _templates[url]}
    if not url:
        var = tempfile.mkdtemp(prefix="seams-template-")
        manage(["migrate_modules"], project_env({"SEAMS_VAR_DIR": var}))
        _templates[url] = var
        atexit.register(shutil.rmtree, var, True)
        return {"SEAMS_VAR_DIR": var}
    import psycopg

    parts = urlsplit(url)
    name = f"seams_template_{uuid.uuid4().hex[:8]}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    atexit.register(_drop_database, admin, name)
    template = urlunsplit(parts._replace(path=f"/{name}"))
    manage(["migrate_modules"], project_env({"SEAMS_VAR_DIR": tempfile.mkdtemp(prefix="seams-template-"), "DATABASE_URL": template}))
    _templates[url] = template
    return {"DATABASE_URL": template}


def _drop_database(admin: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def migrated_database(tmp_path: Path) -> Iterator[dict[str, str]]:
    """``throwaway_database``, already migrated: what ``manage.py migrate_modules`` would make of
    it, copied from a template that this pytest process migrated once (SQLite: its files;
    PostgreSQL: ``CREATE DATABASE ... TEMPLATE``). Each migration of a fresh database costs a
    Django start and every module's migrations (about 2 s); the copy a fraction of that. For a test
    whose subject is not the migrations themselves, run with the project's settings (a server on
``tests.settings`` has the ``eventprobe`` module's tables too: migrate that one itself)."""
    template = _template_env()
    url = os.environ.get("DATABASE_URL")
    env = {"SEAMS_VAR_DIR": str(tmp_path / "var")}
    if not url:
        target = tmp_path / "var"
        target.mkdir(parents=True, exist_ok=True)
        for path in Path(template["SEAMS_VAR_DIR"]).glob("*.sqlite3*"):  # the database, its -wal and -shm
            shutil.copyfile(path, target / path.name)
        yield env
        return
    import psycopg

    parts = urlsplit(url)
    name = f"seams_e2e_{uuid.uuid4().hex[:8]}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    source = urlsplit(template["DATABASE_URL"]).path.lstrip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    try:
        yield {**env, "DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}"))}
    finally:
        _drop_database(admin, name)


def project_env(extra: dict[str, str], cwd: Path = ROOT) -> dict[str, str]:
    """The environment of a project process: DEBUG on unless ``extra`` says otherwise, and what a
    server needs with DEBUG off (SECRET_KEY, the tests' token keys: ``tests.support.tokens``)."""
    from .tokens import api_env

    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "SEAMS_MODULES"}}
    env.update({"DEBUG": "true", **api_env()})
    env.update({"DJANGO_SETTINGS_MODULE": "app.settings", "PYTHONPATH": str(cwd), "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def manage(args: list[str], env: dict[str, str], cwd: Path = ROOT, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    if check and result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def stop(proc: subprocess.Popen[Any], timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; reaped either way."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str],
    cwd: Path = ROOT,
    log: Path | None = None,
    options: tuple[str, ...] = ("--workers", "2"),
    port: int | None = None,
) -> Iterator[str]:
    """Run ``gunicorn app.wsgi`` on a loopback port until the block ends; yields its base URL.

    ``options`` are gunicorn's own (workers, threads, worker class). Without ``port`` gunicorn
    serves a socket this process bound to a port of the kernel's choosing and hands over
    (``listening_socket``, ``--bind fd://N``), so no other process can take the port first (with
    ``free_port`` it could, between the pick and gunicorn's bind: gunicorn then failed to start, or
    the readiness probe below reached the other server). ``port``: bind that one (an address that
    must stay the same across a restart)."""
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    if port is None:
        listener = listening_socket()
        port, bind, fds = listener.getsockname()[1], fd_bind(listener), (listener.fileno(),)
    else:
        listener, bind, fds = None, f"127.0.0.1:{port}", ()
    try:
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "app.wsgi", "--bind", bind, *options, "--timeout", "60"],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=fds,
        )
    finally:
        if listener is not None:
            listener.close()  # gunicorn has it: the port closes with gunicorn, as when it bound it
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"gunicorn exited with {proc.returncode}; see {log}")
            try:
                httpx.get(f"{base}/api/openapi.json", timeout=2)
                # Bound by port: the answer must be this gunicorn's (its master holds the listening
                # socket), not another server's that took the port before it could bind it.
                if listener is not None or proc.pid in listening_pids(port):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not serve {base} within 60 s; see {log}")
            time.sleep(0.2)  # the poll interval of a wait with a deadline
        yield base
    finally:
        stop(proc)
        if log:
            out.close()
