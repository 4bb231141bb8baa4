"""The durable event backend: a transactional outbox with a publication registry.

``publish()`` writes one ``Publication`` per subscriber, each holding the event, into the
publisher's own database, in the publisher's transaction, with one INSERT (``backend``). After commit a *dispatcher* (``dispatch``)
hands each publication to ``process_publication`` (``processing``) — in this process (``inline``)
or as a Celery task on the subscriber module's queue (``celery``), sent by name. A worker takes a
publication with a compare-and-set claim (``claiming``), runs the handler with its inbox
(``inbox``) or forwards the event to the process that serves it (``forwarding``). The outbox row is
the truth: the relay (``relay``, run by ``manage.py relay_events`` and a Celery beat task)
re-dispatches whatever was not completed in time, so a crash between commit and dispatch, a dead
worker or a broker outage loses nothing.

Delivery is at least once; the subscriber's inbox (written in the handler's own transaction)
makes the effect exactly once. See docs/events.md.
"""

from .backend import OutboxEventBackend, subscribers_of
from .claiming import WORKER_ID, claim
from .config import OutboxSettings, outbox_settings
from .dispatch import CeleryDispatcher, InlineDispatcher, dispatcher
from .forwarding import envelope_to_wire
from .inbox import receive_event
from .processing import (  # noqa: F401  (_dispatch_next_of_key: bench/outbox_claim.py)
    _dispatch_next_of_key,
    backoff_seconds,
    process_dispatched,
    process_publication,
    process_publications,
)
from .relay import due_publications, module_aliases, relay_once, release_expired_leases

__all__ = [
    "WORKER_ID",
    "CeleryDispatcher",
    "InlineDispatcher",
    "OutboxEventBackend",
    "OutboxSettings",
    "backoff_seconds",
    "claim",
    "dispatcher",
    "due_publications",
    "envelope_to_wire",
    "module_aliases",
    "outbox_settings",
    "process_dispatched",
    "process_publication",
    "process_publications",
    "receive_event",
    "relay_once",
    "release_expired_leases",
    "subscribers_of",
]
