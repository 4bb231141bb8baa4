"""The Celery transport without a broker: the wire form of every reference contract method, errors
crossing as the same class, the task's envelopes, and the client against a stand-in Celery app.

The real thing (a worker process, Redis) is in tests/integration/test_celery_transport.py.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import inspect
import json
import time
import types
import typing
import uuid
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

import pydantic
import pytest
from celery.exceptions import TimeoutError as CeleryTimeout
from celery.exceptions import WorkerLostError
from django.test.utils import override_settings
from kombu.exceptions import OperationalError

from app.celery import celery_app
from contracts.catalog import Catalog, ProductDTO, ProductNotFound
from contracts.inventory import StockNotFound
from contracts.kernel import (
    ConfigurationError,
    Conflict,
    Contract,
    ContractError,
    ContractViolation,
    Invalid,
    NotFound,
    Schema,
    ServiceUnavailable,
    Undeliverable,
    use,
)
from contracts.kernel.contract import declared_contracts
from contracts.kernel.testing import override_contract
from contracts.orders import OrderNotFound
from extraction import wire
from extraction.celery import TASK_NAME, CeleryTransport, call_contract
from extraction.celery.client import CeleryChannel, channel_of, forward_event
from extraction.celery.tasks import RECEIVE_TASK_NAME, receive_forwarded_event
from extraction.wire import TransportUnavailable
from tests.support.identity import service_token
from tests.support.tracing import TRACE_ID, TRACEPARENT, current_trace, in_trace, trace_of


def ORDERS_TOKEN() -> str:  # noqa: N802
    """orders consumes Catalog: a caller the worker lets in."""
    return service_token("orders", "catalog")


# --- sample values for any annotation that may cross a boundary ---------------------------------------


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


def sample(annotation: Any) -> Any:
    """A typical, non-trivial value of ``annotation`` (one that JSON alone would not rebuild)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation in (None, type(None)):
        return None
    if origin is Annotated:
        return sample(args[0])
    if origin is Literal:
        return args[-1]
    if origin in (typing.Union, types.UnionType):
        return sample(next(a for a in args if a is not type(None)))
    if origin is list:
        return [sample(args[0]), sample(args[0])]
    if origin is tuple:
        return (sample(args[0]),) * 2 if len(args) == 2 and args[1] is Ellipsis else tuple(sample(a) for a in args)
    if origin in (set, frozenset):
        return origin({sample(args[0])})
    if origin is dict:
        return {sample(args[0]): sample(args[1])}
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation(**{name: sample(field.annotation) for name, field in annotation.model_fields.items()})
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return list(annotation)[-1]
    return {
        bool: True,
        int: 42,
        float: 2.5,
        str: "KB-101",
        decimal.Decimal: decimal.Decimal("19.90"),
        datetime.datetime: datetime.datetime(2024, 5, 17, 9, 30, 15, 250000, tzinfo=datetime.UTC),
        datetime.date: datetime.date(2024, 2, 29),
        datetime.time: datetime.time(23, 59, 1),
        datetime.timedelta: datetime.timedelta(days=1, seconds=3, microseconds=5),
        uuid.UUID: uuid.UUID("12345678-1234-5678-1234-567812345678"),
    }[annotation]


def reference_methods() -> list[tuple[type[Contract], str]]:
    """Every method of every contract declared in contracts/<module>.py."""
    return [
        (contract, method)
        for name, contract in sorted(declared_contracts.items())
        if contract.__module__ == f"contracts.{contract.__seams_module__}"
        for method in contract.__seams_methods__
    ]


def through_json(value: Any) -> Any:
    """What the other side receives: Celery's JSON serializer in both directions."""
    return json.loads(json.dumps(value))


def same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


# --- the wire form ----------------------------------------------------------------------------------


def test_the_reference_contracts_are_all_covered() -> None:
    names = {f"{c.__seams_name__}.{m}" for c, m in reference_methods()}
    assert {"catalog.Catalog.get_product", "catalog.Catalog.get_products", "inventory.Inventory.get_stock",
            "orders.Orders.get_order"} <= names


