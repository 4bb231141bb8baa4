"""What one publication costs the databases, pinned: statements and durable commits per event.

One event, one subscriber that inserts a row, published by the probe module (alias ``catalog``)
with a business insert of its own, counted on every alias with ``bench.costs.count_costs`` (the
bench's own counter: statements including BEGIN/COMMIT, and commits that had to be durable). The
counts are deterministic, so they are asserted exactly: a regression fails here, an improvement
updates the numbers. docs/events.md "Cost model" explains each statement.

The hand-written equivalent (an insert and an ``on_commit`` handler inserting a row) costs 6
statements and 2 durable commits.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from celery import Celery
from django.db import connections
from django.test import override_settings

from bench.costs import Costs, count_costs
from contracts.kernel import ModuleConfig, subscribe
from contracts.kernel.models import Publication, PublicationStatus
from contracts.kernel.outbox import CeleryDispatcher, dispatcher, process_publication, process_publications
from contracts.kernel.registry import isolated_registry
from contracts.kernel.tasks import deliver_publication
from contracts.kernel.testing import deliver_pending, write_completions
from modules.catalog.models import Product
from modules.notifications.models import SentEmail
from tests.unit.probe import services
from tests.unit.probe.events import ProbeHappened

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

OUTBOX = "contracts.kernel.outbox.OutboxEventBackend"
EVENTS = {"DISPATCH": "inline", "MAX_ATTEMPTS": 3, "BACKOFF_BASE": 0.0, "BACKOFF_MAX": 0.0}


def statements(costs: Costs) -> str:
    return costs.describe()


def colocated(subscriber_module: str) -> bool:
    """Can the handler's transaction mark the publication completed? The same alias, or module
    schemas of one PostgreSQL database (not two SQLite files)."""
    return subscriber_module == "catalog" or postgresql()


def postgresql() -> bool:
    return connections["catalog"].vendor == "postgresql"


def inbox_rows_written(costs: Costs) -> int:
    """The inbox INSERTs among the statements counted: none where the handler's transaction
    completes the publication (the completed row is the record that the handler ran)."""
    return sum(sql.startswith("INSERT INTO seams_inbox") for sqls in costs.statements.values() for sql in sqls)


@pytest.fixture(params=["notifications", "catalog"], ids=["other-database", "same-database"])
def subscribed(request: pytest.FixtureRequest, probe_module: ModuleConfig) -> Iterator[str]:
    """A subscriber of ProbeHappened that inserts one row, in another module's database or in the
    publisher's own."""
    module = request.param
    with isolated_registry() as registry:

        @subscribe(ProbeHappened, module=module)
        def on_probe(event: ProbeHappened) -> None:
            if module == "catalog":
                Product.objects.create(sku=f"H-{uuid.uuid4().hex[:8]}", name="handled", price_cents=1)
            else:
                SentEmail.objects.create(event_id=uuid.uuid4(), recipient="a@example.com", subject="s", body="b")

        registry.freeze()
        yield module


def publish(probe_id: int) -> None:
    services.happen(probe_id, work=lambda: Product.objects.create(sku=f"P-{uuid.uuid4().hex[:8]}", name="p", price_cents=1))


def test_inline_one_event_costs_eight_or_nine_statements_and_two_commits(subscribed: str) -> None:
    with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS=EVENTS):
        publish(1)  # warm-up: the first publication of a process builds its statements
        with count_costs() as costs:
            publish(2)
    # publisher: BEGIN, the publication holding its event (written claimed: one INSERT), business
    # row, COMMIT; handler: BEGIN, inbox row, its row, COMMIT.
    # Colocated, the handler's transaction marks the publication completed instead of the inbox row
    # (before its row, refusing an event the inbox has: one UPDATE); across two SQLite files the
    # inbox row is written and the mark waits, written with others (next test). Until 2026-12-02
    # colocated wrote both: 9 statements on SQLite, the inbox row in the UPDATE's WITH on PostgreSQL.
    assert (costs.total_queries, costs.total_commits) == (8, 2), statements(costs)
    assert inbox_rows_written(costs) == (0 if colocated(subscribed) else 1), statements(costs)
    # On PostgreSQL 6 round trips for the 8 statements, as many as hand-written code's 6: the
    # handler's BEGIN goes with its first statement (begin_psycopg), the publications' INSERT with
    # the publisher's COMMIT (commit_psycopg). SQLite sends nothing.
    assert costs.total_round_trips == (6 if postgresql() else None), (costs.round_trips, statements(costs))
    deliver_pending()  # writes the waiting mark, if any
    assert set(Publication.objects.using("catalog").values_list("status", flat=True)) == {PublicationStatus.COMPLETED}


