"""What a process on the embedded default (SQLite) imports to load its settings and apps.

``manage.py help`` imported 1,356 modules (``manage.py check`` 1,536), psycopg and Django's
PostgreSQL backend among them on SQLite (``contracts/kernel/outbox/prepared.py``), and the Celery
transport's client, redis, PyJWT and PyNaCl through packages whose ``__init__`` imported every
submodule. Checked in a fresh interpreter (this one has imported everything the other tests need).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ROOT, project_env

#: Loads the settings and the apps as ``manage.py`` does, then lists the modules imported.
LOAD = "import django, json, sys; django.setup(); print(json.dumps(sorted(sys.modules)))"


def imported(tmp_path: Path, extra: dict[str, str] | None = None) -> set[str]:
    env = project_env({"SEAMS_VAR_DIR": str(tmp_path), **(extra or {})})
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-c", LOAD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(result.stdout))


@pytest.fixture(scope="module")
def sqlite_modules(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    return imported(tmp_path_factory.mktemp("imports"))


def under(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(f"{package}."))


@pytest.mark.parametrize(
    "package",
    [
        "psycopg",  # the outbox's prepared statements: PostgreSQL only (prepared_psycopg)
        "django.db.backends.postgresql",
        "extraction.celery.client",  # the Celery transport: a binding or a worker needs it, not the settings
        "kombu.transport.redis",  # the broker transport: named by the settings, loaded by a connection
        "jwt",  # tokens: checked per request, not at start-up
        "nacl",
    ],
)
def test_settings_and_apps_on_sqlite_do_not_import(package: str, sqlite_modules: set[str]) -> None:
    assert under(sqlite_modules, package) == []


def test_the_outbox_still_prepares_on_postgresql() -> None:
    """The PostgreSQL half is one import away (the first PostgreSQL statement imports it)."""
    from contracts.kernel.outbox import prepared, prepared_psycopg

    assert prepared._import_psycopg() is prepared_psycopg