@pytest.mark.parametrize(("contract", "method"), reference_methods(), ids=lambda v: getattr(v, "__seams_name__", v))
def test_every_reference_method_round_trips_arguments_and_result(contract: type[Contract], method: str) -> None:
    spec = contract.__seams_methods__[method]
    arguments = {p.name: sample(spec.hints[p.name]) for p in spec.parameters}
    sent = through_json(wire.encode_arguments(contract, method, arguments))
    received = wire.decode_arguments(contract, method, sent)
    assert received == arguments
    assert all(same(received[k], arguments[k]) for k in arguments)

    result = sample(spec.hints["return"])
    answered = wire.decode_result(contract, method, through_json(wire.encode_result(contract, method, result)))
    assert same(answered, result)
    if isinstance(result, list):
        assert all(same(a, r) for a, r in zip(answered, result, strict=True))


class Line(Schema):
    amount: decimal.Decimal
    at: datetime.datetime
    ref: uuid.UUID
    colour: Colour
    tags: frozenset[str]
    note: str | None = None


@pytest.fixture
def everything() -> type[Contract]:
    """A contract using every type that may cross (forgotten after the test)."""

    class Everything(Contract, module="wiretest"):
        def echo(
            self,
            amount: decimal.Decimal,
            when: datetime.datetime,
            day: datetime.date,
            clock: datetime.time,
            span: datetime.timedelta,
            ref: uuid.UUID,
            colour: Colour,
            line: Line,
            pair: tuple[int, str],
            many: tuple[float, ...],
            unique: set[int],
            by_id: dict[uuid.UUID, Line],
            by_number: dict[int, list[Colour]],
            either: int | str,
            status: Literal["open", "closed"],
            maybe: Line | None = None,
            flag: bool = False,
        ) -> dict[str, list[Line]]: ...

        def nothing(self) -> None: ...

    return Everything


def test_every_crossing_type_round_trips(everything: type[Contract]) -> None:
    spec = everything.__seams_methods__["echo"]
    arguments = {p.name: sample(spec.hints[p.name]) for p in spec.parameters}
    arguments["either"] = "7"  # a str that looks like an int stays a str
    received = wire.decode_arguments(everything, "echo", through_json(wire.encode_arguments(everything, "echo", arguments)))
    assert received == arguments
    for name, value in arguments.items():
        assert same(received[name], value), name
    result = sample(spec.hints["return"])
    assert wire.decode_result(everything, "echo", through_json(wire.encode_result(everything, "echo", result))) == result
    assert wire.decode_result(everything, "nothing", through_json(wire.encode_result(everything, "nothing", None))) is None


def test_omitted_defaults_are_filled_on_the_serving_side(everything: type[Contract]) -> None:
    spec = everything.__seams_methods__["echo"]
    arguments = {p.name: sample(spec.hints[p.name]) for p in spec.parameters if p.default is inspect.Parameter.empty}
    sent = wire.encode_arguments(everything, "echo", arguments)
    assert "flag" not in sent and "maybe" not in sent
    received = wire.decode_arguments(everything, "echo", through_json(sent))
    assert received["flag"] is False and received["maybe"] is None


def test_arguments_that_do_not_match_the_declaration_are_refused_before_sending() -> None:
    with pytest.raises(ContractViolation, match=r"catalog.Catalog.get_product\(sku: Input should be a valid string"):
        wire.encode_arguments(Catalog, "get_product", {"sku": 101})
    with pytest.raises(ContractViolation, match="missing a required argument"):
        wire.bind_arguments(Catalog, "get_product", (), {})
    with pytest.raises(ContractViolation, match="unexpected keyword"):
        wire.bind_arguments(Catalog, "get_product", (), {"sku": "a", "colour": "red"})
    assert wire.bind_arguments(Catalog, "get_products", (["a", "b"],), {}) == {"skus": ["a", "b"]}


def test_the_serving_side_decodes_strictly() -> None:
    with pytest.raises(ContractViolation, match="valid string"):
        wire.decode_arguments(Catalog, "get_product", {"sku": 1})
    with pytest.raises(ContractViolation, match="Extra inputs"):
        wire.decode_arguments(Catalog, "get_product", {"sku": "a", "extra": 1})
    with pytest.raises(ContractViolation, match="valid integer"):  # "1" is never taken for 1
        wire.decode_result(Catalog, "get_product", {"sku": "a", "name": "b", "price_cents": "1"})
    with pytest.raises(ContractViolation, match="return"):
        wire.encode_result(Catalog, "get_product", {"sku": "a", "name": "b", "price_cents": 1.5})


