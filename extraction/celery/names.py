"""The names of the Celery transport's tasks, in a module of their own: the broker transport
(:mod:`.redis_transport`, loaded from settings, before Django is set up) needs them as much as the
tasks (:mod:`.tasks`) and the callers (:mod:`.client`) do.

Both are *answered* tasks: a caller waits for the answer at most its ``TIMEOUT`` (a contract call
carries that deadline, a forwarded event expires with it), then gives up and, for an event, its
outbox forwards again later.
"""

from __future__ import annotations

__all__ = ["ANSWERED_TASKS", "RECEIVE_TASK_NAME", "TASK_NAME"]

#: The task of a contract call (``extraction.celery.tasks.call_contract``).
TASK_NAME = "seams.call_contract"
#: The task that receives an event forwarded to a handler of a module served by a worker.
RECEIVE_TASK_NAME = "seams.receive_event"
#: The tasks somebody waits on, for a few seconds at most.
ANSWERED_TASKS = frozenset({TASK_NAME, RECEIVE_TASK_NAME})
