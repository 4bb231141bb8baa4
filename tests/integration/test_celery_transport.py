"""The Celery transport against a REAL worker: ``celery -A app worker`` consuming the catalog,
inventory and orders RPC queues, with its own database (SQLite files in a temporary directory, or a
throwaway PostgreSQL database when DATABASE_URL is set), data seeded through a real gunicorn. The
test process binds the modules with ``SEAMS_BINDINGS`` and calls them through ``use()``, as a module
would. The processes are shared with the parity suite (tests/integration/parity/served.py).

The queues carry a per-session suffix so that a concurrent test run on the shared Redis never takes
our calls; see served.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from celery.signals import before_task_publish
from django.conf import settings
from django.test import Client
from django.test.utils import override_settings
from django.urls import get_resolver

from contracts.catalog import Catalog, ProductDTO, ProductNotFound
from contracts.inventory import Inventory, StockLevel, StockNotFound
from contracts.kernel import ServiceUnavailable, Undeliverable, use
from contracts.kernel.remote import forward_event
from extraction.celery import TASK_NAME, CeleryTransport, replies
from extraction.celery.names import RECEIVE_TASK_NAME
from extraction.identity import issue
from extraction.wire import TransportUnavailable
from tests.integration.parity import served
from tests.support.processes import free_port
from tests.support.tokens import customer

pytestmark = pytest.mark.e2e

ORDERS = "modules.orders.services"  # a caller whose manifest consumes Catalog


@pytest.fixture(scope="session")
def served_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[served.ServedShop]:
    shop = served.acquire(tmp_path_factory)
    try:
        shop.start()
        yield shop
    finally:
        served.release()


@pytest.fixture(autouse=True)
def urls_loaded_as_configured() -> None:
    """Load the URLconf before any binding is overridden: ``app.api`` mounts only the routers of
    modules served in-process, once, when it is first imported."""
    get_resolver().url_patterns  # noqa: B018


@pytest.fixture
def over_celery(served_shop: served.ServedShop) -> Iterator[served.ServedShop]:
    with override_settings(SEAMS_BINDINGS=served_shop.bindings("celery")):
        yield served_shop


@pytest.fixture
def catalog_over_celery(served_shop: served.ServedShop) -> Iterator[served.ServedShop]:
    """Only the catalog is remote: orders and inventory (and their public API) stay in this process."""
    with override_settings(SEAMS_BINDINGS={"catalog": served_shop.bindings("celery")["catalog"]}):
        yield served_shop


@pytest.fixture
def nobody_listens() -> Iterator[str]:
    """A queue no worker consumes (removed from the broker afterwards)."""
    queue = f"seams.rpc.nobody.{uuid.uuid4().hex[:8]}"
    yield queue
    served.forget_queues(settings.CELERY_BROKER_URL, [queue])


def sku() -> str:
    return f"C-{uuid.uuid4().hex[:10].upper()}"


def test_catalog_calls_are_served_by_the_worker(over_celery: served.ServedShop) -> None:
    keyboard, mouse = sku(), sku()
    over_celery.shop.add_product(keyboard, 4999, name="Mechanical keyboard")
    over_celery.shop.add_product(mouse, 2499)
    catalog = use(Catalog, consumer=ORDERS)
    assert type(catalog).__name__ == "CeleryCatalog"
    product = catalog.get_product(keyboard)
    assert type(product) is ProductDTO
    assert product == ProductDTO(sku=keyboard, name="Mechanical keyboard", price_cents=4999)
    assert [p.sku for p in catalog.get_products([mouse, keyboard])] == [mouse, keyboard]


def test_not_found_comes_back_as_the_same_class(over_celery: served.ServedShop) -> None:
    missing = sku()
    with pytest.raises(ProductNotFound) as caught:
        use(Catalog, consumer=ORDERS).get_product(missing)
    assert caught.value.details == {"sku": missing} and caught.value.message == f"No product has SKU '{missing}'."
    with pytest.raises(StockNotFound):
        use(Inventory).get_stock(missing)


def test_inventory_is_served_by_the_worker_too(over_celery: served.ServedShop) -> None:
    lamp = sku()
    over_celery.shop.add_product(lamp, 2500, stock=4)
    assert use(Inventory).get_stock(lamp) == StockLevel(sku=lamp, on_hand=4, reserved=0, available=4)


class RecordingApp(Celery):
    """The project's Celery configuration (broker, Redis result backend), recording each message
    published (``before_task_publish``: whether it went through ``send_task`` or straight to
    ``send_task_message``, extraction.celery.sending) as (task name, kwargs, headers)."""

    def __init__(self) -> None:
        super().__init__("recording", set_as_current=False)
        self.config_from_object("django.conf:settings", namespace="CELERY")
        self.sent: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        before_task_publish.connect(self._record, weak=False)

    def _record(self, sender: str, body: Any, headers: dict[str, Any], **_: Any) -> None:
        self.sent.append((sender, dict(body[1]), dict(headers)))

    def close(self) -> None:
        before_task_publish.disconnect(self._record)
        super().close()


def test_the_answer_comes_back_on_a_reply_key_of_its_own_and_no_result_is_stored(over_celery: served.ServedShop) -> None:
    """One BLPOP on the call's reply key instead of Celery's result backend (a SUBSCRIBE, a GET, an
    UNSUBSCRIBE on the caller, a result record written and published by the worker)."""
    keyboard = sku()
    over_celery.shop.add_product(keyboard, 4999, name="Mechanical keyboard")
    app = RecordingApp()
    catalog = CeleryTransport(contract=Catalog, binding=over_celery.bindings("celery")["catalog"], app=app)
    assert catalog.get_product(keyboard) == ProductDTO(sku=keyboard, name="Mechanical keyboard", price_cents=4999)  # type: ignore[attr-defined]
    app.close()
    (name, kwargs, headers), = app.sent
    assert name == TASK_NAME and headers["ignore_result"] is True and headers["task"] == TASK_NAME
    assert kwargs["reply_to"] == replies.key_for(headers["id"])
    client = replies.reply_client(app)
    assert client is not None
    assert client.exists(kwargs["reply_to"], f"celery-task-meta-{headers['id']}") == 0  # taken, and never stored


def test_a_caller_without_a_reply_key_still_gets_the_answer_as_the_task_result(over_celery: served.ServedShop) -> None:
    """A caller of an older release (no ``reply_to``) is answered through Celery's result backend, so
    callers and workers can be upgraded in any order."""
    keyboard = sku()
    over_celery.shop.add_product(keyboard, 4999, name="Mechanical keyboard")
    app = RecordingApp()
    arguments = ["catalog.Catalog", "get_product", {"sku": keyboard}, {}, time.time() + 30]
    result = app.send_task(TASK_NAME, args=arguments, kwargs={"token": issue("orders", "catalog")},
                           queue=over_celery.queues["catalog"])
    try:
        answer = result.get(timeout=30)
    finally:
        result.forget()
    assert answer == {"ok": {"sku": keyboard, "name": "Mechanical keyboard", "price_cents": 4999}}


@pytest.mark.django_db(databases="__all__")
def test_a_module_of_this_process_prices_an_order_through_the_worker(catalog_over_celery: served.ServedShop) -> None:
    """orders (here, in-process) asks catalog (the worker, another database) for prices: an unknown
    SKU there is a ProductNotFound here, which the orders module turns into a 422 naming the line."""
    response = Client().post(
        "/api/orders/",
        {"lines": [{"sku": sku(), "quantity": 1}]},
        content_type="application/json",
        headers=customer(),
    )
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "lines", 0, "sku"]


def test_no_worker_on_the_queue_is_service_unavailable(nobody_listens: str) -> None:
    binding = {"catalog": {"TRANSPORT": "celery", "QUEUE": nobody_listens, "TIMEOUT": "0.5", "CALLER": "orders"}}
    with override_settings(SEAMS_BINDINGS=binding), pytest.raises(TransportUnavailable) as caught:
        use(Catalog, consumer=ORDERS).get_product("KB-101")
    error = caught.value
    assert isinstance(error, ServiceUnavailable)
    assert f"the 'catalog' module on Celery queue '{nobody_listens}' did not answer within 0.5 s" in error.message
    assert error.details["module"] == "catalog" and error.details["queue"] == nobody_listens
    assert error.details["cause"].startswith("TimeoutError")


@pytest.mark.django_db(databases="__all__")
def test_the_public_api_answers_503_when_the_worker_does_not(nobody_listens: str, caplog: pytest.LogCaptureFixture) -> None:
    binding = {"catalog": {"TRANSPORT": "celery", "QUEUE": nobody_listens, "TIMEOUT": "0.5", "CALLER": "orders"}}
    with override_settings(SEAMS_BINDINGS=binding):
        response = Client().post(
            "/api/orders/",
            {"lines": [{"sku": "KB-101", "quantity": 1}]},
            content_type="application/json",
            headers=customer(),
        )
    assert response.status_code == 503, response.content
    assert response["Retry-After"]
    body = response.json()
    assert body["code"] == "seams.ServiceUnavailable" and set(body) == {"detail", "code", "error_id"}
    # The queue, the broker and the cause are for the operator: in the log under the error id only.
    assert nobody_listens.encode() not in response.content and b"redis" not in response.content
    (record,) = [r for r in caplog.records if getattr(r, "error_id", None) == body["error_id"]]
    assert nobody_listens in record.getMessage() and "did not answer within 0.5 s" in record.getMessage()


def closed_port_app(backend: str | None = None) -> Celery:
    """A Celery app of the test's own whose broker is a closed loopback port."""
    port = free_port()  # bound, then closed at once: nothing listens there
    app = Celery("closed-broker", broker=f"redis://:s3cret@127.0.0.1:{port}/0", backend=backend or f"redis://127.0.0.1:{port}/1",
                 set_as_current=False)
    app.conf.broker_connection_timeout = 2
    app.conf.result_backend_transport_options = {"retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}}
    return app


@pytest.mark.parametrize("backend", ["shared", "closed"], ids=["broker-closed", "broker-and-backend-closed"])
def test_a_broker_on_a_closed_port_is_service_unavailable(backend: str) -> None:
    app = closed_port_app(settings.CELERY_RESULT_BACKEND if backend == "shared" else None)
    catalog = CeleryTransport(contract=Catalog, binding={"TRANSPORT": "celery", "TIMEOUT": "5", "CALLER": "orders"}, app=app)
    with pytest.raises(TransportUnavailable) as caught:
        catalog.get_product("KB-101")  # type: ignore[attr-defined]
    error = caught.value
    assert "the 'catalog' module on Celery queue 'seams.rpc.catalog' could not be reached: the call was not sent" in error.message
    assert error.details["module"] == "catalog" and error.details["queue"] == "seams.rpc.catalog"
    assert error.details["cause"]
    assert "s3cret" not in error.message


def test_an_event_forwarded_to_the_worker_is_handled_once(served_shop: served.ServedShop) -> None:
    """The kernel forwards an outbox envelope to a handler of a module bound to Celery: the worker
    runs it with the module's inbox, so a repeated forward changes nothing."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    envelope = {
        "id": str(uuid.uuid4()),
        "type": "orders.OrderConfirmed",
        "version": 1,
        "key": "41",
        "payload": {"order_id": 41, "customer_email": email, "total_cents": 4999},
        "headers": {"trace_id": uuid.uuid4().hex, "publisher": "orders"},
        "occurred_at": "2024-05-17T09:30:15.250000+00:00",
    }
    handler = "modules.notifications.handlers.email_order_confirmation"
    binding = {"TRANSPORT": "celery", "QUEUE": served_shop.queues["notifications"], "TIMEOUT": served.CALL_TIMEOUT}
    with override_settings(SEAMS_BINDINGS={"notifications": binding}):
        assert forward_event("notifications", handler, envelope) == "completed"
        assert forward_event("notifications", handler, envelope) == "duplicate"
        with pytest.raises(Undeliverable, match="refused by the 'notifications' module"):
            forward_event("notifications", "modules.notifications.handlers.no_such_handler", envelope)
    sent = served_shop.shop.client.get("/api/notifications/", headers=customer(email)).json()
    assert [m["subject"] for m in sent] == ["Your order #41 is confirmed"]


@pytest.mark.django_db(databases="__all__")
def test_readiness_names_the_worker_that_consumes_each_bound_queue(over_celery: served.ServedShop) -> None:
    """A real worker answers the remote-control broadcast with its queues (extraction/dependencies.py)."""
    response = Client().get("/health/ready")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready", body
    queue = over_celery.bindings("celery")["catalog"]["QUEUE"]
    assert body["checks"][f"workers:{queue}"]["ok"] is True
    assert body["checks"][f"workers:{queue}"]["workers"]


class _Catalog(Catalog):
    """Answers every SKU, without a database: the test is about what the task returns."""

    def get_product(self, sku: str) -> ProductDTO:
        return ProductDTO(sku=sku, name=f"Product {sku}", price_cents=4999)

    def get_products(self, skus: list[str]) -> list[ProductDTO]:
        return [self.get_product(s) for s in skus]


def test_an_answer_pushed_to_its_reply_key_is_not_also_the_task_result() -> None:
    """Celery reprs every task's return value for its success log (logged or not); an answer the
    caller takes from its reply key has no other reader, so the task returns nothing."""
    from celery import current_app

    from contracts.kernel.testing import override_contract
    from extraction.celery import call_contract

    key = replies.key_for(f"test-{uuid.uuid4().hex}")
    with override_contract(Catalog, _Catalog()):
        returned = call_contract("catalog.Catalog", "get_products", {"skus": ["KB-101"]}, None, time.time() + 30,
                                 token=issue("orders", "catalog"), reply_to=key)
        assert returned is None
        client = replies.reply_client(current_app)
        assert client is not None
        assert replies.wait(client, key, 5) == (True, {"ok": [{"sku": "KB-101", "name": "Product KB-101", "price_cents": 4999}]})
        # without a reply key (an older caller) the answer is still the task's result
        assert call_contract("catalog.Catalog", "get_products", {"skus": ["KB-101"]}, None, time.time() + 30,
                             token=issue("orders", "catalog")) == {"ok": [{"sku": "KB-101", "name": "Product KB-101", "price_cents": 4999}]}


def test_a_burst_of_held_tasks_on_one_thread_is_served_without_stalls(over_celery: served.ServedShop) -> None:
    """The served worker runs one pool thread with a prefetch of one, so eight callers at once keep
    its prefetch limit reached: every ack from the pool thread gives the credit back, and the loop
    must be woken to take the next call (extraction/celery/consumer.py). A wake-up missed leaves the
    next call waiting for the loop's one-second poll: measured, the 64 calls then took 64 s, against
    2 s woken. The bound is liveness with a wide margin, not a performance target."""
    from concurrent.futures import ThreadPoolExecutor

    keyboard = sku()
    over_celery.shop.add_product(keyboard, 4999)

    def call(_: int) -> int:
        return use(Catalog, consumer=ORDERS).get_product(keyboard).price_cents

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        prices = list(pool.map(call, range(64)))
    took = time.monotonic() - started
    assert prices == [4999] * 64
    assert took < 32, f"64 calls took {took:.0f} s: the worker's loop was not woken after its acks"


def _confirmed_envelope(email: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": "orders.OrderConfirmed",
        "version": 1,
        "key": "42",
        "payload": {"order_id": 42, "customer_email": email, "total_cents": 4999},
        "headers": {"trace_id": uuid.uuid4().hex, "publisher": "orders"},
        "occurred_at": "2024-05-17T09:30:15.250000+00:00",
    }


def test_a_forwarded_event_taken_after_its_deadline_is_dropped_unrun(served_shop: served.ServedShop) -> None:
    """The deadline travels in a header (not Celery's ``expires``): a worker that takes the message
    after it drops it, answers nothing and leaves the inbox alone; the outbox's next forward runs it."""
    from celery import current_app

    from extraction.celery import sending

    email = f"{uuid.uuid4().hex[:8]}@example.com"
    envelope = _confirmed_envelope(email)
    handler = "modules.notifications.handlers.email_order_confirmation"
    queue = served_shop.queues["notifications"]
    task_id = uuid.uuid4().hex
    key = replies.key_for(task_id)
    sending.send(
        current_app, RECEIVE_TASK_NAME, ["notifications", handler, envelope], {"token": issue("orders", "notifications"), "reply_to": key},
        task_id=task_id, queue=queue, retry=False, retry_policy={}, argsrepr="late", kwargsrepr="{}", deadline=time.time() - 1,
    )
    client = replies.reply_client(current_app)
    assert replies.wait(client, key, 3) == (False, None)  # dropped: nobody is answered
    binding = {"TRANSPORT": "celery", "QUEUE": queue, "TIMEOUT": served.CALL_TIMEOUT}
    with override_settings(SEAMS_BINDINGS={"notifications": binding}):
        assert forward_event("notifications", handler, envelope) == "completed"  # not "duplicate": it never ran
    sent = served_shop.shop.client.get("/api/notifications/", headers=customer(email)).json()
    assert [m["subject"] for m in sent] == ["Your order #42 is confirmed"]


def test_a_forwarded_event_sent_the_previous_way_with_celerys_expires_still_runs(served_shop: served.ServedShop) -> None:
    """A sender of the previous version: Celery's ``expires``, no deadline header."""
    from celery import current_app

    email = f"{uuid.uuid4().hex[:8]}@example.com"
    task_id = uuid.uuid4().hex
    key = replies.key_for(task_id)
    current_app.send_task(
        RECEIVE_TASK_NAME, args=["notifications", "modules.notifications.handlers.email_order_confirmation", _confirmed_envelope(email)],
        kwargs={"token": issue("orders", "notifications"), "reply_to": key}, queue=served_shop.queues["notifications"],
        task_id=task_id, expires=30, ignore_result=True,
    )
    client = replies.reply_client(current_app)
    assert replies.wait(client, key, 10) == (True, {"outcome": "completed"})
