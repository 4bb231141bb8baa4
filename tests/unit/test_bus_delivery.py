"""contracts/kernel/bus.py, delivering side: after commit only, each subscriber alone in its transaction."""

import logging
from collections.abc import Callable, Iterator

import pytest
from django.db import connections
from django.test import override_settings

from contracts.kernel import Envelope, ModuleConfig, subscribe
from contracts.kernel.bus import deliver, run_subscriber
from contracts.kernel.registry import Subscriber, isolated_registry
from modules.catalog.models import Product
from tests.support.tracing import current_trace
from tests.unit.probe import services
from tests.unit.probe.events import ProbeHappened

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "catalog"])


@pytest.fixture(autouse=True)
def _inline_backend() -> Iterator[None]:
    """The embedded backend, whatever the project's default is."""
    with override_settings(SEAMS_EVENT_BACKEND="contracts.kernel.bus.InlineEventBackend"):
        yield


def envelope_of(probe_id: int = 1) -> Envelope:
    event = ProbeHappened(probe_id=probe_id)
    return Envelope(event=event, key=event.event_key(), headers={"traceparent": f"00-{probe_id:032x}-{probe_id:016x}-01"})


def subscriber(handler: Callable[..., object], *, module: str = "catalog", wants_envelope: bool = False) -> Subscriber:
    return Subscriber(
        event=ProbeHappened, handler=handler, module=module, name=handler.__qualname__, wants_envelope=wants_envelope
    )


# --- run_subscriber ------------------------------------------------------------------------------
def test_a_subscriber_runs_in_a_transaction_on_its_modules_alias() -> None:
    seen: dict[str, object] = {}

    def handler(event: ProbeHappened) -> str:
        seen.update(
            event=event,
            catalog=connections["catalog"].in_atomic_block,
            default=connections["default"].in_atomic_block,
            trace=current_trace(),
        )
        return "done"

    envelope = envelope_of(4)
    assert run_subscriber(subscriber(handler), envelope) == "done"
    assert seen == {"event": envelope.event, "catalog": True, "default": False, "trace": f"{4:032x}"}
    assert current_trace() is None  # the envelope's trace is the handler's only
    assert not connections["catalog"].in_atomic_block


def test_a_subscriber_uses_the_database_its_manifest_names(probe_module: ModuleConfig) -> None:
    aliases = []
    run_subscriber(
        subscriber(lambda e: aliases.append(connections["catalog"].in_atomic_block), module="probe"), envelope_of()
    )
    assert probe_module.database_alias == "catalog"
    assert aliases == [True]


def test_a_two_parameter_handler_receives_the_envelope() -> None:
    received = []
    envelope = envelope_of()
    run_subscriber(subscriber(lambda event, env: received.append((event, env)), wants_envelope=True), envelope)
    assert received == [(envelope.event, envelope)]


def test_a_handler_with_keyword_options_is_called_with_the_event() -> None:
    received = []
    with isolated_registry() as registry:

        @subscribe(ProbeHappened, module="catalog")
        def on_probe(event: ProbeHappened, **options: object) -> None:
            received.append((event, options))

        (registered,) = registry.all_subscribers()
    envelope = envelope_of()
    run_subscriber(registered, envelope)
    assert received == [(envelope.event, {})]


def test_a_failing_subscriber_rolls_back_its_own_writes_only() -> None:
    def failing(event: ProbeHappened) -> None:
        Product.objects.create(sku="FAIL", name="rolled back", price_cents=1)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_subscriber(subscriber(failing), envelope_of())
    run_subscriber(subscriber(lambda e: Product.objects.create(sku="OK", name="kept", price_cents=1)), envelope_of())
    assert list(Product.objects.values_list("sku", flat=True)) == ["OK"]


