"""The names of the Celery transport's tasks, in a module of their own: the broker transport
(:mod:`.redis_transport`, loaded from settings, before Django is set up) needs them as much as the
tasks (:mod:`.tasks`) and the callers (:mod:`.client`) do.

Both are *answered* tasks: a caller waits for the answer at most its ``TIMEOUT`` (a contract call
carries that deadline in its arguments, a forwarded event in its :data:`DEADLINE_HEADER`), then
gives up and, for an event, its outbox forwards again later.
"""

from __future__ import annotations

__all__ = ["ANSWERED_TASKS", "DEADLINE_HEADER", "HELD_IN_MEMORY", "OUTBOX_TASKS", "RECEIVE_TASK_NAME", "TASK_NAME", "TRANSPORT", "broker_transport"]

#: The task of a contract call (``extraction.celery.tasks.call_contract``).
TASK_NAME = "seams.call_contract"
#: The task that receives an event forwarded to a handler of a module served by a worker.
RECEIVE_TASK_NAME = "seams.receive_event"
#: The message header of a forwarded event that says when its publisher stops waiting (epoch
#: seconds): the worker drops it unrun after that. Not Celery's ``expires``, which costs a date
#: conversion on the sender and a parse and a time-zone lookup (Celery's configuration over
#: Django's settings) on the worker for every message; a header, not an argument, so that workers
#: and senders of the previous version still understand each other (an unknown header is ignored).
DEADLINE_HEADER = "seams_deadline"
#: The tasks somebody waits on, for a few seconds at most.
ANSWERED_TASKS = frozenset({TASK_NAME, RECEIVE_TASK_NAME})
#: The outbox's own tasks (``contracts.kernel.tasks``; their names are the dispatcher's,
#: ``outbox.dispatch.DELIVER_TASK`` and ``DRAIN_TASK``, and the beat schedule's ``seams.relay``).
#: Redelivering one of their messages is the outbox relay's job, not the broker's: a publication
#: whose message was lost is still open in the outbox, and the relay sends it again after its lease
#: (``LEASE``, a minute) or ``STALE_AFTER``, where kombu's unacked index would restore it after its
#: visibility timeout (an hour), a copy that the claim and the inbox would then drop.
OUTBOX_TASKS = frozenset({"seams.deliver_publication", "seams.deliver_publications", "seams.relay"})
#: The tasks the Redis transport keeps out of kombu's unacked index (``redis_transport.QoS``).
HELD_IN_MEMORY = ANSWERED_TASKS | OUTBOX_TASKS

#: ``CELERY_BROKER_TRANSPORT`` for a Redis broker: :mod:`.redis_transport` (kombu's, with its fix).
#: Named here so that the settings choose it without importing kombu and redis.
TRANSPORT = "extraction.celery.redis_transport:Transport"


def broker_transport(broker_url: str) -> str | None:
    """``CELERY_BROKER_TRANSPORT`` for a broker URL: this transport for Redis, kombu's choice otherwise."""
    return TRANSPORT if broker_url.split("://", 1)[0].lower() in {"redis", "rediss"} else None