# --- errors -----------------------------------------------------------------------------------------


class WithOwnConstructor(Conflict):
    """A contract error whose constructor does not take (message, **details)."""

    def __init__(self, sku: str, wanted: int) -> None:
        super().__init__(f"{sku}: {wanted} wanted", sku=sku, wanted=wanted)


ERRORS = [
    ProductNotFound("No product has SKU 'X'.", sku="X"),
    StockNotFound("No stock is recorded for SKU 'X'.", sku="X"),
    OrderNotFound("No order has id 7.", order_id=7),
    NotFound("gone"),
    Conflict("twice", key="k"),
    Invalid("too many", field=["lines", 0, "quantity"]),
    ServiceUnavailable("later"),
    TransportUnavailable("no worker", module="catalog", queue="seams.rpc.catalog"),
    WithOwnConstructor("KB-101", 3),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: e.code)
def test_contract_errors_come_back_as_the_same_class(error: ContractError) -> None:
    rebuilt = wire.error_from_wire(through_json(wire.error_to_wire(error)))
    assert type(rebuilt) is type(error)
    assert (rebuilt.code, rebuilt.message, rebuilt.details) == (error.code, error.message, error.details)
    if isinstance(error, Invalid):
        assert rebuilt.field == ["lines", 0, "quantity"]


def test_an_unknown_code_becomes_its_kind_and_keeps_the_code() -> None:
    wired = {"code": "catalog.ProductRetired", "message": "retired", "details": {"sku": "X"}, "kind": "seams.NotFound"}
    rebuilt = wire.error_from_wire(wired)
    assert type(rebuilt) is NotFound and rebuilt.code == "catalog.ProductRetired" and rebuilt.details == {"sku": "X"}
    assert type(wire.error_from_wire({"code": "x.Y", "message": "?"})) is ContractError


def test_details_that_are_not_json_are_made_json() -> None:
    error = Conflict("dup", amount=decimal.Decimal("1.5"), ref=uuid.UUID(int=1), thing=object())
    wired = through_json(wire.error_to_wire(error))
    assert wired["details"]["amount"] == "1.5" and wired["details"]["ref"] == str(uuid.UUID(int=1))
    assert wired["kind"] == "seams.Conflict"


def test_a_violation_comes_back_as_a_contract_violation() -> None:
    rebuilt = wire.error_from_wire(through_json(wire.violation_to_wire("bad", method="get_product")))
    assert isinstance(rebuilt, ContractViolation) and str(rebuilt) == "bad"


# --- the task, called in this process ------------------------------------------------------------------


class FakeCatalog(Catalog):
    def __init__(self) -> None:
        self.traces: list[str | None] = []
        self.broken: Exception | None = None
        self.returns: Any = None

    def get_product(self, sku: str) -> ProductDTO:
        self.traces.append(current_trace())
        if self.broken is not None:
            raise self.broken
        if self.returns is not None:
            return self.returns
        if sku == "missing":
            raise ProductNotFound(f"No product has SKU '{sku}'.", sku=sku)
        return ProductDTO(sku=sku, name=f"Product {sku}", price_cents=4999)

    def get_products(self, skus: list[str]) -> list[ProductDTO]:
        return [self.get_product(sku) for sku in skus]


@pytest.fixture
def fake_catalog() -> Iterator[FakeCatalog]:
    with override_contract(Catalog, FakeCatalog()) as fake:
        yield fake  # type: ignore[misc]


def test_the_task_answers_ok_with_the_result_as_json(fake_catalog: FakeCatalog) -> None:
    answer = call_contract("catalog.Catalog", "get_products", {"skus": ["KB-101", "MS-202"]}, {"traceparent": TRACEPARENT},
                           token=ORDERS_TOKEN())
    assert answer == {"ok": [{"sku": "KB-101", "name": "Product KB-101", "price_cents": 4999},
                             {"sku": "MS-202", "name": "Product MS-202", "price_cents": 4999}]}
    assert through_json(answer) == answer
    assert fake_catalog.traces == [TRACE_ID, TRACE_ID]  # the caller's trace, continued on the worker
    assert current_trace() is None


