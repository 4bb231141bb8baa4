"""contracts/kernel/bus.py, publishing side: publish() and atomic() refuse what would lose or leak events."""

import re
from typing import ClassVar

import pytest
from django.db import connections, transaction
from django.test import override_settings

from contracts.kernel import (
    Envelope,
    Event,
    EventBackend,
    ModuleConfig,
    NotReady,
    UndeclaredDependency,
    UnknownName,
    atomic,
    publish,
)
from contracts.kernel.bus import event_backend
from contracts.kernel.registry import isolated_registry
from tests.support.tracing import TRACE_ID, in_trace, trace_of
from tests.unit.probe import services
from tests.unit.probe.events import ProbeHappened, ProbeUnlisted


class RecordingBackend(EventBackend):
    """An event backend that only remembers what it was handed."""

    handed: ClassVar[list[tuple[Envelope, str]]] = []

    def publish(self, envelope: Envelope, using: str) -> None:
        self.handed.append((envelope, using))


recording = override_settings(SEAMS_EVENT_BACKEND=f"{__name__}.RecordingBackend")


@pytest.fixture(autouse=True)
def _forget_handed() -> None:
    RecordingBackend.handed.clear()


class CatalogRumour(Event):
    """Declared for catalog, which does not list it in 'publishes'."""

    publisher = "catalog"
    sku: str


class Orphaned(Event):
    publisher = "nosuchmodule"
    n: int


def test_publish_takes_an_event_instance() -> None:
    with pytest.raises(TypeError, match="publish\\(\\) takes an Event instance, got dict"):
        publish({"type": "probe.ProbeHappened"})  # type: ignore[arg-type]


def test_publish_before_start_up_is_not_ready() -> None:
    with isolated_registry(), pytest.raises(NotReady, match="before Seams finished starting"):
        publish(CatalogRumour(sku="A"))


def test_an_event_of_an_unknown_module_cannot_be_published() -> None:
    with pytest.raises(UnknownName, match="No module is labelled 'nosuchmodule'"):
        publish(Orphaned(n=1))


def test_an_event_missing_from_publishes_is_refused_naming_the_manifest() -> None:
    with pytest.raises(UndeclaredDependency) as caught:
        publish(CatalogRumour(sku="A"))
    assert str(caught.value) == (
        f"Module 'catalog' published {CatalogRumour.event_type} without declaring it. Add CatalogRumour to "
        "'publishes' in modules/catalog/apps.py (CatalogConfig)."
    )


def test_an_unlisted_event_of_an_installed_module_is_refused(probe_module: ModuleConfig) -> None:
    with pytest.raises(UndeclaredDependency, match="Add ProbeUnlisted to 'publishes' in tests/unit/probe/apps.py"):
        publish(ProbeUnlisted(probe_id=1))


def test_a_module_cannot_publish_another_modules_event(probe_module: ModuleConfig) -> None:
    with pytest.raises(UndeclaredDependency) as caught:
        publish(ProbeHappened(probe_id=1), _caller="modules.catalog.services")
    assert "Module 'catalog' published probe.ProbeHappened, which belongs to 'probe'" in str(caught.value)
    assert "only the events declared in its own contracts/catalog.py" in str(caught.value)


def test_publish_outside_a_transaction_is_refused(probe_module: ModuleConfig) -> None:
    assert not connections["catalog"].in_atomic_block
    with pytest.raises(UndeclaredDependency) as caught:
        publish(ProbeHappened(probe_id=1))
    message = str(caught.value)
    assert "publish(ProbeHappened) must run inside the 'probe' module's transaction" in message
    assert "transaction.atomic(using='catalog')" in message


@pytest.mark.django_db(transaction=True, databases=["default"])
@recording
def test_a_transaction_on_another_alias_does_not_count(probe_module: ModuleConfig) -> None:
    with transaction.atomic(using="default"), pytest.raises(UndeclaredDependency, match="must run inside"):
        publish(ProbeHappened(probe_id=1))
    assert RecordingBackend.handed == []


@pytest.mark.django_db(databases=["catalog"])
@recording
def test_publish_hands_an_envelope_to_the_backend_on_the_publishers_alias(probe_module: ModuleConfig) -> None:
    assert isinstance(event_backend(), RecordingBackend)
    with transaction.atomic(using="catalog"):
        envelope = publish(ProbeHappened(probe_id=7, note="n"), headers={"tenant": "acme"})
    assert RecordingBackend.handed == [(envelope, "catalog")]
    assert envelope.event == ProbeHappened(probe_id=7, note="n")
    assert envelope.key == "7"
    assert envelope.type == "probe.ProbeHappened"
    assert envelope.headers["publisher"] == "probe"
    assert envelope.headers["tenant"] == "acme"
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", envelope.headers["traceparent"])  # the publish span


@pytest.mark.django_db(databases=["catalog"])
@recording
def test_publish_carries_the_current_trace(probe_module: ModuleConfig, spans: object) -> None:
    with in_trace():
        envelope = services.happen(1)
    assert trace_of(envelope.headers) == TRACE_ID
    assert trace_of(services.happen(2).headers) != TRACE_ID  # outside the trace: a trace of its own
    # The stored context is the publish span's, a child of the caller's.
    (published,) = [s for s in spans.get_finished_spans() if s.attributes.get("seams.event_id") == str(envelope.id)]
    assert published.name == "publish probe.ProbeHappened" and published.parent.span_id == 0x00F067AA0BA902B7
    assert envelope.headers["traceparent"].startswith(f"00-{TRACE_ID}-{published.context.span_id:016x}-")


@pytest.mark.django_db(databases=["catalog"])
@recording
def test_a_module_publishes_its_own_event_inside_its_atomic(probe_module: ModuleConfig) -> None:
    envelope = services.happen(3)
    assert RecordingBackend.handed == [(envelope, "catalog")]


@pytest.mark.django_db(transaction=True, databases=["default", "catalog"])
def test_atomic_opens_a_transaction_on_the_named_modules_alias(probe_module: ModuleConfig) -> None:
    with atomic("probe"):
        assert connections["catalog"].in_atomic_block
        assert not connections["default"].in_atomic_block
    with atomic("catalog", savepoint=False):
        assert connections["catalog"].in_atomic_block


def test_atomic_outside_a_module_needs_the_label() -> None:
    with pytest.raises(UndeclaredDependency, match=r"atomic\(\) outside a module needs the module label"):
        atomic()


def test_changing_the_backend_setting_replaces_the_cached_backend() -> None:
    before = type(event_backend())
    with recording:
        assert isinstance(event_backend(), RecordingBackend)
    assert type(event_backend()) is before
