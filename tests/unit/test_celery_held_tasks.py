"""The tasks the Redis transport keeps out of kombu's unacked index (``extraction.celery.names``)
are the outbox's and the transport's own, by the names their senders and workers use: a task
renamed on one side only would silently go back to the index (or a project task leave it)."""

from __future__ import annotations

from django.conf import settings

from app.celery import celery_app
from contracts.kernel.outbox.dispatch import DELIVER_TASK, DRAIN_TASK
from extraction.celery.names import ANSWERED_TASKS, HELD_IN_MEMORY, OUTBOX_TASKS, RECEIVE_TASK_NAME, TASK_NAME


def test_the_outbox_tasks_are_the_ones_the_dispatcher_sends_and_beat_schedules() -> None:
    relay = settings.CELERY_BEAT_SCHEDULE["seams-relay"]["task"]
    assert {DELIVER_TASK, DRAIN_TASK, relay} == OUTBOX_TASKS
    celery_app.loader.import_default_modules()
    assert OUTBOX_TASKS <= set(celery_app.tasks)  # the kernel's workers know them by these names


def test_only_the_outbox_and_answered_tasks_are_held_in_memory() -> None:
    assert {TASK_NAME, RECEIVE_TASK_NAME} == ANSWERED_TASKS
    assert HELD_IN_MEMORY == ANSWERED_TASKS | OUTBOX_TASKS
