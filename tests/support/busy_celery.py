"""The project's Celery app with one slow, late-acknowledged task, so a test can hold a worker busy
(with an unacknowledged message) at the moment it chooses: ``celery -A tests.support.busy_celery worker``.

Everything else is the project's own: settings, broker transport, task modules.
"""

from __future__ import annotations

import inspect
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")

from app.celery import celery_app  # noqa: E402

#: The queue the slow task goes to (the worker under test consumes it).
QUEUE = "tests.busy"


def add_slow_task(app: Any) -> Any:
    """Add the slow task to ``app``: touch ``<marker>.started``, sleep ``seconds``, touch ``<marker>.done``.
    (Its source is also the generated service's: ``SERVICE_APP``.)"""

    @app.task(name="tests.busy.sleep", acks_late=True, ignore_result=True)
    def sleep(marker: str, seconds: float) -> None:
        Path(f"{marker}.started").touch()
        time.sleep(seconds)  # the behaviour under test: a task that holds its worker busy
        Path(f"{marker}.done").touch()

    return sleep


sleep = add_slow_task(celery_app)
app = celery_app

#: The same for a generated service: ``busy_service.py``, written beside the service (on its path),
#: adds the slow task, the function above copied from this file, to the service's own app
#: (``celery -A busy_service worker``).
SERVICE_APP = f'''"""A generated service's Celery app with the tests' slow, late-acknowledged task."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from service.celery import celery_app


{inspect.getsource(add_slow_task)}

sleep = add_slow_task(celery_app)
app = celery_app
'''

__all__ = ["QUEUE", "SERVICE_APP", "add_slow_task", "app", "sleep"]
