"""The project's Celery app with one slow, late-acknowledged task, so a test can hold a worker busy
(with an unacknowledged message) at the moment it chooses: ``celery -A tests.support.busy_celery worker``.

Everything else is the project's own: settings, broker transport, task modules.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")

from app.celery import celery_app  # noqa: E402

#: The queue the slow task goes to (the worker under test consumes it).
QUEUE = "tests.busy"


@celery_app.task(name="tests.busy.sleep", acks_late=True, ignore_result=True)
def sleep(marker: str, seconds: float) -> None:
    """Touch ``<marker>.started``, sleep, touch ``<marker>.done``."""
    Path(f"{marker}.started").touch()
    time.sleep(seconds)
    Path(f"{marker}.done").touch()


app = celery_app

#: The same for a generated service: ``busy_service.py``, written beside the service (on its path),
#: adds the slow task to the service's own app (``celery -A busy_service worker``).
SERVICE_APP = '''"""A generated service's Celery app with the tests' slow, late-acknowledged task."""
import time
from pathlib import Path

from service.celery import celery_app


@celery_app.task(name="tests.busy.sleep", acks_late=True, ignore_result=True)
def sleep(marker: str, seconds: float) -> None:
    Path(f"{marker}.started").touch()
    time.sleep(seconds)
    Path(f"{marker}.done").touch()


app = celery_app
'''

__all__ = ["QUEUE", "SERVICE_APP", "app", "sleep"]