def test_a_bare_trace_id_from_an_older_caller_is_ignored(fake_catalog: FakeCatalog) -> None:
    assert "ok" in call_contract("catalog.Catalog", "get_product", {"sku": "KB-101"}, "0123456789abcdef", token=ORDERS_TOKEN())
    assert fake_catalog.traces[0] not in (None, "0123456789abcdef")  # a trace of its own


def test_the_task_answers_a_contract_error_as_an_error_never_a_failure(fake_catalog: FakeCatalog) -> None:
    answer = call_contract("catalog.Catalog", "get_product", {"sku": "missing"}, None, token=ORDERS_TOKEN())
    assert answer == {"error": {"code": "catalog.ProductNotFound", "message": "No product has SKU 'missing'.",
                                "details": {"sku": "missing"}, "kind": "seams.NotFound"}}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"sku": 7}, "valid string"), ({}, "Field required"), ({"sku": "a", "more": 1}, "Extra inputs")],
)
def test_the_task_refuses_arguments_that_do_not_match(fake_catalog: FakeCatalog, arguments: dict[str, Any], message: str) -> None:
    error = call_contract("catalog.Catalog", "get_product", arguments, None, token=ORDERS_TOKEN())["error"]
    assert error["code"] == wire.VIOLATION_CODE and message in error["message"]
    assert fake_catalog.traces == []  # never called


def test_a_call_taken_after_its_deadline_is_dropped_unrun(fake_catalog: FakeCatalog) -> None:
    assert call_contract("catalog.Catalog", "get_product", {"sku": "KB-101"}, "t", time.time() - 1, token=ORDERS_TOKEN()) is None
    assert fake_catalog.traces == []
    assert call_contract("catalog.Catalog", "get_product", {"sku": "KB-101"}, "t", time.time() + 30, token=ORDERS_TOKEN())["ok"]


def test_the_task_refuses_a_result_that_does_not_match(fake_catalog: FakeCatalog) -> None:
    fake_catalog.returns = {"sku": "a", "name": "b", "price_cents": 1}  # a look-alike, not a ProductDTO
    error = call_contract("catalog.Catalog", "get_product", {"sku": "a"}, None, token=ORDERS_TOKEN())["error"]
    assert error["code"] == wire.VIOLATION_CODE and "declaration does not allow" in error["message"]
    # The offending value stays in the worker's log: the answer names the method and an error id.
    assert "price_cents" not in json.dumps(error) and len(error["details"]["error_id"]) == 32


def test_an_unexpected_exception_is_answered_with_an_error_id_only(fake_catalog: FakeCatalog, caplog: pytest.LogCaptureFixture) -> None:
    fake_catalog.broken = ZeroDivisionError("division by zero at db.internal:5432")
    error = call_contract("catalog.Catalog", "get_product", {"sku": "a"}, "t-2", token=ORDERS_TOKEN())["error"]
    assert error["code"] == wire.INTERNAL_ERROR_CODE and error["kind"] == "seams.ServiceUnavailable"
    for leak in ("ZeroDivisionError", "division by zero", "db.internal"):
        assert leak not in json.dumps(error)
    error_id = error["details"]["error_id"]
    assert error_id in error["message"]
    # The worker's log has the exception and its traceback under the same id.
    (record,) = [r for r in caplog.records if getattr(r, "error_id", None) == error_id]
    assert "failed on this worker" in record.getMessage() and record.exc_info is not None
    assert "db.internal:5432" in str(record.exc_info[1])
    rebuilt = wire.error_from_wire(error)
    assert isinstance(rebuilt, TransportUnavailable) and rebuilt.details["error_id"] == error_id


def test_the_task_names_what_it_cannot_serve() -> None:
    unknown = f"nowhere{uuid.uuid4().hex[:6]}.Nothing"
    error = call_contract(unknown, "charge", {}, None, token=ORDERS_TOKEN())["error"]
    assert error["code"] == TransportUnavailable.code and f"does not know the contract {unknown}" in error["message"]
    error = call_contract("catalog.Catalog", "delete_everything", {}, None, token=ORDERS_TOKEN())["error"]
    assert error["code"] == wire.VIOLATION_CODE and "no method 'delete_everything'" in error["message"]


def test_the_project_celery_app_registers_the_task() -> None:
    celery_app.loader.import_default_modules()  # what a worker does at start-up (autodiscovery)
    assert celery_app.tasks[TASK_NAME].name == TASK_NAME
    assert celery_app.tasks[TASK_NAME].ignore_result is False


