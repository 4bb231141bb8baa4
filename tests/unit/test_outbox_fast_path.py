"""The outbox's fast path and its recovery path keep every guarantee (docs/events.md "Cost model").

Inline dispatch writes publications already claimed by the publishing process and delivers them
from memory after commit; the relay recovers whatever that process did not finish; the inbox
refuses a duplicate before its handler runs; the batch drain keeps each key's order.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from celery import Celery
from django.db import connections
from django.test import override_settings

from contracts.kernel import Envelope, ModuleConfig, subscribe
from contracts.kernel.models import InboxEntry, Publication, PublicationStatus
from contracts.kernel.outbox import WORKER_ID, dispatcher, process_publication, process_publications, relay_once
from contracts.kernel.outbox.inbox import handle_once
from contracts.kernel.registry import isolated_registry
from contracts.kernel.testing import write_completions
from modules.notifications.models import SentEmail
from tests.support.waiting import eventually
from tests.unit.probe import services
from tests.unit.probe.events import ProbeHappened
from tests.unit.test_outbox_costs import broker_as_current

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

OUTBOX = "contracts.kernel.outbox.OutboxEventBackend"
EVENTS = {"DISPATCH": "inline", "MAX_ATTEMPTS": 3, "BACKOFF_BASE": 0.0, "BACKOFF_MAX": 0.0, "STALE_AFTER": 0}


@pytest.fixture
def handled(probe_module: ModuleConfig) -> Iterator[list[tuple[int, str]]]:
    """A notifications subscriber of ProbeHappened recording (probe id, note) and inserting a row."""
    seen: list[tuple[int, str]] = []
    with isolated_registry() as registry:

        @subscribe(ProbeHappened, module="notifications")
        def on_probe(event: ProbeHappened) -> None:
            seen.append((event.probe_id, event.note))
            SentEmail.objects.create(event_id=uuid.uuid4(), recipient="a@example.com", subject="s", body="b")

        registry.freeze()
        yield seen


def test_a_publication_its_publisher_could_not_deliver_is_recovered_by_the_relay_once(handled: list) -> None:
    # LEASE 0: the claim the publisher wrote has run out when its commit callback starts, as if the
    # process had died after commit; the callback leaves it to the relay.
    with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS={**EVENTS, "LEASE": 0}):
        services.happen(1)
        (publication,) = Publication.objects.using("catalog").all()
        assert publication.status == PublicationStatus.PROCESSING and handled == []
        assert relay_once(["catalog"]) == {"catalog": 1}
        assert relay_once(["catalog"]) == {"catalog": 0}
    publication.refresh_from_db()
    assert publication.status == PublicationStatus.COMPLETED
    assert handled == [(1, "")] and SentEmail.objects.count() == 1


def test_inline_delivery_completes_from_memory(handled: list) -> None:
    with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS={**EVENTS, "COMPLETION_DELAY": 10}):
        services.happen(2, note="in memory")
        assert handled == [(2, "in memory")]
        # Another SQLite file: the inbox row records it. Module schemas of one PostgreSQL database:
        # the completion in the handler's transaction does, no inbox row.
        other_file = connections["catalog"].vendor == "sqlite"
        assert InboxEntry.objects.using("notifications").count() == (1 if other_file else 0)
        (publication,) = Publication.objects.using("catalog").all()
        if other_file:  # handled on another SQLite file: its mark waits,
            assert (publication.status, publication.claimed_by) == (PublicationStatus.PROCESSING, WORKER_ID)
            assert relay_once(["catalog"]) == {"catalog": 0}  # and the relay leaves it alone (it writes it)
        publication.refresh_from_db()
    assert (publication.status, publication.attempts, publication.lease_until) == (PublicationStatus.COMPLETED, 1, None)
    assert handled == [(2, "in memory")]


def test_a_waiting_completion_mark_is_written_by_the_flusher_thread_within_the_delay(handled: list) -> None:
    with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS={**EVENTS, "COMPLETION_DELAY": 0.2}):
        services.happen(5)
        (publication,) = Publication.objects.using("catalog").all()
        def completed() -> bool:
            publication.refresh_from_db()
            return publication.status == PublicationStatus.COMPLETED

        eventually("the mark written by the flusher thread", completed)  # 0.2 s, on a quiet machine
    assert (publication.status, publication.attempts, publication.lease_until) == (PublicationStatus.COMPLETED, 1, None)
    assert handled == [(5, "")]


def test_a_later_event_of_the_key_does_not_wait_for_the_earlier_ones_mark(handled: list) -> None:
    """The second event of a key is written while the first one's mark waits (so it is held back);
    its commit writes that mark first, and then it runs at once, in order."""
    with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS={**EVENTS, "COMPLETION_DELAY": 10}):
        services.happen(6, note="first")
        services.happen(6, note="second")
        assert handled == [(6, "first"), (6, "second")]
        write_completions()
    statuses = list(Publication.objects.using("catalog").order_by("position").values_list("status", flat=True))
    assert statuses == [PublicationStatus.COMPLETED] * 2


def test_the_inbox_refuses_a_duplicate_before_the_handler_runs(handled: list) -> None:
    from contracts.kernel.registry import get_registry

    (subscriber,) = get_registry().subscribers_for(ProbeHappened.event_type)
    envelope = Envelope(event=ProbeHappened(probe_id=3), key="3", headers={})
    assert handle_once(subscriber, envelope) == "completed"
    assert handle_once(subscriber, envelope) == "duplicate"
    assert handled == [(3, "")] and SentEmail.objects.count() == 1


def test_a_failing_handler_rolls_its_inbox_row_back_and_is_retried(probe_module: ModuleConfig) -> None:
    calls: list[int] = []
    with isolated_registry() as registry:

        @subscribe(ProbeHappened, module="notifications")
        def flaky(event: ProbeHappened) -> None:
            calls.append(event.probe_id)
            if len(calls) == 1:
                raise RuntimeError("first attempt fails")

        registry.freeze()
        with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS=EVENTS):
            services.happen(4)
            (publication,) = Publication.objects.using("catalog").all()
            assert (publication.status, publication.attempts) == (PublicationStatus.FAILED, 1)
            assert InboxEntry.objects.using("notifications").count() == 0
            relay_once(["catalog"])
    publication.refresh_from_db()
    assert (publication.status, publication.attempts, calls) == (PublicationStatus.COMPLETED, 2, [4, 4])


def test_the_batch_drain_runs_each_key_in_order(handled: list) -> None:
    with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS={**EVENTS, "DISPATCH": "celery"}):
        with broker_as_current(Celery("drain", broker="memory://", set_as_current=False)):
            dispatcher().broker_down_until = time.monotonic() + 60  # type: ignore[union-attr]
            for note in ("first", "second", "third"):  # pending while the broker is down, as the relay drains them
                services.happen(7, note=note)  # one key: each must wait for the one before
            services.happen(8, note="other key")
            ids = list(Publication.objects.using("catalog").order_by("-position").values_list("pk", flat=True))
            assert process_publications("catalog", ids) == ["completed"] * 4
    assert [note for probe_id, note in handled if probe_id == 7] == ["first", "second", "third"]


def test_a_colocated_handler_runs_nothing_once_its_claim_was_taken_back(probe_module: ModuleConfig) -> None:
    """The handler's transaction completes a colocated publication only while this worker still
    holds its claim: a compare-and-set, which is also the record that the handler ran (no inbox
    row). Taken back (the lease ran out and the relay gave it to another worker), nothing runs and
    nothing is written; still held, handler and completion commit together."""
    from contracts.kernel.outbox.inbox import Completing
    from contracts.kernel.outbox.statements import reachable_table

    calls: list[int] = []
    with isolated_registry() as registry:

        @subscribe(ProbeHappened, module="catalog")  # the publisher's own alias: colocated everywhere
        def on_probe(event: ProbeHappened) -> None:
            calls.append(event.probe_id)

        registry.freeze()
        (subscriber,) = registry.subscribers_for(ProbeHappened.event_type)
        # LEASE 0: the publication stays claimed by this process and undelivered (left to the relay).
        with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS={**EVENTS, "LEASE": 0}):
            envelope = services.happen(9)
        (publication,) = Publication.objects.using("catalog").all()
        assert (publication.status, publication.claimed_by) == (PublicationStatus.PROCESSING, WORKER_ID)
        table = reachable_table("catalog", "catalog")
        assert table is not None

        taken = Completing(table, publication.pk, "another-worker:1")
        assert handle_once(subscriber, envelope, taken) == "not-claimed"
        assert calls == [] and InboxEntry.objects.using("catalog").count() == 0
        publication.refresh_from_db()
        assert publication.status == PublicationStatus.PROCESSING

        held = Completing(table, publication.pk, WORKER_ID)
        assert handle_once(subscriber, envelope, held) == "completed"
        assert calls == [9] and InboxEntry.objects.using("catalog").count() == 0
        publication.refresh_from_db()
        assert (publication.status, publication.lease_until, held.holds_back) == (PublicationStatus.COMPLETED, None, False)
        # Again: completed, so no longer held: nothing runs twice.
        again = handle_once(subscriber, envelope, Completing(table, publication.pk, WORKER_ID))
        assert again == "not-claimed"
        assert calls == [9] and InboxEntry.objects.using("catalog").count() == 0
        # Completion mode changed to ``delete`` since: a completed row is never claimed again, by any path.
        with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS={**EVENTS, "COMPLETION": "delete"}):
            assert process_publication("catalog", publication.pk) == "not-claimed"
            assert relay_once(["catalog"]) == {"catalog": 0}
        assert calls == [9]


def test_an_event_a_path_writing_the_inbox_handled_is_not_run_again_when_claimed_again(probe_module: ModuleConfig) -> None:
    """A path that writes the inbox row and completes the publication only after its commit
    (completion ``delete`` or ``archive``: ``processing._finish``; before 2026-12-02, every path)
    and dies in between leaves the publication claimed, its inbox row committed. Claimed again by
    the relay where completion is ``keep`` (a changed setting, another process), the handler's
    transaction would complete it instead of writing an inbox row: the completion's guard finds the
    inbox row, nothing runs again, and the publication is completed."""
    calls: list[int] = []
    with isolated_registry() as registry:

        @subscribe(ProbeHappened, module="catalog")  # colocated: the relay's run completes in the handler's transaction
        def on_probe(event: ProbeHappened) -> None:
            calls.append(event.probe_id)

        registry.freeze()
        (subscriber,) = registry.subscribers_for(ProbeHappened.event_type)
        with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS={**EVENTS, "LEASE": 0}):
            envelope = services.happen(9)  # left to the relay, claimed by this process
        (publication,) = Publication.objects.using("catalog").all()
        # What completion ``delete`` runs in the handler's transaction (``processing._run``: no
        # ``Completing``); the process dies before ``_finish`` deletes the row.
        assert handle_once(subscriber, envelope) == "completed"
        assert calls == [9] and InboxEntry.objects.using("catalog").count() == 1
        publication.refresh_from_db()
        assert publication.status == PublicationStatus.PROCESSING
        with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS=EVENTS):  # keep
            assert relay_once(["catalog"]) == {"catalog": 1}
            assert relay_once(["catalog"]) == {"catalog": 0}
        assert calls == [9]
        publication.refresh_from_db()
        assert (publication.status, publication.lease_until) == (PublicationStatus.COMPLETED, None)
