"""Versions side by side (docs/evolution.md): a contract's v1 and v2 served at once over HTTP and
Celery, each caller getting the version its manifest consumes; an event's v1 and v2 subscribers
each getting the payload they declared, converted one declared step at a time; the snapshot
recording who uses each version, so that retiring one is judged on that."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test.utils import override_settings
from django.urls import URLPattern, URLResolver, path

import tests.unit.probe as probe_package
from contracts.kernel import Contract, Envelope, Event, ModuleConfig, Schema, Undeliverable, converts, query
from contracts.kernel.bus import deliver, run_subscriber
from contracts.kernel.checks import conversion_errors
from contracts.kernel.contract import family_name
from contracts.kernel.evolution import compare, describe_published_language
from contracts.kernel.evolution.describe import describe_contract
from contracts.kernel.outbox import receive_event
from contracts.kernel.outbox.forwarding import envelope_to_wire
from contracts.kernel.outbox.inbox import handle_once
from contracts.kernel.registry import Subscriber, get_registry, isolated_registry
from contracts.kernel.testing import override_contract
from contracts.kernel.upcasting import convert, missing_steps, older_payloads
from extraction.celery import call_contract
from extraction.celery.tasks import receive_forwarded_event
from extraction.http import HttpTransport, build_api
from extraction.http.wire import contract_prefix, method_path
from extraction.wire import TransportUnavailable
from tests.support.identity import service_token


# --- a contract in two versions ------------------------------------------------------------------
class Shelf(Schema):
    sku: str
    price_cents: int


class Money(Schema):
    amount_cents: int
    currency: str


class ShelfItem(Schema):
    sku: str
    price: Money


class Shelving(Contract, module="catalog"):
    """v1: a price in cents."""

    @query
    def get_shelf(self, sku: str) -> Shelf: ...


class ShelvingV2(Contract, module="catalog"):
    """v2, a breaking change beside v1: the price carries its currency."""

    version = 2

    @query
    def get_shelf(self, sku: str, currency: str) -> ShelfItem: ...


class ShelvingV1Implementation(Shelving):
    def get_shelf(self, sku: str) -> Shelf:
        return Shelf(sku=sku, price_cents=1500)


class ShelvingV2Implementation(ShelvingV2):
    def get_shelf(self, sku: str, currency: str) -> ShelfItem:
        return ShelfItem(sku=sku, price=Money(amount_cents=1500, currency=currency))


#: Served side by side, as extraction.http.urls mounts every contract a module provides.
urlpatterns: list[URLPattern | URLResolver] = [path(f"{contract_prefix(c)}/", build_api(c).urls) for c in (Shelving, ShelvingV2)]

#: orders is pinned to v1, inventory has moved to v2 (as their manifests would say).
CALLERS = {"catalog.Shelving": ["orders"], "catalog.ShelvingV2": ["inventory"]}


@pytest.fixture
def served() -> Iterator[None]:
    with (
        # This module's urlpatterns, without the project's middleware (which routes /internal/ to the shop's).
        override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[], SEAMS_ALLOWED_CALLERS=CALLERS),
        override_contract(Shelving, ShelvingV1Implementation()),
        override_contract(ShelvingV2, ShelvingV2Implementation()),
    ):
        yield


def http_client(contract: type[Contract], caller: str) -> Contract:
    """The real HTTP client, its requests answered by this process's Django (no socket)."""
    client = httpx.Client(base_url="http://testserver", transport=httpx.WSGITransport(app=WSGIHandler()))
    binding = {"TRANSPORT": "http", "URL": "http://testserver", "CALLER": caller, "RETRIES": "0"}
    return HttpTransport(contract=contract, binding=binding, client=client)


def test_the_versions_of_a_contract_share_a_family_and_are_served_under_their_version() -> None:
    assert (Shelving.__seams_family__, Shelving.version) == ("Shelving", 1)
    assert (ShelvingV2.__seams_family__, ShelvingV2.version, ShelvingV2.__seams_name__) == ("Shelving", 2, "catalog.ShelvingV2")
    assert method_path(Shelving, "get_shelf") == "/internal/catalog/v1/shelving/get_shelf"
    assert method_path(ShelvingV2, "get_shelf") == "/internal/catalog/v2/shelving/get_shelf"
    assert family_name("ReportV3", 3) == "Report"
    assert family_name("ReportV3", 2) == "ReportV3"  # the suffix counts only when it is the version


