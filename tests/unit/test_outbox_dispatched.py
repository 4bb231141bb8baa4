"""Celery dispatch writes publications already claimed and its messages carry the claim
(``processing.process_dispatched``): the worker reads them without a claim UPDATE, and every
guarantee of the claim path still holds (docs/events.md "Cost model").

The messages are the real ones, sent to an in-memory broker and read back (``take_messages``);
the worker side is the real task function.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator

import pytest
from celery import Celery
from django.db import connections
from django.test import override_settings
from django.utils import timezone

from contracts.kernel import ModuleConfig, subscribe
from contracts.kernel.models import InboxEntry, Publication, PublicationStatus
from contracts.kernel.outbox import dispatcher, relay_once
from contracts.kernel.registry import isolated_registry
from contracts.kernel.tasks import deliver_publication, deliver_publications
from contracts.kernel.testing import write_completions
from modules.notifications.models import SentEmail
from tests.support.waiting import eventually
from tests.unit.probe import services
from tests.unit.test_outbox_costs import broker_as_current, take_messages

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

OUTBOX = "contracts.kernel.outbox.OutboxEventBackend"
EVENTS = {"DISPATCH": "celery", "MAX_ATTEMPTS": 3, "BACKOFF_BASE": 0.0, "BACKOFF_MAX": 0.0, "STALE_AFTER": 0}
QUEUE = "seams.notifications"


@pytest.fixture
def handled(probe_module: ModuleConfig) -> Iterator[list[tuple[int, str]]]:
    """A notifications subscriber of ProbeHappened recording (probe id, note) and inserting a row."""
    seen: list[tuple[int, str]] = []
    with isolated_registry() as registry:

        @subscribe(ProbeHappened_(), module="notifications")
        def on_probe(event: object) -> None:
            seen.append((event.probe_id, event.note))  # type: ignore[attr-defined]
            SentEmail.objects.create(event_id=uuid.uuid4(), recipient="a@example.com", subject="s", body="b")

        registry.freeze()
        with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS=EVENTS):
            yield seen


def ProbeHappened_() -> type:  # noqa: N802 (the event class, imported where the probe module is installed)
    from tests.unit.probe.events import ProbeHappened

    return ProbeHappened


def published(*notes: str, probe_id: int = 1) -> list[tuple[str, list[object]]]:
    """Publish one event per note (one key: ``probe_id``) and return the messages the commits sent."""
    broker = Celery("dispatched", broker="memory://", set_as_current=False)
    with broker_as_current(broker):
        for note in notes:
            services.happen(probe_id, note=note)
        return take_messages(broker, QUEUE)


def other_file() -> bool:
    """The handler's transaction cannot write the publisher's publication (two SQLite files): the
    worker's completion mark waits, as the inline fast path's does (``outbox/completions.py``)."""
    return connections["catalog"].vendor == "sqlite"


def status(publication: Publication) -> tuple[str, str]:
    publication.refresh_from_db()
    return publication.status, publication.claimed_by


def test_a_message_carries_the_claim_and_the_worker_runs_it_without_claiming(handled: list) -> None:
    ((task, args),) = published("one")
    (publication,) = Publication.objects.using("catalog").all()
    assert (publication.status, publication.attempts, publication.claimed_by) == (PublicationStatus.PROCESSING, 1, args[2])
    assert (task, args[:2]) == ("seams.deliver_publication", ["catalog", publication.pk])
    with override_settings(SEAMS_EVENTS={**EVENTS, "COMPLETION_DELAY": 10}):
        assert deliver_publication(*args) == "completed"
        if other_file():  # its mark waits under the message's claim, and the relay leaves it alone
            assert status(publication) == (PublicationStatus.PROCESSING, args[2])
            assert relay_once(["catalog"]) == {"catalog": 0}
            write_completions()
    publication.refresh_from_db()
    assert (publication.status, publication.attempts, handled) == (PublicationStatus.COMPLETED, 1, [(1, "one")])


def test_a_workers_waiting_mark_is_written_by_the_flusher_thread_under_the_messages_claim(handled: list) -> None:
    ((_, args),) = published("one")
    (publication,) = Publication.objects.using("catalog").all()
    with override_settings(SEAMS_EVENTS={**EVENTS, "COMPLETION_DELAY": 0.2}):
        assert deliver_publication(*args) == "completed"
        # 0.2 s, on a quiet machine
        eventually("the mark written by the flusher thread", lambda: status(publication)[0] == PublicationStatus.COMPLETED)
    assert (publication.status, publication.lease_until, handled) == (PublicationStatus.COMPLETED, None, [(1, "one")])


def test_a_worker_that_shuts_down_writes_its_waiting_marks(handled: list) -> None:
    """A prefork child leaves by ``os._exit`` (no ``atexit``): the shutdown signal writes them."""
    from celery.signals import worker_process_shutdown

    ((_, args),) = published("one")
    (publication,) = Publication.objects.using("catalog").all()
    with override_settings(SEAMS_EVENTS={**EVENTS, "COMPLETION_DELAY": 10}):
        assert deliver_publication(*args) == "completed"
        worker_process_shutdown.send(sender=None, pid=0, exitcode=0)
        assert status(publication)[0] == PublicationStatus.COMPLETED


def test_a_message_without_a_claim_finds_the_workers_waiting_marks_written_first(handled: list) -> None:
    """The second event of a key, written while the first was open, is held back (its message
    carries no claim). Handled after the first by the same worker, it must not wait for the first
    one's mark: the worker writes its waiting marks before it claims."""
    (first, second) = published("first", "second")
    assert len(second[1]) == 2  # held back: no claim
    with override_settings(SEAMS_EVENTS={**EVENTS, "COMPLETION_DELAY": 10}):
        assert deliver_publication(*first[1]) == "completed"
        assert deliver_publication(*second[1]) == "completed"
    assert [note for _, note in handled] == ["first", "second"]
    statuses = list(Publication.objects.using("catalog").order_by("position").values_list("status", flat=True))
    assert statuses == [PublicationStatus.COMPLETED] * 2