# --- the client, against a stand-in Celery app ---------------------------------------------------------


class StandInResult:
    def __init__(self, get: Callable[[], Any]) -> None:
        self._get = get
        self.get_kwargs: dict[str, Any] = {}
        self.forgotten = False

    def get(self, **kwargs: Any) -> Any:
        self.get_kwargs = kwargs
        return self._get()

    def forget(self) -> None:
        self.forgotten = True


class StandInApp:
    """Records what would be sent; answers by running the task here (through JSON), or as told."""

    class conf:  # noqa: N801
        broker_url = "redis://:secret@broker.example:6379/0"
        result_backend = "redis://broker.example:6379/1"

    #: Not a Redis result backend: answers come back as the task's result (no reply key).
    backend = None

    def __init__(self, answer: Callable[[list[Any]], Any] | None = None, send_error: Exception | None = None) -> None:
        self.sent: list[tuple[str, list[Any], dict[str, Any]]] = []
        self.results: list[StandInResult] = []
        self.answer = answer
        self.send_error = send_error

    def send_task(self, name: str, args: list[Any], **options: Any) -> StandInResult:
        if self.send_error is not None:
            raise self.send_error
        self.sent.append((name, args, options))
        if self.answer is None:  # run the task here, with the token the client put in the message
            kwargs = through_json(options.get("kwargs", {}))
            result = StandInResult(lambda: through_json(call_contract(*through_json(args), **kwargs)))
        else:
            answer = self.answer
            result = StandInResult(lambda: answer(args))
        self.results.append(result)
        return result


BINDING = {"TRANSPORT": "celery", "QUEUE": "seams.rpc.catalog", "TIMEOUT": "3", "CALLER": "orders"}


def remote(app: StandInApp, binding: dict[str, str] = BINDING) -> Catalog:
    return CeleryTransport(contract=Catalog, binding=binding, app=app)  # type: ignore[arg-type,return-value]


def raising(exc: Exception) -> Callable[[list[Any]], Any]:
    def answer(args: list[Any]) -> Any:
        raise exc

    return answer


def test_the_client_is_the_contract_and_sends_one_task_per_call(fake_catalog: FakeCatalog) -> None:
    app = StandInApp()
    catalog = remote(app)
    assert isinstance(catalog, Catalog) and "seams.rpc.catalog" in repr(catalog)
    with in_trace():
        product = catalog.get_product("KB-101")
    assert product == ProductDTO(sku="KB-101", name="Product KB-101", price_cents=4999) and type(product) is ProductDTO
    (name, args, options), = app.sent
    assert name == TASK_NAME == "seams.call_contract"
    assert args[:3] == ["catalog.Catalog", "get_product", {"sku": "KB-101"}] and trace_of(args[3]) == TRACE_ID
    assert 0 < args[4] - time.time() <= 3.0  # the caller's deadline travels with the call
    assert options["queue"] == "seams.rpc.catalog" and "expires" not in options
    result = app.results[0]
    assert result.get_kwargs["disable_sync_subtasks"] is False and 0 < result.get_kwargs["timeout"] <= 3.0
    assert not result.forgotten  # no extra round trip: results expire on their own
    assert fake_catalog.traces == [TRACE_ID]


def test_the_message_headers_show_the_call_but_neither_its_arguments_nor_its_token(fake_catalog: FakeCatalog) -> None:
    """Celery copies a repr of the arguments into the headers (``argsrepr``, ``kwargsrepr``) that its
    worker logs and its monitors print: the client names the call instead, and redacts the token."""
    app = StandInApp()
    remote(app).get_product("KB-101")
    (_, args, options), = app.sent
    assert options["argsrepr"] == "catalog.Catalog.get_product" and "KB-101" not in options["argsrepr"]
    token = options["kwargs"]["token"]
    assert token and token not in options["kwargsrepr"] and "redacted" in options["kwargsrepr"]


def test_the_client_starts_a_trace_when_none_is_in_progress(fake_catalog: FakeCatalog) -> None:
    app = StandInApp()
    remote(app).get_products(skus=["A"])
    sent = trace_of(app.sent[0][1][3])
    assert sent and len(sent) == 32 and fake_catalog.traces == [sent]