# --- deliver -------------------------------------------------------------------------------------
def test_a_raising_subscriber_is_logged_and_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    with isolated_registry():

        @subscribe(ProbeHappened, module="catalog")
        def first(event: ProbeHappened) -> None:
            calls.append("first")

        @subscribe(ProbeHappened, module="catalog")
        def broken(event: ProbeHappened) -> None:
            calls.append("broken")
            raise ValueError("handler bug")

        @subscribe(ProbeHappened, module="catalog")
        def last(event: ProbeHappened) -> None:
            calls.append("last")

        envelope = envelope_of()
        with caplog.at_level(logging.ERROR, logger="seams.events"):
            deliver(envelope)

    assert calls == ["first", "broken", "last"]
    (record,) = [r for r in caplog.records if r.name == "seams.events"]
    assert record.levelno == logging.ERROR
    assert str(envelope.id) in record.getMessage()
    assert "probe.ProbeHappened" in record.getMessage()
    assert "broken" in record.getMessage()
    assert record.event_id == str(envelope.id)  # type: ignore[attr-defined]
    assert record.event_type == "probe.ProbeHappened"  # type: ignore[attr-defined]
    assert record.handler.endswith("broken")  # type: ignore[attr-defined]
    assert record.exc_info is not None and record.exc_info[0] is ValueError


def test_delivering_an_event_nobody_subscribes_to_does_nothing() -> None:
    with isolated_registry():
        deliver(envelope_of())


# --- publish -> InlineEventBackend -> deliver --------------------------------------------------------
@pytest.fixture
def delivered(probe_module: ModuleConfig) -> Iterator[list[tuple[int, bool]]]:
    """Subscribe to ProbeHappened in a fresh frozen registry; records (probe_id, publisher still in transaction)."""
    seen: list[tuple[int, bool]] = []
    with isolated_registry() as registry:

        @subscribe(ProbeHappened, module="catalog")
        def on_probe(event: ProbeHappened) -> None:
            seen.append((event.probe_id, connections["catalog"].in_atomic_block))

        registry.freeze()
        yield seen


def test_delivery_happens_only_after_the_publisher_commits(delivered: list[tuple[int, bool]]) -> None:
    def work() -> None:
        Product.objects.create(sku="P-1", name="published", price_cents=1)
        assert delivered == []  # published, not yet delivered

    services.happen(1, work=work)
    assert delivered == [(1, True)]  # after commit, in the subscriber's own transaction
    assert Product.objects.filter(sku="P-1").exists()


def test_nothing_is_delivered_when_the_publisher_rolls_back(delivered: list[tuple[int, bool]]) -> None:
    def work() -> None:
        Product.objects.create(sku="P-2", name="never", price_cents=1)
        raise RuntimeError("the work failed after publishing")

    with pytest.raises(RuntimeError):
        services.happen(2, work=work)
    assert delivered == []
    assert not Product.objects.filter(sku="P-2").exists()


def test_an_event_published_in_a_rolled_back_savepoint_is_never_delivered(delivered: list[tuple[int, bool]]) -> None:
    from django.db import transaction

    with transaction.atomic(using="catalog"):
        with pytest.raises(RuntimeError):
            services.happen(3, work=lambda: (_ for _ in ()).throw(RuntimeError("inner")))
        services.happen(4)
        assert delivered == []
    assert delivered == [(4, True)]


def test_a_failing_subscriber_affects_neither_publisher_nor_other_subscribers(
    probe_module: ModuleConfig, caplog: pytest.LogCaptureFixture
) -> None:
    later = []
    with isolated_registry() as registry:

        @subscribe(ProbeHappened, module="catalog")
        def broken(event: ProbeHappened) -> None:
            Product.objects.create(sku="FROM-HANDLER", name="rolled back", price_cents=1)
            raise RuntimeError("subscriber bug")

        @subscribe(ProbeHappened, module="catalog")
        def fine(event: ProbeHappened) -> None:
            later.append(event.probe_id)

        registry.freeze()
        with caplog.at_level(logging.ERROR, logger="seams.events"):
            envelope = services.happen(5, work=lambda: Product.objects.create(sku="P-5", name="kept", price_cents=1))

    assert later == [5]
    assert list(Product.objects.values_list("sku", flat=True)) == ["P-5"]
    assert [r.event_id for r in caplog.records if r.name == "seams.events"] == [str(envelope.id)]  # type: ignore[attr-defined]