def test_a_contract_version_must_be_a_positive_int() -> None:
    with pytest.raises(TypeError, match="version must be an int >= 1"):
        class BadShelving(Contract, module="catalog"):
            version = "2"  # type: ignore[assignment]


def test_two_declarations_of_one_version_of_a_contract_are_refused() -> None:
    with pytest.raises(TypeError, match="Shelving and ShelvingV2 are both version 2 of the contract Shelving of 'catalog'"):
        class Shelving(Contract, module="catalog"):  # v2 again, under the family's own name: the same paths
            version = 2


@pytest.mark.django_db(databases=["default", "catalog"])
def test_a_caller_pinned_to_v1_and_one_on_v2_are_served_side_by_side_over_http(served: None) -> None:
    v1 = http_client(Shelving, caller="orders")
    v2 = http_client(ShelvingV2, caller="inventory")
    assert v1.get_shelf("KB-101") == Shelf(sku="KB-101", price_cents=1500)  # type: ignore[attr-defined]
    assert v2.get_shelf("KB-101", currency="EUR") == ShelfItem(sku="KB-101", price=Money(amount_cents=1500, currency="EUR"))  # type: ignore[attr-defined]


@pytest.mark.django_db(databases=["default", "catalog"])
def test_each_version_admits_only_the_modules_that_consume_that_version(served: None) -> None:
    with pytest.raises(TransportUnavailable, match="HTTP 403.*does not consume catalog.ShelvingV2"):
        http_client(ShelvingV2, caller="orders").get_shelf("KB-101", currency="EUR")  # type: ignore[attr-defined]
    with pytest.raises(TransportUnavailable, match="HTTP 403.*does not consume catalog.Shelving:"):
        http_client(Shelving, caller="inventory").get_shelf("KB-101")  # type: ignore[attr-defined]


def test_both_versions_are_served_by_the_one_celery_task_by_contract_name(served: None) -> None:
    v1 = call_contract("catalog.Shelving", "get_shelf", {"sku": "KB-1"}, None, token=service_token("orders", "catalog"))
    v2 = call_contract("catalog.ShelvingV2", "get_shelf", {"sku": "KB-1", "currency": "SEK"}, None,
                       token=service_token("inventory", "catalog"))
    assert v1 == {"ok": {"sku": "KB-1", "price_cents": 1500}}
    assert v2 == {"ok": {"sku": "KB-1", "price": {"amount_cents": 1500, "currency": "SEK"}}}
    refused = call_contract("catalog.ShelvingV2", "get_shelf", {"sku": "KB-1", "currency": "SEK"}, None,
                            token=service_token("orders", "catalog"))
    assert refused["refused"]["status"] == 403


# --- an event in three versions ------------------------------------------------------------------
class Name(Schema):
    first: str
    last: str


class Greeted(Event):
    publisher: ClassVar[str] = "orders"  # a module this process serves: its tokens are trusted
    key_field: ClassVar[str] = "probe_id"
    probe_id: int
    name: str


class GreetedV2(Event):
    publisher: ClassVar[str] = "orders"  # a module this process serves: its tokens are trusted
    key_field: ClassVar[str] = "probe_id"
    version = 2
    probe_id: int
    name: Name


class GreetedV3(Event):
    publisher: ClassVar[str] = "orders"  # a module this process serves: its tokens are trusted
    key_field: ClassVar[str] = "probe_id"
    version = 3
    probe_id: int
    name: Name
    language: str


@converts(Greeted, GreetedV2)
def greeted_v1_to_v2(old: Greeted) -> GreetedV2:
    first, _, last = old.name.partition(" ")
    return GreetedV2(probe_id=old.probe_id, name=Name(first=first, last=last))