@pytest.mark.parametrize("subscribed", ["notifications"], indirect=True)
def test_completion_marks_the_handler_cannot_write_ride_ten_at_a_time_on_the_next_publish(subscribed: str) -> None:
    """Ten waiting marks are written by the next publish's own transaction, before its INSERT: one
    statement for the ten, no commit of their own (``completions.DeferredCompletions.ride``)."""
    batched = {**EVENTS, "COMPLETION_BATCH": 10, "COMPLETION_DELAY": 10}  # the delay does not come into it
    with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS=batched):
        publish(1)
        deliver_pending()
        with count_costs() as costs:
            for probe_id in range(2, 13):
                publish(probe_id)
    completions = [sql for sql in costs.statements["catalog"] if sql.startswith("UPDATE")]
    if postgresql():  # module schemas of one database: each handler's transaction writes its mark
        assert completions == [] and (costs.total_queries, costs.total_commits) == (11 * 8, 11 * 2), statements(costs)
    else:  # two SQLite files: eleven events of 8 statements and 2 commits; the eleventh's transaction writes the ten marks
        assert len(completions) == 1 and completions[0].count(",") >= 9 + 3, statements(costs)
        assert costs.statements["catalog"].index(completions[0]) == 10 * 4 + 1, statements(costs)  # after its BEGIN
        assert (costs.total_queries, costs.total_commits) == (11 * 8 + 1, 11 * 2), statements(costs)
    deliver_pending()
    assert set(Publication.objects.using("catalog").values_list("status", flat=True)) == {PublicationStatus.COMPLETED}


def test_inline_a_keyed_event_behind_an_open_one_waits_and_follows_it(subscribed: str) -> None:
    with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS=EVENTS):
        publish(1)
        first = Publication.objects.using("catalog").get()
        Publication.objects.using("catalog").update(status=PublicationStatus.FAILED)  # open: waits for a retry
        publish(1)  # same key: held back, it must not overtake the first
        second = Publication.objects.using("catalog").exclude(pk=first.pk).get()
        assert second.status == PublicationStatus.PENDING and second.attempts == 0
        assert Publication.objects.using("catalog").get(pk=first.pk).holds_back
        assert process_publication("catalog", first.pk) in ("completed", "duplicate")  # the retry; then the next
    assert Publication.objects.using("catalog").get(pk=second.pk).status == PublicationStatus.COMPLETED


def test_a_worker_runs_one_publication_with_one_durable_commit(subscribed: str) -> None:
    with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS={**EVENTS, "DISPATCH": "celery"}):
        broker = Celery("costs", broker="memory://", set_as_current=False)
        broker.conf.task_default_queue = "celery"
        with broker_as_current(broker):
            publish(1)
            with count_costs() as publishing:
                publish(2)
            messages = take_messages(broker, f"seams.{subscribed}")
    # publisher: BEGIN, the publication holding its event, business row, COMMIT; the task is sent
    # by name, its queue known from the publisher (no read).
    assert (publishing.total_queries, publishing.total_commits) == (4, 1), statements(publishing)
    assert [m[0] for m in messages] == ["seams.deliver_publication"] * 2
    # Written claimed by the dispatcher, each message carrying that claim: the worker only reads.
    assert [m[1][2] for m in messages] == [CeleryDispatcher().claim_token()] * 2
    with override_settings(SEAMS_EVENTS={**EVENTS, "DISPATCH": "celery", "COMPLETION_DELAY": 10}):
        deliver_publication(*messages[0][1])
        with count_costs() as working:
            assert deliver_publication(*messages[1][1]) == "completed"
        with count_costs() as marking:
            write_completions()
    # worker, colocated (``outbox/colocated.py``): BEGIN, the completion UPDATE that reads the
    # publication, its event in it (RETURNING), and is the record that the handler ran (no inbox
    # row); its row, COMMIT: no read before the transaction, no claim UPDATE, one durable commit.
    # Not colocated: one SELECT of the publication, BEGIN, inbox row, its row, COMMIT; its mark
    # waits and one UPDATE writes the marks of both messages (``COMPLETION_BATCH`` of them at most).
    expected = (4, 1) if colocated(subscribed) else (5, 1)
    assert (working.total_queries, working.total_commits) == expected, statements(working)
    assert inbox_rows_written(working) == (0 if colocated(subscribed) else 1), statements(working)
    marks = (0, 0) if colocated(subscribed) else (1, 1)
    assert (marking.total_queries, marking.total_commits) == marks, statements(marking)


