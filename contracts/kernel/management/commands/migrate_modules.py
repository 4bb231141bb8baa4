"""``manage.py migrate_modules``: create PostgreSQL schemas if needed, then migrate every database.

Plain ``migrate`` handles one alias; a Seams project has ``default`` plus one alias per module (one
SQLite file each, or one PostgreSQL schema each). This runs them all, in that order.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import connections

from contracts.kernel.databases import ensure_schemas, migrate_all


class Command(BaseCommand):
    help = "Create the module schemas (PostgreSQL) and migrate 'default' and every module's database alias."

    def handle(self, *args: Any, verbosity: int = 1, **options: Any) -> None:
        started = time.monotonic()
        aliases = ["default", *[a for a in connections if a != "default"]]
        schemas = ensure_schemas(aliases)
        if verbosity and schemas:
            self.stdout.write(f"PostgreSQL schemas ready: {', '.join(schemas)}")
        migrated = migrate_all(verbosity=verbosity, stdout=self.stdout)
        if verbosity:
            self.stdout.write(
                self.style.SUCCESS(f"Migrated {len(migrated)} databases ({', '.join(migrated)}) in {time.monotonic() - started:.1f}s.")
            )
