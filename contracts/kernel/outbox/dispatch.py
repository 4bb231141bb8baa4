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
from ..telemetry.tracing import contained
from .claiming import WORKER_ID, release_claims
from .config import outbox_settings

log = logging.getLogger("seams.outbox")

#: The Celery task that runs one publication on a worker (``contracts.kernel.tasks``).
DELIVER_TASK = "seams.deliver_publication"
#: The batch drain: one task that runs many publications bound for the same queue.
DRAIN_TASK = "seams.deliver_publications"


class InlineDispatcher:
    """Process publications right here, one after the other (the embedded default)."""

    def dispatch(
        self, alias: str, ids: list[int], countdown: float | None = None, queues: dict[int, str] | None = None
    ) -> None:
        from .processing import process_publications  # processing dispatches retries: import at call time

        if countdown is not None or not ids:
            return  # a retry: in inline mode the relay runs it when due, not this stack
        process_publications(alias, ids)


class CeleryDispatcher:
    """Send publications as Celery tasks to the subscriber module's queue: one
    ``seams.deliver_publication`` for a lone publication, one ``seams.deliver_publications`` (the
    batch drain: one claim, one read and one completion statement for all) per ``DRAIN_BATCH``
    publications bound for the same queue, as the relay sends them after an outage.

    When the broker cannot be reached the publications simply stay in the outbox for the relay,
    and for ``BROKER_BACKOFF`` seconds no request tries the broker again, so an outage costs web
    requests nothing.
    """

    BROKER_BACKOFF = 5.0

    def __init__(self) -> None:
        self.broker_down_until = 0.0

    def claim_token(self) -> str:
        """The claim a publisher writes its publications with when this dispatcher will send them
        (their messages carry it, so the worker reads them without claiming: ``process_dispatched``);
        "" while the broker is known to be down: they are written pending, for the relay."""
        return "" if time.monotonic() < self.broker_down_until else f"{WORKER_ID}:sent"

    @staticmethod
    def queue_label(subscriber: str, publisher: str) -> str:
        """Whose queue takes a publication: the subscriber module's, where its handler runs; for a
        remote subscriber, the publisher's, whose workers can read the outbox and forward it."""
        return publisher if is_remote(subscriber) else subscriber

    def dispatch(
        self,
        alias: str,
        ids: list[int],
        countdown: float | None = None,
        queues: dict[int, str] | None = None,
        claimed: frozenset[int] = frozenset(),
        claimed_by: str = "",
        modules: dict[int, str] | None = None,
    ) -> None:
        """Send ``ids``; ``queues`` (publication id -> module label) saves reading them when the
        caller knows (the publisher does). ``claimed``: those of ``ids`` written already claimed by
        ``claimed_by`` (``claim_token``); their messages carry the claim, and a lone one's also its
        subscriber's module from ``modules`` (publication id -> module label), so the worker can
        read it in the handler's transaction (``colocated``). If a message cannot be sent, its
        claimed publications are given back to the relay at once (``release_claims``)."""
        from celery import current_app

        if time.monotonic() < self.broker_down_until or not ids:
            if claimed:
                release_claims(alias, sorted(claimed), claimed_by)
            return
        if queues is None:
            queues = {
                pk: self.queue_label(subscriber, publisher)
                for pk, subscriber, publisher in Publication.objects.using(alias)
                .filter(pk__in=ids)
                .values_list("pk", "subscriber_module", "publisher")
            }
        config = outbox_settings()
        by_queue: dict[tuple[str, bool], list[int]] = {}
        for pk in ids:
            by_queue.setdefault((queues.get(pk, "default"), pk in claimed), []).append(pk)
        chunks = [
            (queue, held, pks[start : start + config.drain_batch])
            for (queue, held), pks in by_queue.items()
            for start in range(0, len(pks), config.drain_batch)
        ]
        for n, (queue, held, chunk) in enumerate(chunks):
            first = chunk[0] if len(chunk) == 1 else chunk
            args: tuple[object, ...] = (alias, first, claimed_by) if held else (alias, first)
            if held and len(chunk) == 1 and modules and first in modules:
                args = (alias, first, claimed_by, modules[first])
            try:
                contained(
                    current_app.send_task,
                    DELIVER_TASK if len(chunk) == 1 else DRAIN_TASK,
                    args,
                    queue=f"{config.queue_prefix}{queue}",
                    countdown=countdown,
                    retry=False,
                    ignore_result=True,  # nothing reads it: no result-backend subscription per send
                )
            except Exception as exc:  # broker down: the outbox keeps it, the relay sends it later
                self.broker_down_until = time.monotonic() + self.BROKER_BACKOFF
                log.warning("Could not dispatch publications %s:%s (%s); the relay will send them.", alias, chunk, exc)
                unsent = [pk for _, is_held, rest in chunks[n:] if is_held for pk in rest]
                if unsent:
                    release_claims(alias, unsent, claimed_by)
                return


DISPATCHERS = {"inline": InlineDispatcher, "celery": CeleryDispatcher}


@lru_cache(maxsize=1)
def dispatcher() -> InlineDispatcher | CeleryDispatcher:
    return DISPATCHERS[outbox_settings().dispatch]()


def _forget_dispatcher(**_: object) -> None:
    dispatcher.cache_clear()


# A named function: signals keep weak references, so a lambda receiver would vanish.
setting_changed.connect(_forget_dispatcher)
