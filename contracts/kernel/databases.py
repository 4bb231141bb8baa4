"""Database settings for a project whose modules each own a database alias.

Embedded default: one SQLite file per module under a directory (no server needed), tuned so that
concurrent requests and event handlers wait for each other instead of failing with "database is
locked" (see :func:`sqlite_options`). With a ``postgres://`` URL every module gets its own alias on the same server, each confined to a schema
named after the module through ``search_path``; Django's own apps use ``public`` on ``default``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url

from . import checkpoints

#: ``PRAGMA synchronous`` levels accepted for the SQLite files (see :func:`sqlite_options`).
SQLITE_SYNCHRONOUS = ("NORMAL", "FULL")


def sqlite_options(*, synchronous: str = "NORMAL", timeout: float = 20.0) -> dict[str, Any]:
    """``OPTIONS`` for one module's SQLite file, so concurrent writers queue instead of failing.

    * ``journal_mode=WAL``: readers never block the writer and the writer never blocks readers.
    * ``transaction_mode = IMMEDIATE``: every ``atomic()`` takes the write lock when it begins. A
      deferred transaction that reads first and writes later cannot wait for the lock (SQLite
      refuses the upgrade at once, with "database is locked", to avoid a deadlock); an immediate
      one simply waits its turn.
    * ``timeout``: how long (seconds) a writer waits for the lock before giving up (SQLite's busy
      timeout).
    * ``synchronous``: ``NORMAL`` (default) syncs the WAL at checkpoints, not at every commit. In
      WAL mode that never corrupts the file, but a power loss or OS crash (not a process crash)
      can lose the last commits. ``FULL`` syncs every commit: nothing committed is ever lost, at
      the price of one fsync per commit.
    * ``wal_autocheckpoint``: raised to ``checkpoints.AUTOCHECKPOINT`` pages, because each process's
      ``seams-checkpoints`` thread checkpoints the WAL in the background (``checkpoints``): a commit
      then checkpoints only as a fallback, instead of one commit in a few hundred paying for it.
    """
    level = synchronous.strip().upper()
    if level not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"SQLite synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS)}, got {synchronous!r}")
    if timeout <= 0:
        raise ValueError(f"SQLite timeout must be a positive number of seconds, got {timeout!r}")
    return {
        "init_command": f"PRAGMA journal_mode=WAL;PRAGMA synchronous={level};{checkpoints.MARKER}",
        "transaction_mode": "IMMEDIATE",
        "timeout": timeout,
    }


def module_databases(
    labels: list[str],
    *,
    database_url: str | None,
    sqlite_dir: Path,
    conn_max_age: int = 0,
    sqlite_synchronous: str = "NORMAL",
    sqlite_timeout: float = 20.0,
) -> dict[str, dict[str, Any]]:
    """The DATABASES setting: ``default`` plus one alias per module label.

    ``conn_max_age`` keeps connections open between requests and Celery tasks (the worker's fix-up,
    ``extraction/celery/fixup.py``, honours it): a worker then pays no connection set-up per task —
    on PostgreSQL a connect with Django's health check before reuse, on SQLite a file open and the
    ``PRAGMA`` init command (a file cannot drop a connection: no health check).
    ``sqlite_synchronous`` and ``sqlite_timeout`` tune the embedded default (:func:`sqlite_options`).
    """
    if not database_url:
        options = sqlite_options(synchronous=sqlite_synchronous, timeout=sqlite_timeout)
        sqlite_dir.mkdir(parents=True, exist_ok=True)
        return {
            alias: {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(sqlite_dir / f"{alias}.sqlite3"),
                "OPTIONS": dict(options),
                "CONN_MAX_AGE": conn_max_age,
            }
            for alias in ["default", *labels]
        }
    base = dj_database_url.parse(database_url, conn_max_age=conn_max_age, conn_health_checks=conn_max_age > 0)
    if base["ENGINE"] != "django.db.backends.postgresql":
        raise ValueError(f"DATABASE_URL must be postgres://... or unset (SQLite per module), got {base['ENGINE']}")
    databases = {"default": {**base, "OPTIONS": {**base.get("OPTIONS", {}), "options": "-c search_path=public"}}}
    for label in labels:
        databases[label] = {**base, "OPTIONS": {**base.get("OPTIONS", {}), "options": f"-c search_path={label}"}}
    return databases


def schema_of(settings_dict: dict[str, Any]) -> str | None:
    """The PostgreSQL schema an alias is confined to, if any."""
    options = settings_dict.get("OPTIONS", {}).get("options", "")
    marker = "search_path="
    return options.split(marker, 1)[1].split()[0].split(",")[0] if marker in options else None


def ensure_schemas(aliases: list[str] | None = None) -> list[str]:
    """Create the PostgreSQL schema of each alias if missing; returns the schemas created or found."""
    from django.db import connections

    done = []
    for alias in aliases or list(connections):
        connection = connections[alias]
        schema = schema_of(connection.settings_dict)
        if connection.vendor != "postgresql" or not schema:
            continue
        with connections["default"].cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        done.append(schema)
    return done


def migrate_all(verbosity: int = 1, stdout: Any = None) -> list[str]:
    """Create schemas, then migrate ``default`` and every module alias; returns the aliases migrated."""
    from django.core.management import call_command
    from django.db import connections

    aliases = ["default", *[a for a in connections if a != "default"]]
    ensure_schemas(aliases)
    for alias in aliases:
        if verbosity:
            (stdout.write if stdout else print)(f"Migrating database '{alias}'")
        call_command("migrate", database=alias, verbosity=max(verbosity - 1, 0), interactive=False)
    return aliases
