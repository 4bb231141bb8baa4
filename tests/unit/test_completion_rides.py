"""Completion marks that ride on the next publish's transaction (``completions.DeferredCompletions.ride``).

Once ``COMPLETION_BATCH`` marks wait for a database, the next publish on it writes them in its own
transaction, before its INSERT. What is pinned here: a ride that rolls back loses no mark (they are
written later, by a flush or by the flusher thread), a committed ride releases the later event of a
key it held back, and a keyed event published right after its predecessor's mark rides goes at
once instead of waiting behind it. The statement counts are pinned in test_outbox_costs.py.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from django.db import connections, transaction
from django.test import override_settings

from contracts.kernel import ModuleConfig, subscribe
from contracts.kernel.models import Publication, PublicationStatus
from contracts.kernel.outbox.completions import DeferredCompletions, deferred
from contracts.kernel.registry import isolated_registry
from contracts.kernel.testing import write_completions
from modules.notifications.models import SentEmail
from tests.unit.probe import services

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _marks_wait() -> bool:
    """Across two SQLite files the handler's transaction cannot write its mark, so marks wait. On
    one PostgreSQL database (module schemas) each handler's transaction writes its own and none
    waits; the ride's UPDATE itself runs on PostgreSQL in the last test of this file."""
    return connections["catalog"].vendor == "sqlite"


marks_wait = pytest.mark.skipif("not _marks_wait()", reason="no mark waits on one PostgreSQL database: each handler's transaction writes its own")

OUTBOX = "contracts.kernel.outbox.OutboxEventBackend"
#: Two marks make a batch; the flusher thread stays out of it (a long delay).
EVENTS = {"DISPATCH": "inline", "MAX_ATTEMPTS": 3, "BACKOFF_BASE": 0.0, "BACKOFF_MAX": 0.0, "COMPLETION_BATCH": 2, "COMPLETION_DELAY": 10}


class Boom(Exception):
    pass


@pytest.fixture
def handled(probe_module: ModuleConfig) -> Iterator[list[int]]:
    """A subscriber of ProbeHappened in another database (notifications): its marks wait. Yields the
    probe ids it handled, in order."""
    seen: list[int] = []
    with isolated_registry() as registry:

        @subscribe(ProbeHappened, module="notifications")
        def on_probe(event: ProbeHappened) -> None:
            SentEmail.objects.create(event_id=uuid.uuid4(), recipient="a@example.com", subject="s", body="b")
            seen.append(event.probe_id)

        registry.freeze()
        with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS=EVENTS):
            yield seen


from tests.unit.probe.events import ProbeHappened  # noqa: E402  (after the fixture's imports, as the probe installs)


def statuses() -> list[str]:
    return list(Publication.objects.using("catalog").order_by("position").values_list("status", flat=True))


@marks_wait
def test_a_ride_that_rolls_back_keeps_its_marks_waiting(handled: list[int]) -> None:
    services.happen(1)
    services.happen(2)  # two marks wait: the next publish takes them
    with pytest.raises(Boom), transaction.atomic(using="catalog"):
        services.happen(3, work=lambda: (_ for _ in ()).throw(Boom()))
    assert statuses() == [PublicationStatus.PROCESSING] * 2  # the ride rolled back with the publish
    assert deferred.waiting("catalog")
    write_completions()
    assert statuses() == [PublicationStatus.COMPLETED] * 2


@marks_wait
def test_a_committed_ride_leaves_nothing_waiting(handled: list[int]) -> None:
    services.happen(1)
    services.happen(2)
    services.happen(3)  # its transaction writes the marks of 1 and 2; its own waits
    assert statuses() == [PublicationStatus.COMPLETED] * 2 + [PublicationStatus.PROCESSING]
    write_completions()
    assert statuses() == [PublicationStatus.COMPLETED] * 3 and handled == [1, 2, 3]


@marks_wait
def test_a_committed_ride_dispatches_the_event_its_mark_held_back(handled: list[int]) -> None:
    services.happen(1)
    services.happen(2)
    first, _ = Publication.objects.using("catalog").order_by("position")
    # As a claim of another process would leave them: a later event of key 1, pending, held back.
    Publication.objects.using("catalog").filter(pk=first.pk).update(holds_back=True)
    later = Publication.objects.using("catalog").get(pk=first.pk)
    later.pk, later.position, later.event_id, later.status, later.attempts = None, 10**6, uuid.uuid4(), PublicationStatus.PENDING, 0
    later.claimed_by, later.lease_until, later.holds_back, later.payload = "", None, False, {"probe_id": 1, "note": "later"}
    later.save(using="catalog")
    services.happen(7)  # rides the marks of 1 and 2; after its commit the later event of key 1 goes
    assert Publication.objects.using("catalog").get(pk=later.pk).status != PublicationStatus.PENDING
    assert handled == [1, 2, 1, 7]


def test_a_keyed_event_right_after_its_predecessor_is_not_held_back(handled: list[int]) -> None:
    services.happen(1)
    services.happen(2)
    services.happen(1)  # the marks of 1 and 2 ride before its INSERT: nothing of key 1 is open
    publications = Publication.objects.using("catalog").order_by("position")
    assert [p.attempts for p in publications] == [1, 1, 1]  # each written claimed, none held back
    assert handled == [1, 2, 1]


class Recorder:
    """A writer recording what the flusher thread writes."""

    def __init__(self) -> None:
        self.written: list[tuple[str, list[int], str]] = []
        self.done = threading.Event()

    def __call__(self, alias: str, publications: list[Publication], worker: str) -> None:
        self.written.append((alias, [p.pk for p in publications], worker))
        self.done.set()


def test_the_flusher_thread_writes_the_marks_of_a_ride_that_rolled_back() -> None:
    writer = Recorder()
    marks = DeferredCompletions(writer=writer)
    with override_settings(SEAMS_EVENTS={"COMPLETION_BATCH": 2, "COMPLETION_DELAY": 0.05}):
        # Ids no row has: the ride's UPDATE matches nothing, and it is rolled back anyway.
        marks.add("catalog", [Publication(pk=-1), Publication(pk=-2)], "worker-a")
        with pytest.raises(Boom), transaction.atomic(using="catalog"):
            marks.ride("catalog")
            assert not marks._marks  # taken by the ride
            raise Boom
        assert writer.done.wait(10)
    assert writer.written == [("catalog", [-1, -2], "worker-a")]
