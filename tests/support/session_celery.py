"""The project's Celery app with one probe task that tells whether the worker kept its database
connection since the previous task: ``celery -A tests.support.session_celery worker``.

A ``TEMP`` table lives exactly as long as its connection (SQLite and PostgreSQL alike), so
"the table was already there" means "this task ran on the connection the previous one used".
Everything else is the project's own: settings, the Django fix-up of ``app/celery.py``.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")

from app.celery import celery_app  # noqa: E402

#: The queue the probe task goes to (the worker under test consumes it).
QUEUE = "tests.session"


@celery_app.task(name="tests.session.kept", ignore_result=False)
def kept(alias: str) -> bool:
    """Whether ``alias``'s connection is the one the previous task used (its marker table exists)."""
    from django.db import connections

    with connections[alias].cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS seams_session_probe (n INTEGER)")
        cursor.execute("SELECT COUNT(*) FROM seams_session_probe")
        seen = cursor.fetchone()[0] > 0
        cursor.execute("INSERT INTO seams_session_probe (n) VALUES (1)")
    return bool(seen)


app = celery_app

__all__ = ["QUEUE", "app", "kept"]
