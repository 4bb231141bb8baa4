"""The event publication registry in the admin: per module database, read-only, resubmit action."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from contracts.kernel.models import Publication, PublicationStatus
from contracts.kernel.testing import write_completions
from tests.integration.shop import place_order

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

CHANGELIST = "/admin/seams/publication/"


@pytest.fixture
def admin_client(shop: Client) -> Client:
    get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.login(username="root", password="pw")
    return client


def dead_letter(shop: Client) -> Publication:
    order = place_order(shop, "once@example.com", ("KB-101", 1)).json()
    return Publication.objects.using("orders").get(subscriber_module="eventprobe", payload__order_id=order["id"])


def test_publications_are_listed_per_module_database(admin_client: Client, shop: Client) -> None:
    letter = dead_letter(shop)
    page = admin_client.get(CHANGELIST, {"module": "orders"}).content.decode()
    assert "tests.eventprobe.handlers.record_order_placed" in page and "ProbeFailure: once attempt 1" in page
    assert f"/admin/seams/publication/{letter.pk}/change/?_changelist_filters=module%3Dorders" in page
    other = admin_client.get(CHANGELIST, {"module": "inventory"}).content.decode()
    assert "record_order_placed" not in other and "inventory.StockReserved" in other


def test_a_publication_page_reads_from_the_module_chosen_in_the_list(admin_client: Client, shop: Client) -> None:
    letter = dead_letter(shop)
    response = admin_client.get(f"/admin/seams/publication/{letter.pk}/change/", {"_changelist_filters": "module=orders"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "once@example.com" in page  # the payload, shown read-only
    assert 'name="_save"' not in page  # no save button: nothing is editable


@pytest.mark.parametrize("model", ["publication", "inboxentry", "archivedpublication"])
def test_nothing_can_be_added_or_deleted(admin_client: Client, model: str) -> None:
    assert admin_client.get(f"/admin/seams/{model}/", {"module": "orders"}).status_code == 200
    assert admin_client.get(f"/admin/seams/{model}/add/").status_code == 403
    assert admin_client.get(f"/admin/seams/{model}/1/delete/", {"module": "orders"}).status_code == 403


def test_a_publication_and_the_event_it_holds_cannot_be_edited(admin_client: Client, shop: Client) -> None:
    letter = dead_letter(shop)
    response = admin_client.post(
        f"/admin/seams/publication/{letter.pk}/change/?_changelist_filters=module%3Dorders",
        {"event_type": "forged", "payload": "{}"},
    )
    assert response.status_code == 403
    letter.refresh_from_db()
    assert letter.event_type == "orders.OrderPlaced" and letter.payload["order_id"]


def test_the_resubmit_action_completes_a_dead_letter(admin_client: Client, shop: Client) -> None:
    letter = dead_letter(shop)
    response = admin_client.post(
        f"{CHANGELIST}?module=orders",
        {"action": "resubmit_selected", "_selected_action": [str(letter.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Resubmitted 1 publication." in response.content.decode()
    letter.refresh_from_db()
    assert letter.status == PublicationStatus.COMPLETED


def test_the_resubmit_action_leaves_completed_publications_alone(admin_client: Client, shop: Client) -> None:
    letter = dead_letter(shop)
    write_completions()
    done = Publication.objects.using("orders").exclude(pk=letter.pk).filter(status=PublicationStatus.COMPLETED).first()
    response = admin_client.post(
        f"{CHANGELIST}?module=orders", {"action": "resubmit_selected", "_selected_action": [str(done.pk)]}, follow=True
    )
    assert "Resubmitted 0 publications; 1 left alone" in response.content.decode()
    done.refresh_from_db()
    assert done.status == PublicationStatus.COMPLETED


def test_an_inbox_entry_is_listed_and_shown_by_its_event_and_subscriber(admin_client: Client, shop: Client) -> None:
    """The inbox's primary key is (event id, subscriber) as one column (migration 0007): the list
    links each entry by it and its page opens, read-only."""
    from django.conf import settings
    from django.contrib.admin.utils import quote

    from contracts.kernel.models import InboxEntry

    # Completion "delete": every handler's transaction writes its inbox row (with "keep", a handler
    # that completes its publication in its own transaction writes none: module schemas of one
    # PostgreSQL database).
    with override_settings(SEAMS_EVENTS={**getattr(settings, "SEAMS_EVENTS", {}), "COMPLETION": "delete"}):
        place_order(shop, "inbox@example.com", ("KB-101", 1))
    entry = InboxEntry.objects.using("notifications").order_by("-handled_at").first()
    assert entry is not None and entry.pk == f"{entry.event_id.hex}:{entry.subscriber}"
    listed = admin_client.get("/admin/seams/inboxentry/", {"module": "notifications"}).content.decode()
    link = f"/admin/seams/inboxentry/{quote(entry.pk)}/change/"
    assert link in listed and entry.subscriber in listed
    page = admin_client.get(link, {"_changelist_filters": "module=notifications"})
    assert page.status_code == 200
    assert str(entry.event_id) in page.content.decode() and 'name="_save"' not in page.content.decode()


@pytest.mark.parametrize("model", ["publication", "inboxentry", "archivedpublication"])
@pytest.mark.parametrize("hostile", ["%00", "a%00b", "x" * 3000, "1:2:3", "%E2%98%83", "%27%3B--", "_3A"])
def test_hostile_ids_and_search_terms_get_no_server_error(admin_client: Client, model: str, hostile: str) -> None:
    """A NUL in an id or a search term is refused by PostgreSQL's driver (it answered 500 for the
    inbox, whose key is text since migration 0007); every other odd string finds nothing."""
    from urllib.parse import unquote

    change = admin_client.get(f"/admin/seams/{model}/{hostile}/change/", {"module": "notifications"})
    assert change.status_code == 302, change.status_code  # "does not exist": back to the list
    search = admin_client.get(f"/admin/seams/{model}/", {"module": "notifications", "q": unquote(hostile)})
    assert search.status_code == 200, search.status_code