@converts(GreetedV2, Greeted)
def greeted_v2_to_v1(new: GreetedV2) -> Greeted:
    return Greeted(probe_id=new.probe_id, name=f"{new.name.first} {new.name.last}")


@converts(GreetedV2, GreetedV3)
def greeted_v2_to_v3(old: GreetedV2) -> GreetedV3:
    return GreetedV3(probe_id=old.probe_id, name=old.name, language="en")


# No downcaster from v3 to v2: a v1 or v2 subscriber cannot be given a v3 event.


def test_event_versions_share_one_type() -> None:
    assert Greeted.event_type == GreetedV2.event_type == GreetedV3.event_type == "orders.Greeted"
    assert (Greeted.version, GreetedV2.version, GreetedV3.version) == (1, 2, 3)


def test_convert_upcasts_and_downcasts_one_declared_step_at_a_time() -> None:
    ada = Greeted(probe_id=1, name="Ada Lovelace")
    assert convert(ada, GreetedV2) == GreetedV2(probe_id=1, name=Name(first="Ada", last="Lovelace"))
    assert convert(ada, GreetedV3) == GreetedV3(probe_id=1, name=Name(first="Ada", last="Lovelace"), language="en")
    assert convert(convert(ada, GreetedV2), Greeted) == ada
    assert convert(ada, Greeted) is ada


def test_a_missing_step_fails_loudly_naming_the_converter_to_add() -> None:
    v3 = GreetedV3(probe_id=1, name=Name(first="Ada", last="Lovelace"), language="en")
    with pytest.raises(Undeliverable, match=r"no converter from v3 to v2.*@converts\(GreetedV3, GreetedV2\)"):
        convert(v3, Greeted)
    assert missing_steps("orders.Greeted", 3, 1) == [(3, 2)]
    assert missing_steps("orders.Greeted", 1, 3) == []


def test_converters_join_adjacent_versions_of_one_type_and_return_what_they_declare() -> None:
    with pytest.raises(TypeError, match="skips a version"):
        converts(Greeted, GreetedV3)
    with pytest.raises(TypeError, match="different event types"):
        converts(Greeted, Probed)

    class Odd(Event):
        publisher: ClassVar[str] = "probe"
        version = 4
        probe_id: int

    class OddV5(Event):
        publisher: ClassVar[str] = "probe"
        event_type: ClassVar[str] = "probe.Odd"
        version = 5
        probe_id: int

    converts(Odd, OddV5)(lambda old: old)  # a bug: returns the v4 event
    with pytest.raises(TypeError, match="returned Odd, not OddV5"):
        convert(Odd(probe_id=1), OddV5)


class Probed(Event):
    publisher: ClassVar[str] = "probe"
    probe_id: int


# --- delivery: each subscriber gets its own version ----------------------------------------------
def subscriber_of(event: type[Event], seen: list[Any], name: str) -> Subscriber:
    return Subscriber(event=event, handler=seen.append, module="catalog", name=name, wants_envelope=False)


@pytest.mark.django_db(transaction=True, databases=["default", "catalog"])
def test_v1_and_v2_subscribers_each_receive_the_payload_they_declared() -> None:
    published = Envelope(event=GreetedV2(probe_id=7, name=Name(first="Ada", last="Lovelace")))
    old, new = [], []
    run_subscriber(subscriber_of(Greeted, old, "old"), published)
    run_subscriber(subscriber_of(GreetedV2, new, "new"), published)
    assert old == [Greeted(probe_id=7, name="Ada Lovelace")]
    assert new == [published.event]


@pytest.mark.django_db(transaction=True, databases=["default", "catalog"])
def test_inline_delivery_and_the_inbox_give_each_subscriber_its_version() -> None:
    """``deliver`` (the embedded backend, after commit) and ``handle_once`` (the outbox's workers)."""
    published = Envelope(event=GreetedV2(probe_id=21, name=Name(first="Ada", last="Lovelace")))
    old, new = [], []
    with isolated_registry() as registry:
        registry.add_subscriber(subscriber_of(Greeted, old, "modules.catalog.greeting.old"))
        registry.add_subscriber(subscriber_of(GreetedV2, new, "modules.catalog.greeting.new"))
        registry.freeze()
        deliver(published)
        assert [handle_once(s, published) for s in registry.subscribers_for("orders.Greeted")] == ["completed", "completed"]
    assert old == [Greeted(probe_id=21, name="Ada Lovelace")] * 2
    assert new == [published.event] * 2


