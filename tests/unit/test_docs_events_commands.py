"""docs/events.md's shell lines run as written in a new user's shell (issue 7's audit).

``make`` exports ``DEBUG=true``; a shell does not, and with DEBUG off the settings refuse to start
without a ``SECRET_KEY`` (docs/security.md). Every ``manage.py`` and ``celery`` line of the page
copied into a fresh shell stopped there with a traceback, ``manage.py serve --help`` included. So
each block that runs one says ``export DEBUG=true`` first (or the line sets it), and the refusal
itself says what to do in development.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from extraction.hardening import secret_key_from_env

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
BLOCK = re.compile(r"```bash\n(.*?)```", re.S)


def project_commands() -> list[tuple[str, bool]]:
    """(line, runs in development) for each line of a bash block that starts the project's code."""
    found = []
    for block in BLOCK.findall(DOC.read_text()):
        exported = False
        for line in block.splitlines():
            exported = exported or line.startswith("export DEBUG=true")
            if "manage.py" in line.split("#")[0] or "bin/celery" in line.split("#")[0]:
                found.append((line, exported or "DEBUG=true" in line.split("#")[0]))
    return found


def test_every_manage_py_and_celery_line_of_the_events_page_runs_in_development() -> None:
    commands = project_commands()
    assert len(commands) >= 10  # relay_events, the Celery worker and beat, serve, the events subcommands
    assert [line for line, ok in commands if not ok] == []


def test_the_secret_key_refusal_says_how_to_run_in_development(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"In development set DEBUG=true \(make does\)"):
        secret_key_from_env({}, debug=False, var_dir=tmp_path)
