"""The project's Celery app (workers: ``celery -A app worker``).

Events are delivered in-process by default; the durable, Celery-dispatched mode plugs in through
``SEAMS_EVENT_BACKEND`` without touching module code.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")

#: Celery's Django fix-up, except that connections are kept between tasks by CONN_MAX_AGE (as Django
#: keeps them between requests) instead of closed around every task (extraction/celery/fixup.py).
celery_app = Celery("app", fixups=["extraction.celery.fixup:fixup"])
celery_app.config_from_object("django.conf:settings", namespace="CELERY")
celery_app.autodiscover_tasks()
celery_app.autodiscover_tasks(["extraction.celery"])  # seams.call_contract: the Celery transport's task
