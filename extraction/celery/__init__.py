"""The Celery transport: a module's contracts served by Celery workers on its RPC queue.

* client: :func:`CeleryTransport`, the factory named in ``SEAMS_TRANSPORTS["celery"]``;
* server: the task ``seams.call_contract`` (:mod:`extraction.celery.tasks`), imported by the
  project's Celery app so that every worker knows it.

See docs/transports.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.kernel.lazy import lazy_exports

from .names import TASK_NAME

if TYPE_CHECKING:
    from .client import CeleryTransport
    from .tasks import call_contract

__all__ = ["TASK_NAME", "CeleryTransport", "call_contract"]

#: Imported when first asked for, not with the package: the settings (``names``), the fix-up every
#: Celery app installs (``fixup``) and ``manage.py`` load this package, and the client brings
#: Celery's app machinery, redis, pydantic and the identity's crypto (about 250 ms, 230 modules).
__getattr__ = lazy_exports(__name__, {"CeleryTransport": "client", "call_contract": "tasks"})
