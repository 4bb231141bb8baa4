"""Run a service written by ``manage.py extract_module`` as real processes: its gunicorn
(``service.wsgi``) and its Celery worker, from the service's own directory, with this virtualenv's
Python but without the monolith on the path.

The project is installed in editable mode here, so a ``sitecustomize`` (found first on the
service's ``PYTHONPATH``) removes that finder from the service's processes: an import of ``app`` or
of a module that stayed in the monolith fails as it would in the service's container.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .processes import BIN, ROOT, project_env
from .stack import Process

ISOLATION = '''"""Hide the monolith's editable install from the generated service's processes."""
import sys

sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
'''

#: Variables of the test's own environment that would configure a process behind the test's back.
_FOREIGN = ("DJANGO_", "SEAMS_", "DATABASE_URL", "CELERY_")


class DirProcess(Process):
    """A ``Process`` started in a directory of its own (a generated service), not the monolith's."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_dir: Path, cwd: Path = ROOT) -> None:
        super().__init__(name, command, env, log_dir)
        self.cwd = cwd

    def start(self) -> DirProcess:
        self.log_offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self


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


def web_command(wsgi: str, port: int, threads: int = 8) -> list[str]:
    """gunicorn with one worker and threads: a request may wait on a call that comes back here."""
    return [
        str(BIN / "gunicorn"), wsgi, "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", str(threads),
        "--timeout", "120", "--access-logfile", "-",
    ]


def worker_command(app: str, queues: str, name: str, concurrency: int = 1) -> list[str]:
    return [
        str(BIN / "celery"), "-A", app, "worker", "-Q", queues, "-c", str(concurrency), "-n", f"{name}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO",
    ]


def wait_for(url: str, process: Process, timeout: float = 90) -> None:
    """Wait until ``url`` answers (any status); fail at once if the process died."""
    deadline = time.monotonic() + timeout
    while True:
        if not process.running:
            raise AssertionError(f"{process.name} exited:\n{process.tail()}")
        try:
            httpx.get(url, timeout=5)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{process.name} did not answer {url} within {timeout} s:\n{process.tail()}") from None
            time.sleep(0.3)


def wait_for_worker(process: Process, timeout: float = 90) -> None:
    """Wait until a Celery worker says it is ready (its log line ``celery@... ready.``) in this
    start's output: the log is appended to, so an earlier run's line would already be there."""
    deadline = time.monotonic() + timeout
    while " ready." not in process.output():
        if not process.running:
            raise AssertionError(f"{process.name} exited:\n{process.tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{process.name} was not ready within {timeout} s:\n{process.tail()}")
        time.sleep(0.3)
