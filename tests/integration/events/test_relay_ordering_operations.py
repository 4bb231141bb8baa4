"""The relay recovers what dispatch lost, leases of dead workers expire, one key's events stay in
order, completed rows are kept, deleted or archived, and ``manage.py events`` operates it all."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.utils import timezone

from contracts.kernel.models import ArchivedPublication, Publication, PublicationStatus
from contracts.kernel.operations import event_stats
from contracts.kernel.outbox import claim, due_publications, process_publication, relay_once
from modules.inventory.models import Reservation
from tests.integration.events.conftest import FAST
from tests.integration.shop import place_order
from tests.support.outbox_rows import raw_publication

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

HANDLER = "tests.eventprobe.handlers.record_order_placed"


def placed(order_id: int, key: str | None, minutes_ago: float = 0) -> Publication:
    """An OrderPlaced publication for the probe, as if dispatch never happened."""
    when = timezone.now() - datetime.timedelta(minutes=minutes_ago)
    return raw_publication(
        "orders", "orders.OrderPlaced", {"order_id": order_id, "customer_email": "a@example.com", "lines": [], "total_cents": 0},
        HANDLER, "eventprobe", key=key, when=when,
    )


def status(pub: Publication) -> str:
    pub.refresh_from_db()
    return pub.status


def test_the_relay_delivers_what_was_committed_but_never_dispatched(shop: Client) -> None:
    lost = placed(1, "1", minutes_ago=5)
    fresh = placed(2, "2")
    assert relay_once()["orders"] == 1  # the fresh one may still be on its way: left alone
    assert status(lost) == PublicationStatus.COMPLETED
    assert status(fresh) == PublicationStatus.PENDING


def test_a_queued_publication_is_resent_with_doubling_intervals_not_once_per_window(shop: Client) -> None:
    """A backlog older than STALE_AFTER (30 s) must not be re-sent every window: that floods the
    queue with duplicates faster than workers drain it (seen under the SIGKILL fault test)."""
    now = timezone.now()

    def sent(order_id: int, created_ago: float, dispatched_ago: float | None) -> Publication:
        pub = placed(order_id, str(order_id), minutes_ago=created_ago / 60)
        if dispatched_ago is not None:
            dispatched = now - datetime.timedelta(seconds=dispatched_ago)
            Publication.objects.using("orders").filter(pk=pub.pk).update(dispatched_at=dispatched)
        return pub

    never_sent = sent(1, created_ago=31, dispatched_ago=None)
    waited_longer_before = sent(2, created_ago=100, dispatched_ago=35)  # waited 65 s before its send
    doubled = sent(3, created_ago=100, dispatched_ago=70)  # waited 30 s before, 70 s since
    capped = sent(4, created_ago=3600, dispatched_ago=301)  # 10 x STALE_AFTER is the longest wait
    too_fresh = sent(5, created_ago=10, dispatched_ago=None)

    due = set(due_publications("orders", 500))

    assert due == {never_sent.pk, doubled.pk, capped.pk}
    assert waited_longer_before.pk not in due and too_fresh.pk not in due
    assert due_publications("orders", 500) == []  # just sent: nothing is due twice


def test_an_expired_lease_is_released_and_delivered_again(shop: Client) -> None:
    pub = placed(1, "1", minutes_ago=5)
    assert claim("orders", pub.pk, worker="worker-that-dies")
    assert not claim("orders", pub.pk, worker="another")  # the lease holds
    Publication.objects.using("orders").filter(pk=pub.pk).update(lease_until=timezone.now() - datetime.timedelta(seconds=1))
    relay_once()
    pub.refresh_from_db()
    assert pub.status == PublicationStatus.COMPLETED and pub.attempts == 2


def test_events_of_one_key_reach_a_subscriber_in_order(shop: Client) -> None:
    first, second, other_key = placed(1, "7"), placed(2, "7"), placed(3, "8")
    assert process_publication("orders", second.pk) == "not-claimed"  # 7's first event is still open
    assert process_publication("orders", other_key.pk) == "completed"  # another key is not held up
    assert process_publication("orders", first.pk) == "completed"  # ...and it dispatches the next of its key
    assert status(second) == PublicationStatus.COMPLETED


def test_a_dead_event_does_not_block_its_key(shop: Client) -> None:
    first, second = placed(1, "7"), placed(2, "7")
    Publication.objects.using("orders").filter(pk=first.pk).update(status=PublicationStatus.DEAD)
    assert process_publication("orders", second.pk) == "completed"


@pytest.mark.parametrize("mode", ["delete", "archive"])
def test_completion_modes(shop: Client, mode: str) -> None:
    with override_settings(SEAMS_EVENTS={**FAST, "COMPLETION": mode}):
        place_order(shop, "ada@example.com", ("KB-101", 1))
    assert Publication.objects.using("orders").count() == 0
    archived = ArchivedPublication.objects.using("orders").count()
    assert archived == (3 if mode == "archive" else 0)  # OrderPlaced x2 subscribers, OrderConfirmed x1
    assert Reservation.objects.count() == 1


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("events", *args, stdout=out)
    return out.getvalue()


def test_events_command_operates_a_live_backlog(shop: Client) -> None:
    doomed = place_order(shop, "doomed@example.com", ("KB-101", 1)).json()["id"]
    place_order(shop, "ada@example.com", ("KB-101", 1))
    for _ in range(3):
        Publication.objects.using("orders").filter(status="failed").update(next_attempt_at=timezone.now())
        relay_once()
    stats = {s.module: s for s in event_stats()}
    assert stats["orders"].dead == 1 and stats["orders"].backlog == 0
    assert stats["orders"].published == 4 and stats["orders"].completed == 5

    assert "orders" in run("stats") and "dead" in run("stats")
    listing = run("list", "--status", "dead")
    assert "orders.OrderPlaced" in listing and HANDLER in listing
    ref = listing.split()[0]
    shown = run("show", ref)
    assert "ProbeFailure: doomed attempt 3" in shown and f'"order_id": {doomed}' in shown and "Traceback" in shown

    assert "resubmitted 1" in run("resubmit", "--type", "orders.OrderPlaced", "--dead-only")
    pub = Publication.objects.using("orders").get(subscriber_module="eventprobe", payload__order_id=doomed)
    assert (pub.status, pub.attempts) == (PublicationStatus.FAILED, 1)  # ran again at once, failed again
    assert "resubmitted 1" in run("resubmit", ref)
    assert "resubmitted 0" in run("resubmit", "--module", "catalog")

    completed = sum(s.completed for s in event_stats())
    assert completed > 5  # the orders module's and inventory's
    assert f"purged {completed} " in run("purge")
    assert Publication.objects.using("orders").filter(status="completed").count() == 0
    with pytest.raises(CommandError, match="<module>:<id>"):
        run("show", "nonsense")
    with pytest.raises(CommandError, match="Unknown status"):
        run("list", "--status", "lost")
    with pytest.raises(CommandError, match="not a duration"):
        run("purge", "--older-than", "soon")


def test_events_without_a_subcommand_shows_stats_with_events_and_publications_told_apart(shop: Client) -> None:
    place_order(shop, "ada@example.com", ("KB-101", 1))
    text = run()
    assert text == run("stats")
    header = text.splitlines()[:2]
    assert "publications" in header[0] and header[1].split()[:3] == ["module", "events", "pending"]


def test_an_event_nobody_subscribes_to_is_listed_though_it_has_no_publication(shop: Client) -> None:
    raw_publication("orders", "orders.OrderShipped", {"order_id": 1}, None, key="1")
    listing = run("list")
    assert "orders: 1 x orders.OrderShipped stored with no publication: no module subscribes to it" in listing
    assert "OrderShipped" in run("list", "--type", "orders.OrderShipped")
    assert "OrderShipped" not in run("list", "--status", "dead")
