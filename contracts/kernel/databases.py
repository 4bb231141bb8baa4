"""Database settings for a project whose modules each own a database alias.

Embedded default: one SQLite file per module under a directory (no server needed). With a
``postgres://`` URL every module gets its own alias on the same server, each confined to a schema
named after the module through ``search_path``; Django's own apps use ``public`` on ``default``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url


def module_databases(
    labels: list[str], *, database_url: str | None, sqlite_dir: Path, conn_max_age: int = 0
) -> dict[str, dict[str, Any]]:
    """The DATABASES setting: ``default`` plus one alias per module label.

    ``conn_max_age`` (PostgreSQL) keeps connections open between requests and Celery tasks, with
    Django's health check before reuse: a worker then pays no connection set-up per task.
    """
    if not database_url:
        sqlite_dir.mkdir(parents=True, exist_ok=True)
        return {
            alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": str(sqlite_dir / f"{alias}.sqlite3")}
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