def test_a_worker_claims_a_publication_sent_without_a_claim_in_six_statements(subscribed: str) -> None:
    """The relay's and the retries' messages carry no claim: the worker claims and reads in one
    UPDATE ... RETURNING."""
    with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS={**EVENTS, "DISPATCH": "celery"}):
        broker = Celery("costs", broker="memory://", set_as_current=False)
        with broker_as_current(broker):
            dispatcher().broker_down_until = time.monotonic() + 60  # type: ignore[union-attr]
            publish(1)
            publish(2)  # written pending while the broker is down: the relay sends them
        first, second = Publication.objects.using("catalog").order_by("position")
        assert (first.status, second.status) == (PublicationStatus.PENDING, PublicationStatus.PENDING)
        deliver_publication("catalog", first.pk)  # warm-up: the first claim of a process
        with count_costs() as working:
            assert deliver_publication("catalog", second.pk) == "completed"
    # worker: claim UPDATE that also reads the publication, its event in it (RETURNING), BEGIN, inbox
    # row, its row, COMMIT, completion UPDATE (colocated: the completion inside the handler's
    # transaction instead of the inbox row, one statement and one durable commit fewer).
    expected = (5, 2) if colocated(subscribed) else (6, 3)
    assert (working.total_queries, working.total_commits) == expected, statements(working)
    assert inbox_rows_written(working) == (0 if colocated(subscribed) else 1), statements(working)


def test_the_batch_drain_costs_three_statements_per_batch_plus_the_handlers(subscribed: str) -> None:
    with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS={**EVENTS, "DISPATCH": "celery"}):
        broker = Celery("costs", broker="memory://", set_as_current=False)
        with broker_as_current(broker):
            dispatcher().broker_down_until = time.monotonic() + 60  # type: ignore[union-attr]
            for probe_id in range(1, 6):
                publish(probe_id)  # pending while the broker is down: the relay drains them in batches
        ids = list(Publication.objects.using("catalog").order_by("position").values_list("pk", flat=True))
        with count_costs() as draining:
            assert process_publications("catalog", ids) == ["completed"] * 5
    # one claim, one read, one completion for the five; each handler BEGIN, inbox, row, COMMIT
    # (colocated: each handler's transaction completes its own publication instead of the inbox row,
    # no shared UPDATE).
    expected = (2 + 5 * 4, 1 + 5) if colocated(subscribed) else (3 + 5 * 4, 2 + 5)
    assert (draining.total_queries, draining.total_commits) == expected, statements(draining)
    assert inbox_rows_written(draining) == (0 if colocated(subscribed) else 5), statements(draining)


# --- an in-memory broker, read back by this process ----------------------------------------------
class broker_as_current:
    """Make ``app`` Celery's current app inside the block (``send_task`` by name goes to it)."""

    def __init__(self, app: Celery) -> None:
        from celery import _state

        self.app, self.state, self.previous = app, _state, None

    def __enter__(self) -> Celery:
        self.previous = self.state.get_current_app()
        self.app.set_current()
        return self.app

    def __exit__(self, *exc: object) -> None:
        self.previous.set_current()  # type: ignore[union-attr]


def take_messages(app: Celery, queue: str) -> list[tuple[str, list[object]]]:
    taken = []
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        channel.queue_declare(queue=queue, passive=False, durable=True, auto_delete=False)
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            args, _, _ = message.decode()
            taken.append((message.headers["task"], list(args)))
    return taken
