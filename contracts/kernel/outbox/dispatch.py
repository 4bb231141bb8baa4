"""Dispatchers: how a committed publication reaches the code that processes it.

``inline`` processes it right here; ``celery`` sends a task *by name* (``seams.deliver_publication``)
to the subscriber module's queue, so this package never imports the task module (which imports
this package): the worker side knows the task, the sending side only its name.
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache

from django.core.signals import setting_changed

from ..models import Publication
from ..remote import is_remote
from .config import outbox_settings

log = logging.getLogger("seams.outbox")

#: The Celery task that runs one publication on a worker (``contracts.kernel.tasks``).
DELIVER_TASK = "seams.deliver_publication"


class InlineDispatcher:
    """Process publications right here, one after the other (the embedded default)."""

    def dispatch(self, alias: str, ids: list[int], countdown: float | None = None) -> None:
        from .processing import process_publication  # processing dispatches retries: import at call time

        if countdown is not None:
            return  # a retry: in inline mode the relay runs it when due, not this stack
        for pk in ids:
            process_publication(alias, pk)


class CeleryDispatcher:
    """Send one Celery task per publication to the subscriber module's queue.

    When the broker cannot be reached the publications simply stay in the outbox for the relay,
    and for ``BROKER_BACKOFF`` seconds no request tries the broker again, so an outage costs web
    requests nothing.
    """

    BROKER_BACKOFF = 5.0

    def __init__(self) -> None:
        self.broker_down_until = 0.0

    @staticmethod
    def queue_label(subscriber: str, publisher: str) -> str:
        """Whose queue takes a publication: the subscriber module's, where its handler runs; for a
        remote subscriber, the publisher's, whose workers can read the outbox and forward it."""
        return publisher if is_remote(subscriber) else subscriber

    def dispatch(self, alias: str, ids: list[int], countdown: float | None = None) -> None:
        from celery import current_app

        if time.monotonic() < self.broker_down_until:
            return
        queues = {
            pk: self.queue_label(subscriber, publisher)
            for pk, subscriber, publisher in Publication.objects.using(alias)
            .filter(pk__in=ids)
            .values_list("pk", "subscriber_module", "event__publisher")
        }
        prefix = outbox_settings().queue_prefix
        for pk in ids:
            try:
                current_app.send_task(
                    DELIVER_TASK,
                    (alias, pk),
                    queue=f"{prefix}{queues.get(pk, 'default')}",
                    countdown=countdown,
                    retry=False,
                    ignore_result=True,  # nothing reads it: no result-backend subscription per send
                )
            except Exception as exc:  # broker down: the outbox keeps it, the relay sends it later
                self.broker_down_until = time.monotonic() + self.BROKER_BACKOFF
                log.warning("Could not dispatch publication %s:%s (%s); the relay will send it.", alias, pk, exc)
                return


DISPATCHERS = {"inline": InlineDispatcher, "celery": CeleryDispatcher}


@lru_cache(maxsize=1)
def dispatcher() -> InlineDispatcher | CeleryDispatcher:
    return DISPATCHERS[outbox_settings().dispatch]()


def _forget_dispatcher(**_: object) -> None:
    dispatcher.cache_clear()


# A named function: signals keep weak references, so a lambda receiver would vanish.
setting_changed.connect(_forget_dispatcher)
