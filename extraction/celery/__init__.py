"""The Celery transport: a module's contracts served by Celery workers on its RPC queue.

* client: :func:`CeleryTransport`, the factory named in ``SEAMS_TRANSPORTS["celery"]``;
* server: the task ``seams.call_contract`` (:mod:`extraction.celery.tasks`), imported by the
  project's Celery app so that every worker knows it.

See docs/transports.md.
"""

from .client import CeleryTransport
from .tasks import TASK_NAME, call_contract

__all__ = ["TASK_NAME", "CeleryTransport", "call_contract"]