@pytest.mark.django_db(transaction=True, databases=["default", "catalog"])
def test_a_subscriber_the_publisher_cannot_downcast_to_is_refused_as_undeliverable() -> None:
    published = Envelope(event=GreetedV3(probe_id=7, name=Name(first="Ada", last="Lovelace"), language="en"))
    with pytest.raises(Undeliverable, match="no converter from v3 to v2"):
        run_subscriber(subscriber_of(GreetedV2, [], "old"), published)


class Row:
    """The columns of a publication (which holds its event) that ``envelope_to_wire`` reads."""

    def __init__(self, event: Event) -> None:
        self.event_id, self.event_type, self.version, self.key = uuid.uuid4(), event.event_type, event.version, None
        self.payload, self.headers = event.model_dump(mode="json"), {}
        self.occurred_at = Envelope(event=event).occurred_at


def test_a_forward_carries_every_older_version_the_publisher_can_downcast_to() -> None:
    v2 = GreetedV2(probe_id=3, name=Name(first="Grace", last="Hopper"))
    wire = envelope_to_wire(Row(v2))  # type: ignore[arg-type]
    assert wire["payloads"] == {"1": {"probe_id": 3, "name": "Grace Hopper"}}
    assert "payloads" not in envelope_to_wire(Row(Greeted(probe_id=3, name="Grace Hopper")))  # type: ignore[arg-type]
    # v3 has no downcaster: nothing is computed, and a v1 or v2 receiver answers it undeliverable.
    assert older_payloads("orders.Greeted", 3, {"probe_id": 3, "name": {"first": "G", "last": "H"}, "language": "en"}) == {}


@pytest.fixture
def receivers() -> Iterator[dict[str, list[Any]]]:
    """A v1 and a v2 handler of probe.Greeted registered in this process (the receiving side)."""
    seen: dict[str, list[Any]] = {"old": [], "new": []}
    with isolated_registry() as registry:
        registry.add_subscriber(subscriber_of(Greeted, seen["old"], "modules.catalog.greeting.old"))
        registry.add_subscriber(subscriber_of(GreetedV2, seen["new"], "modules.catalog.greeting.new"))
        registry.freeze()
        yield seen


@pytest.mark.django_db(transaction=True, databases=["default", "catalog"])
def test_a_receiver_on_v1_reads_the_publishers_downcast_and_one_on_v2_upcasts_an_old_publisher(receivers: dict[str, list[Any]]) -> None:
    from_new_publisher = json.loads(json.dumps(envelope_to_wire(Row(GreetedV2(probe_id=5, name=Name(first="Alan", last="Turing"))))))  # type: ignore[arg-type]
    from_old_publisher = json.loads(json.dumps(envelope_to_wire(Row(Greeted(probe_id=6, name="Edsger Dijkstra")))))  # type: ignore[arg-type]
    for envelope in (from_new_publisher, from_old_publisher):
        assert receive_event("modules.catalog.greeting.old", envelope) == "completed"
        assert receive_event("modules.catalog.greeting.new", envelope) == "completed"
        assert receive_event("modules.catalog.greeting.old", envelope) == "duplicate"  # the inbox still holds
    assert receivers["old"] == [Greeted(probe_id=5, name="Alan Turing"), Greeted(probe_id=6, name="Edsger Dijkstra")]
    assert receivers["new"] == [GreetedV2(probe_id=5, name=Name(first="Alan", last="Turing")),
                                GreetedV2(probe_id=6, name=Name(first="Edsger", last="Dijkstra"))]