def test_the_same_message_delivered_twice_runs_the_handler_once(handled: list) -> None:
    ((_, args),) = published("one")
    assert deliver_publication(*args) == "completed"
    # Its mark waiting (another SQLite file), the copy still reads it held: the inbox refuses the
    # second run. Marked completed, it is no longer held by that claim: the claim path says no.
    assert deliver_publication(*args) == ("duplicate" if other_file() else "not-claimed")
    write_completions()
    assert deliver_publication(*args) == "not-claimed"
    # The record that it ran: the inbox row on another SQLite file, the completed publication (no
    # inbox row) where the handler's transaction wrote it.
    assert handled == [(1, "one")] and InboxEntry.objects.using("notifications").count() == (1 if other_file() else 0)


def test_a_message_arriving_after_the_relay_took_its_publication_back_runs_it_once(handled: list) -> None:
    """The message waited longer than the lease (a backlog): the relay released the claim and sent
    the publication again; whichever message comes first runs it, the other finds it done."""
    ((_, late),) = published("one")
    expired = timezone.now() - datetime.timedelta(seconds=1)
    Publication.objects.using("catalog").update(lease_until=expired)
    broker = Celery("relay", broker="memory://", set_as_current=False)
    with broker_as_current(broker):
        assert relay_once(["catalog"]) == {"catalog": 1}
        ((_, relayed),) = take_messages(broker, QUEUE)
    assert relayed == late[:2]  # the relay's message carries no claim: the worker claims it
    assert deliver_publication(*late) == "completed"  # the late message: released, so claimed afresh
    assert deliver_publication(*relayed) == "not-claimed"
    (publication,) = Publication.objects.using("catalog").all()
    assert (publication.status, publication.attempts, handled) == (PublicationStatus.COMPLETED, 2, [(1, "one")])


def test_a_later_event_of_the_key_is_written_pending_and_runs_after_the_first(handled: list) -> None:
    (first, second) = published("first", "second")
    assert len(first[1]) == 4 and len(second[1]) == 2  # the second waits for the first: no claim (nor module)
    assert deliver_publication(*second[1]) == "not-claimed"  # it may not overtake the first
    broker = Celery("next", broker="memory://", set_as_current=False)
    with broker_as_current(broker):
        assert deliver_publication(*first[1]) == "completed"
        write_completions()  # the first's completion (its mark may wait) sends the second
        ((_, following),) = take_messages(broker, QUEUE)
    assert deliver_publication(*following) == "completed"
    assert [note for _, note in handled] == ["first", "second"]


def test_a_message_that_cannot_be_sent_gives_its_publication_back_to_the_relay_at_once(handled: list) -> None:
    dead = Celery("dead", broker="redis://127.0.0.1:1/0", set_as_current=False)
    dead.conf.broker_connection_timeout = 1
    with broker_as_current(dead):
        services.happen(1, note="one")
    (publication,) = Publication.objects.using("catalog").all()
    assert (publication.status, publication.claimed_by, publication.attempts) == (PublicationStatus.PENDING, "", 0)
    assert dispatcher().claim_token() == ""  # the broker is known down: the next ones are written pending
    services.happen(2, note="two")
    assert set(Publication.objects.using("catalog").values_list("status", flat=True)) == {PublicationStatus.PENDING}
    dispatcher().broker_down_until = 0.0  # type: ignore[union-attr]
    broker = Celery("back", broker="memory://", set_as_current=False)
    with broker_as_current(broker):
        assert relay_once(["catalog"]) == {"catalog": 2}
        messages = take_messages(broker, QUEUE)
    assert [(task, deliver_publications(*args)) for task, args in messages] == [
        ("seams.deliver_publications", ["completed"] * 2)  # one batch drain for both
    ]
    assert sorted(handled) == [(1, "one"), (2, "two")]


def test_a_send_that_fails_leaves_no_span_current(handled: list) -> None:
    """OpenTelemetry's Celery instrumentation attaches its publish span before the send and detaches
    it after; a send that raises never detached it, and every later span and log line of the process
    joined that dead publish's trace (found as five trace tests failing after this file)."""
    from opentelemetry import trace

    dead = Celery("dead", broker="redis://127.0.0.1:1/0", set_as_current=False)
    dead.conf.broker_connection_timeout = 1
    with broker_as_current(dead):
        services.happen(1, note="one")
    assert Publication.objects.using("catalog").get().status == PublicationStatus.PENDING  # not sent
    assert not trace.get_current_span().get_span_context().is_valid
