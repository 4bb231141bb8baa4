"""A dispatched publication read and completed inside its handler's transaction
(``outbox/colocated.py``): every guarantee of the claim path holds on that path too.

The subscriber lives in the publisher's database (the probe module's alias ``catalog``), so the
path is taken on SQLite and on PostgreSQL alike. The messages are the real ones, sent to an
in-memory broker and read back; the worker side is the real task function.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from celery import Celery
from django.test import override_settings
from django.utils import timezone

from bench.costs import count_costs
from contracts.kernel import ModuleConfig, subscribe
from contracts.kernel.errors import Undeliverable
from contracts.kernel.models import InboxEntry, Publication, PublicationStatus
from contracts.kernel.registry import isolated_registry
from contracts.kernel.tasks import deliver_publication
from contracts.kernel.testing import write_completions
from modules.catalog.models import Product
from tests.unit.probe import services
from tests.unit.probe.events import ProbeHappened
from tests.unit.test_outbox_costs import broker_as_current, take_messages

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

OUTBOX = "contracts.kernel.outbox.OutboxEventBackend"
EVENTS = {"DISPATCH": "celery", "MAX_ATTEMPTS": 3, "BACKOFF_BASE": 0.0, "BACKOFF_MAX": 0.0, "COMPLETION_DELAY": 10}
QUEUE = "seams.catalog"


class Handler:
    """What the subscriber does next: insert a row ("ok"), fail, or refuse the event for good."""

    def __init__(self) -> None:
        self.next = "ok"
        self.seen: list[str] = []


@pytest.fixture
def handler(probe_module: ModuleConfig) -> Iterator[Handler]:
    h = Handler()
    with isolated_registry() as registry:

        @subscribe(ProbeHappened, module="catalog")
        def on_probe(event: ProbeHappened) -> None:
            h.seen.append(event.note)
            Product.objects.create(sku=f"H-{uuid.uuid4().hex[:8]}", name="handled", price_cents=1)
            if h.next == "fail":
                raise RuntimeError("the handler failed")
            if h.next == "undeliverable":
                raise Undeliverable("never")

        registry.freeze()
        with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS=EVENTS):
            yield h


def published(*notes: str) -> list[list[object]]:
    """Publish one event per note (one key) and return the arguments of the messages sent."""
    broker = Celery("colocated", broker="memory://", set_as_current=False)
    with broker_as_current(broker):
        for note in notes:
            services.happen(1, note=note)
        return [args for _, args in take_messages(broker, QUEUE)]


def handled_rows() -> int:
    return Product.objects.filter(name="handled").count()


def the_publication() -> Publication:
    (publication,) = Publication.objects.using("catalog").all()
    return publication


def test_the_message_names_the_module_and_the_handlers_transaction_reads_and_completes_it(handler: Handler) -> None:
    (args,) = published("one")
    assert args[3] == "catalog" and len(args) == 4
    with count_costs() as costs:
        assert deliver_publication(*args) == "completed"
    assert not [sql for sql in costs.statements["catalog"] if sql.startswith("SELECT")], costs.describe()
    publication = the_publication()
    assert (publication.status, publication.attempts, publication.lease_until) == (PublicationStatus.COMPLETED, 1, None)
    # The completed publication, committed with the handler's row, is the record that it ran: no inbox row.
    assert not [sql for sql in costs.statements["catalog"] if "INSERT INTO seams_inbox" in sql], costs.describe()
    assert InboxEntry.objects.using("catalog").count() == 0 and handled_rows() == 1 and handler.seen == ["one"]


def test_a_failing_handler_rolls_back_completion_inbox_and_effect_and_is_retried(handler: Handler) -> None:
    (args,) = published("one")
    handler.next = "fail"
    broker = Celery("retry", broker="memory://", set_as_current=False)
    with broker_as_current(broker):
        assert deliver_publication(*args) == "failed"
        ((_, retry),) = take_messages(broker, QUEUE)
    publication = the_publication()
    assert (publication.status, publication.attempts) == (PublicationStatus.FAILED, 1)
    assert "the handler failed" in publication.last_error
    assert InboxEntry.objects.using("catalog").count() == 0 and handled_rows() == 0
    handler.next = "ok"
    assert deliver_publication(*retry) == "completed"  # the retry: claimed afresh
    assert (the_publication().status, the_publication().attempts) == (PublicationStatus.COMPLETED, 2)
    assert handled_rows() == 1 and handler.seen == ["one", "one"]


def test_a_handler_that_refuses_the_event_buries_it_at_once(handler: Handler) -> None:
    (args,) = published("one")
    handler.next = "undeliverable"
    assert deliver_publication(*args) == "dead"
    publication = the_publication()
    assert (publication.status, publication.last_error) == (PublicationStatus.DEAD, "never")
    assert InboxEntry.objects.using("catalog").count() == 0 and handled_rows() == 0


def test_a_second_copy_of_the_message_runs_nothing(handler: Handler) -> None:
    (args,) = published("one")
    assert deliver_publication(*args) == "completed"
    assert deliver_publication(*args) == "not-claimed"  # completed: its claim no longer holds
    assert handler.seen == ["one"] and handled_rows() == 1


def test_an_event_the_inbox_already_has_is_not_run_again_and_its_publication_completes(handler: Handler) -> None:
    (args,) = published("one")
    publication = the_publication()
    InboxEntry.objects.using("catalog").create(
        event_id=publication.event_id, subscriber=publication.subscriber, handled_at=timezone.now()
    )
    assert deliver_publication(*args) == "duplicate"
    write_completions()
    assert the_publication().status == PublicationStatus.COMPLETED and handler.seen == []


def test_a_message_whose_claim_no_longer_holds_runs_nothing(handler: Handler) -> None:
    (args,) = published("one")
    Publication.objects.using("catalog").update(claimed_by="another:worker")  # the relay took it back
    assert deliver_publication(*args) == "not-claimed"
    publication = the_publication()
    assert (publication.status, publication.claimed_by) == (PublicationStatus.PROCESSING, "another:worker")
    assert handler.seen == [] and InboxEntry.objects.using("catalog").count() == 0


def test_a_payload_that_no_longer_validates_is_buried_without_running(handler: Handler) -> None:
    (args,) = published("one")
    Publication.objects.using("catalog").update(payload={"probe_id": "not a number"})
    assert deliver_publication(*args) == "dead"
    publication = the_publication()
    assert publication.status == PublicationStatus.DEAD and "schema drift" in publication.last_error
    assert handler.seen == [] and InboxEntry.objects.using("catalog").count() == 0


def test_a_message_naming_another_module_than_its_publications_still_runs_it_once(handler: Handler) -> None:
    (args,) = published("one")
    assert deliver_publication(*args[:3], "notifications") == "completed"
    write_completions()
    assert the_publication().status == PublicationStatus.COMPLETED and handler.seen == ["one"]


def test_the_next_event_of_the_key_is_sent_once_the_first_completes(handler: Handler) -> None:
    first, second = published("first", "second")
    assert len(second) == 2  # held back behind the first: written pending, no claim
    assert deliver_publication(*second) == "not-claimed"  # may not overtake the first: flags it
    broker = Celery("next", broker="memory://", set_as_current=False)
    with broker_as_current(broker):
        assert deliver_publication(*first) == "completed"
        ((_, following),) = take_messages(broker, QUEUE)
    assert deliver_publication(*following) == "completed"
    assert handler.seen == ["first", "second"]
