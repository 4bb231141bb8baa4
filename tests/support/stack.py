"""A real deployment on loopback for fault tests: PostgreSQL database, private Redis, gunicorn,
Celery workers and relays as separate processes that can be killed and restarted.

Every process runs in its own session, so SIGKILL reaches a Celery worker's pool children too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

from .processes import BIN, ROOT, fd_bind, free_port, listening_socket, project_env

POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"


class Process:
    """One restartable process with its output appended to a log file, run in ``cwd``.

    ``listeners``: sockets already listening (``processes.listening_socket``) that its first start
    inherits, under the same descriptor numbers (gunicorn's ``--bind fd://N``, ``fd_bind``): the
    port is held from before the command is written until the server serves it, so no other process
    can take it in between. They are closed here once handed over (the port closes with the server,
    as when it bound it), so such a command starts once; to come back on the same address the
    process is given a command that binds the port (``services.wait_serving`` checks it is its)."""

    def __init__(
        self, name: str, command: list[str], env: dict[str, str], log_dir: Path,
        cwd: Path = ROOT, listeners: Sequence[socket.socket] = (),
    ) -> None:  # fmt: skip
        self.name, self.command, self.env, self.cwd = name, command, env, cwd
        self.listeners = list(listeners)
        self.handed_over = False
        self.log = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0
        #: Where this start's output begins in ``log`` (appended to across restarts).
        self.log_offset = 0

    def start(self) -> Process:
        if self.handed_over and any(arg.startswith("fd://") for arg in self.command):
            raise AssertionError(f"{self.name} was handed its listening socket once: to start again, give it its port")
        self.log_offset = self.log.stat().st_size if self.log.exists() else 0
        try:
            with open(self.log, "ab") as out:
                self.proc = subprocess.Popen(
                    self.command, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True, pass_fds=[s.fileno() for s in self.listeners],
                )  # fmt: skip
        finally:
            if self.listeners:
                for listener in self.listeners:
                    listener.close()
                self.listeners, self.handed_over = [], True
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: no clean-up, no goodbye."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.kills += 1

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM the process group; SIGKILL it if it has not exited within ``timeout``."""
        stop_all([self], timeout)

    def terminate(self) -> None:
        """SIGTERM the process group (``stop_all`` waits)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    def output(self) -> str:
        """What this start of the process has written so far (not its earlier runs')."""
        if not self.log.exists():
            return ""
        with open(self.log, "rb") as log:
            log.seek(self.log_offset)
            return log.read().decode(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""


def stop_all(processes: list[Process], timeout: float = 20) -> None:
    """Stop several processes at once: SIGTERM to each, then wait for each (SIGKILL after
    ``timeout``). Their graceful shutdowns (gunicorn's, Celery's warm one) overlap instead of
    adding up, which is most of a multi-process test's teardown."""
    running = [p for p in processes if p.proc is not None and p.proc.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + timeout
    for process in running:
        assert process.proc is not None
        try:
            process.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


class PortTaken(AssertionError):
    """A server could not bind the port it was given: another process took it first."""


class PrivateRedis:
    """A redis-server of the test's own on a free port, so stopping it disturbs nobody else."""

    #: Ports tried by a first start whose picked port was taken before redis-server bound it.
    PORT_TRIES = 3

    def __init__(self, log_dir: Path) -> None:
        self.port = self._picked = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = Process("redis", [], dict(os.environ), log_dir)
        self._started = False

    def start(self) -> None:
        """Start redis-server on ``port`` (again, after ``stop``) and wait until it answers. The
        server that answers must be this one (its pid): a port picked free can be taken before
        redis-server binds it, and then the ping reached someone else's server. redis-server
        takes only a port number (no inherited socket), so a first start on the port this picked
        tries another one (``PORT_TRIES`` in all) when redis-server found it in use; a restart
        keeps its port (its clients know it), and a port set by the caller is never changed."""
        for tries in range(1, self.PORT_TRIES + 1):
            try:
                self._start()
            except PortTaken:
                if self._started or self.port != self._picked or tries == self.PORT_TRIES:
                    raise
                self.port = self._picked = free_port()
                self.url = f"redis://127.0.0.1:{self.port}/0"
            else:
                self._started = True
                return

    def _start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process.command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process.start()
        client = redis.Redis(port=self.port, socket_timeout=1)  # a listener that never answers is not this one
        deadline = time.monotonic() + 20
        while True:
            if not self.process.running:
                tail = self.process.tail()
                log = self.process.log.read_bytes()[self.process.log_offset :] if self.process.log.exists() else b""
                error = PortTaken if b"Address already in use" in log else AssertionError  # this start's output
                raise error(f"redis-server on port {self.port} exited (port taken?):\n{tail}")
            try:
                answered = int(client.info("server")["process_id"])
            except (redis.ConnectionError, redis.TimeoutError):
                answered = None
            if answered is not None:
                assert self.process.proc is not None
                if answered == self.process.proc.pid:
                    client.close()
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"redis-server did not start (port {self.port} answered by pid {answered}):\n{self.process.tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.kill()


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A new PostgreSQL database for one test (dropped afterwards); yields its URL."""
    base = os.environ.get("DATABASE_URL") or POSTGRES_URL
    parts = urlsplit(base)
    admin = urlunsplit(parts._replace(path="/postgres"))
    name = f"seams_faults_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


QUEUES = "seams.catalog,seams.inventory,seams.orders,seams.notifications,celery"


class Stack:
    """The shop deployed as processes: web, workers and relays, sharing one database and broker."""

    def __init__(self, database_url: str, redis_url: str, log_dir: Path, **events: str) -> None:
        self.log_dir = log_dir
        self.database_url = database_url
        self.env = project_env(
            {
                "DATABASE_URL": database_url,
                "CELERY_BROKER_URL": redis_url,
                "CELERY_RESULT_BACKEND": redis_url,
                "SEAMS_EVENT_DISPATCH": "celery",
                "DEBUG": "false",
                "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
                "SEAMS_VAR_DIR": str(log_dir / "var"),
                **{f"SEAMS_EVENT_{k.upper()}": str(v) for k, v in events.items()},
            }
        )
        self.processes: list[Process] = []

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300
        )
        if result.returncode:
            raise AssertionError(f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def add(self, name: str, command: list[str]) -> Process:
        process = Process(name, command, self.env, self.log_dir).start()
        self.processes.append(process)
        return process

    def web(self) -> tuple[Process, str]:
        """gunicorn on a socket this process listens on and hands over (``Process`` ``listeners``)."""
        listener = listening_socket()
        command = [str(BIN / "gunicorn"), "app.wsgi", "--bind", fd_bind(listener), "--workers", "3", "--timeout", "60"]
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        process = Process("web", command, self.env, self.log_dir, listeners=[listener]).start()
        self.processes.append(process)
        return process, url

    def worker(self, name: str = "worker", concurrency: int = 2) -> Process:
        command = [
            str(BIN / "celery"), "-A", "app", "worker", "-Q", QUEUES, "-c", str(concurrency), "-n", f"{name}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING",
        ]
        return self.add(name, command)

    def relay(self, name: str = "relay", interval: float = 1.0) -> Process:
        return self.add(name, [sys.executable, "manage.py", "relay_events", "--interval", str(interval)])

    def stop(self) -> None:
        stop_all(self.processes)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return conn.execute(sql).fetchall()

    def scalar(self, sql: str) -> object:
        return self.query(sql)[0][0]

    def publication_statuses(self) -> dict[str, int]:
        """Publications by status, summed over every module schema."""
        totals: dict[str, int] = {}
        for schema in ("catalog", "inventory", "orders", "notifications"):
            for status, count in self.query(f"SELECT status, count(*) FROM {schema}.seams_publication GROUP BY status"):
                totals[str(status)] = totals.get(str(status), 0) + int(count)  # type: ignore[call-overload]
        return totals

    def wait_until_drained(self, timeout: float) -> dict[str, int]:
        """Wait until no publication is open and no order pending; returns the final statuses."""
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.publication_statuses()
            open_count = sum(statuses.get(s, 0) for s in ("pending", "processing", "failed"))
            pending_orders = self.scalar("SELECT count(*) FROM orders.orders_order WHERE status = 'pending'")
            if open_count == 0 and pending_orders == 0:
                return statuses
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {p.name}\n{p.tail(15)}" for p in self.processes)
                raise AssertionError(f"not drained after {timeout}s: {statuses}, pending orders {pending_orders}\n{logs}")
            time.sleep(0.5)