def test_the_client_raises_the_same_contract_error(fake_catalog: FakeCatalog) -> None:
    app = StandInApp()
    with pytest.raises(ProductNotFound) as caught:
        remote(app).get_product("missing")
    assert caught.value.details == {"sku": "missing"} and caught.value.message == "No product has SKU 'missing'."


def test_the_client_refuses_bad_arguments_without_sending() -> None:
    app = StandInApp()
    with pytest.raises(ContractViolation):
        remote(app).get_product(101)  # type: ignore[arg-type]
    with pytest.raises(ContractViolation):
        remote(app).get_products("KB-101")  # type: ignore[arg-type]
    assert app.sent == []


def test_no_answer_in_time_is_unavailable_naming_module_queue_and_cause() -> None:
    app = StandInApp(raising(CeleryTimeout("The operation timed out.")))
    with pytest.raises(TransportUnavailable) as caught:
        remote(app).get_product("KB-101")
    error = caught.value
    assert isinstance(error, ServiceUnavailable)
    assert "'catalog' module on Celery queue 'seams.rpc.catalog' did not answer within 3 s" in error.message
    assert error.details["module"] == "catalog" and error.details["queue"] == "seams.rpc.catalog"
    assert error.details["cause"].startswith("TimeoutError")


def test_an_unreachable_broker_is_unavailable_and_hides_the_password() -> None:
    app = StandInApp(send_error=OperationalError("Error 111 connecting to broker.example:6379. Connection refused."))
    with pytest.raises(TransportUnavailable) as caught:
        remote(app).get_product("KB-101")
    message = caught.value.message
    assert "the call was not sent" in message and "Connection refused" in message
    assert "secret" not in message and "broker.example" in message
    assert caught.value.details["cause"].startswith("OperationalError")


@pytest.mark.parametrize(
    "answer",
    [raising(WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL).")), lambda args: "surprise",
     lambda args: {"neither": 1}],
    ids=["worker-lost", "not-a-dict", "no-ok-no-error"],
)
def test_a_failed_worker_or_an_answer_outside_the_protocol_is_unavailable(answer: Callable[[list[Any]], Any]) -> None:
    app = StandInApp(answer)
    with pytest.raises(TransportUnavailable, match="seams.rpc.catalog"):
        remote(app).get_product("KB-101")


def test_a_result_that_does_not_match_is_a_violation() -> None:
    app = StandInApp(lambda args: {"ok": {"sku": "a"}})
    with pytest.raises(ContractViolation, match="return"):
        remote(app).get_product("KB-101")


def test_the_binding_is_checked_and_defaults_apply() -> None:
    with pytest.raises(ConfigurationError, match="TIMEOUT='soon'"):
        remote(StandInApp(), {"TRANSPORT": "celery", "TIMEOUT": "soon"})
    with pytest.raises(ConfigurationError, match="positive"):
        remote(StandInApp(), {"TRANSPORT": "celery", "TIMEOUT": "0"})
    channel = channel_of(remote(StandInApp(), {"TRANSPORT": "celery"}))
    assert (channel.queue, channel.timeout) == ("seams.rpc.catalog", 5.0)


def test_use_returns_the_celery_client_when_the_module_is_bound_to_celery() -> None:
    with override_settings(SEAMS_BINDINGS={"catalog": {"TRANSPORT": "celery", "QUEUE": "q.catalog", "TIMEOUT": "2"}}):
        catalog = use(Catalog)
        assert isinstance(catalog, Catalog) and type(catalog).__name__ == "CeleryCatalog"
        channel = channel_of(catalog)
        assert isinstance(channel, CeleryChannel)
        assert (channel.queue, channel.timeout, channel.app) == ("q.catalog", 2.0, celery_app)


@pytest.fixture
def payments() -> Iterator[type[Contract]]:
    """A contract with a command (not a @query), served by a fake that counts charges."""

    class Payments(Contract, module="wiretest"):
        def charge(self, order_id: int, amount: decimal.Decimal, idempotency_key: str | None = None) -> uuid.UUID: ...

    class FakePayments(Payments):
        charges: list[tuple[int, decimal.Decimal, str | None]] = []

        def charge(self, order_id: int, amount: decimal.Decimal, idempotency_key: str | None = None) -> uuid.UUID:
            self.charges.append((order_id, amount, idempotency_key))
            return uuid.UUID(int=order_id)

    with override_contract(Payments, FakePayments()):
        yield Payments


