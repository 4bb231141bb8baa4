"""A settings mistake under a real server is one line, as under ``manage.py`` (``extraction.settings.cli``).

``gunicorn app.wsgi`` and the ASGI module (what uvicorn imports) load the settings before Django's
application: a refusal is ``ConfigurationError: <what to do>`` (or ``ImproperlyConfigured``), not a
traceback. Under gunicorn its arbiter then stops with "App failed to load" instead of booting
worker after worker. ``SEAMS_TRACEBACK=1`` shows the traceback for whoever needs it. The generated
services' entry points are checked in ``test_service_settings.py``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.processes import BIN, ROOT, project_env

MISTAKE = {"SEAMS_BIND_CATALGO": "http://catalog:8000"}
LINE = "ConfigurationError: SEAMS_BIND_CATALGO names no module: catalgo is not one of"


def env(extra: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in project_env({}).items() if not k.startswith("SEAMS_BIND_")}
    return {**base, "DEBUG": "true", **extra}


def test_gunicorn_stops_at_once_with_the_one_line() -> None:
    """Failed first: "Exception in worker process", a traceback, "Worker failed to boot"."""
    command = [str(BIN / "gunicorn"), "app.wsgi", "--bind", "127.0.0.1:0", "--workers", "2"]
    result = subprocess.run(command, cwd=ROOT, env=env(MISTAKE), capture_output=True, text=True, timeout=120)
    assert result.returncode == 4 and "App failed to load" in result.stderr, result.stderr
    assert sum(LINE in text for text in result.stderr.splitlines()) >= 1, result.stderr
    assert "Traceback" not in result.stderr and "Exception in worker process" not in result.stderr, result.stderr


@pytest.mark.parametrize("module", ["app.wsgi", "app.asgi"])
def test_importing_the_entry_point_says_the_one_line_and_exits_2(module: str) -> None:
    result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, env=env(MISTAKE), capture_output=True, text=True, timeout=120)
    assert (result.returncode, [text for text in result.stderr.splitlines() if text.strip()]) == (2, [result.stderr.strip()]), result.stderr
    assert result.stderr.startswith(LINE), result.stderr


def test_seams_traceback_shows_the_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import app.wsgi"], cwd=ROOT, env=env({**MISTAKE, "SEAMS_TRACEBACK": "1"}),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" in result.stderr and "ConfigurationError" in result.stderr, result.stderr


def test_a_good_environment_still_loads_the_application() -> None:
    probe = "import app.wsgi, app.asgi; print(type(app.wsgi.application).__name__, type(app.asgi.application).__name__)"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env({}), capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout.split()) == (0, ["WSGIHandler", "ASGIHandler"]), result.stderr
