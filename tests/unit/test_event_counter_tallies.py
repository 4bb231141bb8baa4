"""The published and delivered counters are tallied per process (``telemetry.events.Tally``) and
folded into prometheus-client's counters whenever the default registry is collected (``/metrics``,
the console): what a scrape reads is exact. Pinned: every publish that commits counts once (with
subscribers or none, inline or by the outbox's own commit callback), a rolled-back one never; every
delivery counts once; a collection folds the tallies in; increments from many threads are all
kept; a counter whose value is shared between processes (multiprocess mode) is moved at once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings
from prometheus_client import REGISTRY, Counter, generate_latest

from contracts.kernel import ModuleConfig, atomic, publish, subscribe
from contracts.kernel.registry import isolated_registry
from contracts.kernel.telemetry.events import Tally, _adder, flush_tallies
from contracts.kernel.telemetry.metrics import EVENTS_DELIVERED, EVENTS_PUBLISHED
from contracts.kernel.testing import write_completions
from modules.notifications.models import SentEmail
from tests.support.metrics import delta, parse
from tests.unit.probe import services
from tests.unit.probe.events import ProbeHappened

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

OUTBOX = "contracts.kernel.outbox.OutboxEventBackend"
INLINE = "contracts.kernel.bus.InlineEventBackend"
EVENTS = {"DISPATCH": "inline", "COMPLETION_DELAY": 10}
PUBLISHED = "seams_events_published_total"
DELIVERED = "seams_events_delivered_total"
TYPE = ProbeHappened.event_type


def scrape() -> dict:
    return parse(generate_latest(REGISTRY).decode())


#: The subscriber's name (its module and qualified name), as the delivered counter labels it.
HANDLER = f"{__name__}.subscribed.<locals>.on_probe"


@pytest.fixture
def subscribed(probe_module: ModuleConfig) -> Iterator[list[int]]:
    seen: list[int] = []
    with isolated_registry() as registry:

        @subscribe(ProbeHappened, module="notifications")
        def on_probe(event: ProbeHappened) -> None:
            seen.append(event.probe_id)
            SentEmail.objects.create(event_id=uuid.uuid4(), recipient="a@example.com", subject="s", body="b")

        registry.freeze()
        assert [s.name for s in registry.subscribers_for(TYPE)] == [HANDLER]
        yield seen


@pytest.fixture
def unsubscribed(probe_module: ModuleConfig) -> Iterator[None]:
    with isolated_registry() as registry:
        registry.freeze()
        yield


def rolled_back(probe_id: int) -> None:
    class Undone(Exception):
        pass

    with pytest.raises(Undone), atomic("probe"):
        publish(ProbeHappened(probe_id=probe_id), _caller="tests.unit.probe.services")
        raise Undone


@pytest.mark.parametrize("backend", [OUTBOX, INLINE])
def test_what_commits_counts_once_published_and_once_delivered(subscribed: list[int], backend: str) -> None:
    with override_settings(SEAMS_EVENT_BACKEND=backend, SEAMS_EVENTS=EVENTS):
        before = scrape()
        for probe_id in range(1, 6):
            services.happen(probe_id)
        rolled_back(99)
        write_completions()
        change = delta(before, scrape())
    assert subscribed == [1, 2, 3, 4, 5]
    assert change(PUBLISHED, event_type=TYPE) == 5
    assert change(DELIVERED, event_type=TYPE, subscriber=HANDLER) == 5


@pytest.mark.parametrize("backend", [OUTBOX, INLINE])
def test_an_event_nobody_subscribes_to_counts_as_published_when_it_commits(unsubscribed: None, backend: str) -> None:
    with override_settings(SEAMS_EVENT_BACKEND=backend, SEAMS_EVENTS=EVENTS):
        before = scrape()
        services.happen(1)
        services.happen(2)
        rolled_back(3)
        assert delta(before, scrape())(PUBLISHED, event_type=TYPE) == 2


def test_a_tally_reaches_its_counter_when_the_registry_is_collected(subscribed: list[int]) -> None:
    child = EVENTS_PUBLISHED.labels(TYPE)
    with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS=EVENTS):
        flush_tallies()
        counted = child._value.get()
        services.happen(1)
        services.happen(2)
        write_completions()
        assert child._value.get() == counted  # tallied, not in the counter yet
        scrape()
        assert child._value.get() == counted + 2
        scrape()
        assert child._value.get() == counted + 2  # folded once


def test_increments_from_many_threads_are_all_kept() -> None:
    counter = Counter("tally_probe", "A counter of this test only.", ["n"], registry=None)
    child = counter.labels("x")
    tally = Tally(child)
    start = threading.Barrier(4)

    def count() -> None:
        start.wait()
        for _ in range(20_000):
            tally.add()

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for _ in range(50):  # folded while they count
        tally.flush()
    for thread in threads:
        thread.join()
    tally.flush()
    assert child._value.get() == 80_000 and tally.count == 0


class SharedValue:
    """What prometheus-client's multiprocess mode gives a labelled child (``MmapedValue``): a
    value a scrape reads from the files of every process, so it must be written at once."""

    _multiprocess = True

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float) -> None:
        self.value += amount


class SharedChild:
    def __init__(self) -> None:
        self._value = SharedValue()

    def inc(self, amount: float = 1) -> None:
        self._value.inc(amount)


def test_a_counter_shared_between_processes_moves_at_once() -> None:
    child = SharedChild()
    add = _adder(child)
    add()
    add()
    assert child._value.value == 2  # no tally: another process's scrape reads it now
    local: Any = Counter("tally_probe_local", "A counter of this test only.", registry=None)
    add = _adder(local)
    add()
    assert local._value.get() == 0
    flush_tallies()
    assert local._value.get() == 1


def test_the_delivered_counter_is_tallied_too(subscribed: list[int]) -> None:
    child = EVENTS_DELIVERED.labels(TYPE, HANDLER)
    with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS=EVENTS):
        flush_tallies()
        counted = child._value.get()
        services.happen(7)
        write_completions()
        assert subscribed == [7] and child._value.get() == counted
        scrape()
        assert child._value.get() == counted + 1