@override_settings(SEAMS_ALLOWED_CALLERS={"wiretest.Payments": ["orders"]})  # a test contract: no manifest consumes it
def test_publishing_is_retried_only_for_calls_that_are_safe_to_repeat(fake_catalog: FakeCatalog, payments: type[Contract]) -> None:
    app = StandInApp()
    remote(app).get_product("KB-101")
    client = CeleryTransport(contract=payments, binding={"TRANSPORT": "celery", "CALLER": "orders"}, app=app)  # type: ignore[arg-type]
    assert client.charge(7, decimal.Decimal("25.00")) == uuid.UUID(int=7)  # type: ignore[attr-defined]
    client.charge(7, decimal.Decimal("25.00"), idempotency_key="order-7")  # type: ignore[attr-defined]
    assert [options["retry"] for _, _, options in app.sent] == [True, False, True]
    assert app.sent[1][1][2] == {"order_id": 7, "amount": "25.00"}  # Decimal as a string, default left out
    assert app.sent[1][1][0] == "wiretest.Payments"


def test_a_command_that_timed_out_may_or_may_not_have_taken_effect(payments: type[Contract]) -> None:
    app = StandInApp(raising(CeleryTimeout("The operation timed out.")))
    client = CeleryTransport(contract=payments, binding={"TRANSPORT": "celery", "QUEUE": "q"}, app=app)  # type: ignore[arg-type]
    with pytest.raises(TransportUnavailable, match="may or may not take effect"):
        client.charge(7, decimal.Decimal("1"))  # type: ignore[attr-defined]


# --- events forwarded to a module served by Celery workers -----------------------------------------

ENVELOPE = {
    "id": "5d3c1b2a-0000-4000-8000-000000000001",
    "type": "orders.OrderConfirmed",
    "version": 1,
    "key": "7",
    "payload": {"order_id": 7, "customer_email": "ada@example.com", "total_cents": 4999},
    "headers": {"traceparent": TRACEPARENT, "publisher": "orders"},
    "occurred_at": "2024-05-17T09:30:15.250000+00:00",
}
HANDLER = "modules.notifications.handlers.email_order_confirmation"


def forward(app: StandInApp, binding: dict[str, str] | None = None, subscriber: str = HANDLER) -> str:
    binding = binding or {"TRANSPORT": "celery", "QUEUE": "seams.rpc.notifications", "TIMEOUT": "2"}
    return forward_event(binding=binding, subscriber=subscriber, envelope=ENVELOPE, app=app)  # type: ignore[arg-type]


def test_the_kernel_finds_the_forwarder_on_the_transport() -> None:
    assert CeleryTransport.forward_event is forward_event  # type: ignore[attr-defined]


def test_forwarding_sends_the_envelope_to_the_module_queue_and_returns_the_outcome() -> None:
    app = StandInApp(lambda args: {"outcome": "duplicate"})
    assert forward(app) == "duplicate"
    (name, args, options), = app.sent
    assert name == RECEIVE_TASK_NAME == "seams.receive_event"
    assert args == ["notifications", HANDLER, ENVELOPE] and through_json(args) == args
    assert options["queue"] == "seams.rpc.notifications" and options["retry"] is True  # the inbox makes a repeat harmless
    assert app.results[0].get_kwargs["disable_sync_subtasks"] is False
    assert not app.results[0].forgotten  # no extra round trip: results expire on their own
    assert options["argsrepr"] == f"{HANDLER} <- {ENVELOPE['type']} {ENVELOPE['id']}"
    assert options["kwargs"]["token"] not in options["kwargsrepr"]  # the headers never carry the token


def test_forwarding_maps_the_answers() -> None:
    with pytest.raises(Undeliverable, match="unknown subscriber .*refused by the 'notifications' module"):
        forward(StandInApp(lambda args: {"undeliverable": "unknown subscriber"}))
    with pytest.raises(TransportUnavailable, match="failed on the worker: SMTPError: down") as caught:
        forward(StandInApp(lambda args: {"error": {"type": "SMTPError", "message": "down"}}))
    assert caught.value.details["error_type"] == "SMTPError" and caught.value.details["event_id"] == ENVELOPE["id"]
    with pytest.raises(TransportUnavailable, match="did not answer within 2 s"):
        forward(StandInApp(raising(CeleryTimeout("The operation timed out."))))
    with pytest.raises(TransportUnavailable, match="could not be reached"):
        forward(StandInApp(send_error=OperationalError("Connection refused.")))
    with pytest.raises(TransportUnavailable, match="outside the protocol"):
        forward(StandInApp(lambda args: {"outcome": "maybe"}))