@pytest.mark.django_db(transaction=True, databases=["default", "catalog"])
def test_over_celery_each_handler_gets_its_version_the_same_way(receivers: dict[str, list[Any]]) -> None:
    """The worker's ``seams.receive_event`` task, run as the worker runs it, signed by the publisher (orders)."""
    from_new_publisher = json.loads(json.dumps(envelope_to_wire(Row(GreetedV2(probe_id=8, name=Name(first="Barbara", last="Liskov"))))))  # type: ignore[arg-type]
    from_old_publisher = json.loads(json.dumps(envelope_to_wire(Row(Greeted(probe_id=9, name="Tony Hoare")))))  # type: ignore[arg-type]
    for envelope in (from_new_publisher, from_old_publisher):
        for handler in ("modules.catalog.greeting.old", "modules.catalog.greeting.new"):
            # A fresh token each time: a service token is good for one message.
            assert receive_forwarded_event("catalog", handler, envelope, token=service_token("orders", "catalog")) == {"outcome": "completed"}
    assert receivers["old"] == [Greeted(probe_id=8, name="Barbara Liskov"), Greeted(probe_id=9, name="Tony Hoare")]
    assert receivers["new"] == [GreetedV2(probe_id=8, name=Name(first="Barbara", last="Liskov")),
                                GreetedV2(probe_id=9, name=Name(first="Tony", last="Hoare"))]


@pytest.mark.django_db(transaction=True, databases=["default", "catalog"])
def test_a_receiver_that_cannot_be_given_its_version_answers_undeliverable(receivers: dict[str, list[Any]]) -> None:
    v3 = json.loads(json.dumps(envelope_to_wire(Row(GreetedV3(probe_id=10, name=Name(first="A", last="B"), language="en")))))  # type: ignore[arg-type]
    answer = receive_forwarded_event("catalog", "modules.catalog.greeting.old", v3, token=service_token("orders", "catalog"))
    assert "no converter from v3 to v2" in answer["undeliverable"]
    assert receivers["old"] == []


@pytest.mark.django_db(transaction=True, databases=["default", "catalog"])
def test_a_version_unknown_here_does_not_let_another_module_forward_the_event(receivers: dict[str, list[Any]]) -> None:
    """Only the publisher may forward its events, whatever version the envelope claims: a v99 that
    carries a v1 payload, signed by a module that does not publish the type, runs nothing."""
    forged = json.loads(json.dumps(envelope_to_wire(Row(Greeted(probe_id=11, name="Mallory Forger")))))  # type: ignore[arg-type]
    forged.update(version=99, payloads={"1": forged["payload"]})
    answer = receive_forwarded_event("catalog", "modules.catalog.greeting.old", forged, token=service_token("catalog", "catalog"))
    assert answer["refused"]["status"] == 403 and "only 'orders' may forward it" in answer["refused"]["message"]
    assert receivers["old"] == []


@pytest.mark.django_db(transaction=True, databases=["default", "catalog"])
def test_a_version_this_process_does_not_know_is_refused_naming_the_fix(receivers: dict[str, list[Any]]) -> None:
    newer = json.loads(json.dumps(envelope_to_wire(Row(Greeted(probe_id=12, name="Future Person")))))  # type: ignore[arg-type]
    newer["version"] = 7  # a publisher two deploys ahead, with no downcaster: no payload this side reads
    with pytest.raises(Undeliverable, match=r"this process knows v1, v2, v3.*must declare a downcaster from v7"):
        receive_event("modules.catalog.greeting.old", newer)
    assert receivers["old"] == []


# --- seams.E018 ----------------------------------------------------------------------------------
class GreeterV3Config(ModuleConfig):
    name = "tests.unit.probe"
    label = "probe"
    publishes = [GreetedV3]


class GreeterV2Config(ModuleConfig):
    name = "tests.unit.probe"
    label = "probe"
    publishes = [GreetedV2]


def test_the_check_reports_a_subscriber_its_publisher_cannot_convert_to() -> None:
    with isolated_registry() as registry:
        registry.add_subscriber(subscriber_of(Greeted, [], "modules.catalog.handlers.on_greeted"))
        registry.add_subscriber(subscriber_of(GreetedV3, [], "modules.catalog.handlers.on_greeted_v3"))
        errors = conversion_errors([GreeterV3Config("tests.unit.probe", probe_package)], registry)
        assert [(e.id, e.obj) for e in errors] == [("seams.E018", "modules.catalog.handlers.on_greeted")]
        assert "publishes v3, and no converter turns v3 into v2" in errors[0].msg
        assert conversion_errors([GreeterV2Config("tests.unit.probe", probe_package)], registry) == []


