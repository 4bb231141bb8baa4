"""The service's Celery app.

Worker: ``celery -A service worker -Q {{ queues }}`` (events for {{ label }} and, with the Celery
transport, its contract calls). Beat: ``celery -A service beat`` (the outbox relay).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "service.settings")

#: Celery's Django fix-up, except that connections are kept between tasks by CONN_MAX_AGE
#: (extraction/celery/fixup.py) instead of closed around every task.
celery_app = Celery("service", fixups=["extraction.celery.fixup:fixup"])
celery_app.config_from_object("django.conf:settings", namespace="CELERY")
celery_app.autodiscover_tasks()
celery_app.autodiscover_tasks(["extraction.celery"])  # seams.call_contract: the Celery transport's task