def test_the_module_comes_from_the_binding_or_the_handler_name() -> None:
    app = StandInApp(lambda args: {"outcome": "completed"})
    forward(app, {"TRANSPORT": "celery", "MODULE": "mail"})
    assert app.sent[0][1][0] == "mail" and app.sent[0][2]["queue"] == "seams.rpc.mail"
    with pytest.raises(ConfigurationError, match="Cannot tell which module"):
        forward(app, {"TRANSPORT": "celery"}, subscriber="somewhere.else")


def test_the_receiving_task_refuses_what_it_cannot_serve() -> None:
    def token() -> str:  # one per message: a token is good for one
        return service_token("orders", "notifications")

    answer = receive_forwarded_event("notifications", "modules.inventory.handlers.reserve_stock", ENVELOPE, token=token())
    assert answer == {"undeliverable": "subscriber modules.inventory.handlers.reserve_stock belongs to module 'inventory', not to 'notifications'"}
    assert "no module installed here" in receive_forwarded_event("notifications", "elsewhere.handler", ENVELOPE, token=token())["undeliverable"]
    with override_settings(SEAMS_BINDINGS={"notifications": {"TRANSPORT": "celery"}}):
        answer = receive_forwarded_event("notifications", HANDLER, ENVELOPE, token=token())
    assert answer["error"]["type"] == "NotServedHere"


def test_redis_brokers_get_the_transport_that_survives_a_broker_outage() -> None:
    from extraction.celery.redis_transport import TRANSPORT, Transport, broker_transport

    assert broker_transport("redis://127.0.0.1:6379/0") == TRANSPORT
    assert broker_transport("REDISS://:secret@cache.example:6380/0") == TRANSPORT
    # Other brokers (and Sentinel, a different kombu transport) keep kombu's own choice.
    for url in ("amqp://guest@127.0.0.1:5672//", "sentinel://127.0.0.1:26379", "memory://", ""):
        assert broker_transport(url) is None, url
    from kombu.utils.imports import symbol_by_name

    assert symbol_by_name(TRANSPORT.replace(":", ".")) is Transport
    from django.conf import settings

    assert settings.CELERY_BROKER_TRANSPORT == broker_transport(settings.CELERY_BROKER_URL)


# --- replay protection: a token is good for one message ------------------------------------------------
def test_a_token_is_good_for_one_message_and_a_second_delivery_of_it_is_dropped(fake_catalog: FakeCatalog) -> None:
    token = ORDERS_TOKEN()
    args = ["catalog.Catalog", "get_product", {"sku": "KB-101"}, None, None]
    first = call_contract.apply(args=args, kwargs={"token": token}, task_id="message-1")
    assert "ok" in first.get()
    # The broker delivers the same message again (same task id): dropped unrun, no result stored over
    # the first delivery's answer.
    again = call_contract.apply(args=args, kwargs={"token": token}, task_id="message-1")
    assert again.state == "IGNORED"
    # The token copied into another message (a replay within its minute): refused like a bad token.
    replayed = call_contract.apply(args=args, kwargs={"token": token}, task_id="message-2").get()
    assert replayed["refused"]["status"] == 401 and "replayed" in replayed["refused"]["message"]
    assert len(fake_catalog.traces) == 1  # the implementation ran once


def test_an_event_token_replayed_in_another_message_is_refused_before_the_inbox() -> None:
    token = service_token("orders", "notifications")
    first = receive_forwarded_event.apply(args=["notifications", "elsewhere.handler", ENVELOPE], kwargs={"token": token}, task_id="e-1")
    assert "undeliverable" in first.get()
    replayed = receive_forwarded_event.apply(args=["notifications", HANDLER, ENVELOPE], kwargs={"token": token}, task_id="e-2").get()
    assert replayed["refused"]["status"] == 401