# --- the snapshot: who uses each version ---------------------------------------------------------
def test_the_snapshot_records_each_version_and_who_uses_it() -> None:
    shop = describe_published_language()
    assert shop["contracts"]["catalog.Catalog"]["consumers"] == ["inventory", "orders"]
    assert shop["contracts"]["catalog.Catalog"]["family"] == "Catalog"
    placed = shop["events"]["orders.OrderPlaced@v1"]
    assert placed["publishers"] == ["orders"] and "inventory" in placed["subscribers"]
    assert describe_contract(ShelvingV2)["version"] == 2


def language(**contracts: dict[str, Any]) -> dict[str, Any]:
    return {"format": 1, "contracts": contracts, "events": {}, "errors": {}}


def test_adding_v2_beside_v1_is_additive() -> None:
    v1 = {**describe_contract(Shelving), "consumers": ["orders"]}
    changes = compare(language(**{"catalog.Shelving": v1}),
                      language(**{"catalog.Shelving": v1, "catalog.ShelvingV2": describe_contract(ShelvingV2)}))
    assert [(str(c), c.breaking) for c in changes] == [("catalog.ShelvingV2: contract added", False)]


def test_removing_v1_while_a_manifest_still_consumes_it_is_breaking_and_retiring_it_after_is_not() -> None:
    v2 = {**describe_contract(ShelvingV2), "consumers": ["orders"]}
    pinned = {**describe_contract(Shelving), "consumers": ["orders"]}
    [removed] = [c for c in compare(language(**{"catalog.Shelving": pinned, "catalog.ShelvingV2": v2}),
                                    language(**{"catalog.ShelvingV2": v2})) if c.where == "catalog.Shelving"]
    assert removed.breaking and "orders still consume(s) it" in removed.what
    # orders moved to v2 and that snapshot was deployed: nothing pins v1 any more.
    unpinned = {**describe_contract(Shelving), "consumers": []}
    [retired] = compare(language(**{"catalog.Shelving": unpinned, "catalog.ShelvingV2": v2}), language(**{"catalog.ShelvingV2": v2}))
    assert (retired.what, retired.breaking) == ("contract version retired (no module consumes it)", False)


def test_moving_a_consumer_to_v2_is_recorded_as_additive() -> None:
    before = language(**{"catalog.Shelving": {**describe_contract(Shelving), "consumers": ["orders"]},
                         "catalog.ShelvingV2": {**describe_contract(ShelvingV2), "consumers": []}})
    after = language(**{"catalog.Shelving": {**describe_contract(Shelving), "consumers": []},
                        "catalog.ShelvingV2": {**describe_contract(ShelvingV2), "consumers": ["orders"]}})
    assert [(str(c), c.breaking) for c in compare(before, after)] == [
        ("catalog.Shelving: consumer orders gone", False),
        ("catalog.ShelvingV2: consumer orders added", False),
    ]


def test_removing_an_event_version_breaks_while_anyone_publishes_or_subscribes_to_it() -> None:
    entry = {"type": "orders.Greeted", "version": 1, "key_field": None, "payload": {}}
    used = {"format": 1, "contracts": {}, "errors": {}, "events": {"orders.Greeted@v1": {**entry, "publishers": [], "subscribers": ["orders"]}}}
    unused = {"format": 1, "contracts": {}, "errors": {}, "events": {"orders.Greeted@v1": {**entry, "publishers": [], "subscribers": []}}}
    empty = {"format": 1, "contracts": {}, "errors": {}, "events": {}}
    [broken] = compare(used, empty)
    assert broken.breaking and "orders still use(s) it" in broken.what
    [retired] = compare(unused, empty)
    assert not retired.breaking
    assert registry_untouched()


def registry_untouched() -> bool:
    return get_registry().frozen
