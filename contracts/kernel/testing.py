"""Testing helpers for Seams users (plain functions; pytest fixtures in ``pytest_plugin``).

* ``record_published()`` — what a block of code published::

      with record_published() as published:
          order_place(...)
      published.assert_one(OrderPlaced, customer_email="ada@example.com")

* ``deliver_pending()`` — deliver every open publication now, synchronously (outbox backend).
* ``write_completions()`` — write the completion marks the outbox still holds back (a handled
  publication stays ``processing`` up to ``COMPLETION_DELAY`` when its handler ran on another SQLite
  file), before reading publication statuses.
* ``override_contract(Catalog, FakeCatalog())`` — serve a contract with a fake that subclasses it.
* ``Scenario`` — for the Celery dispatch mode: stimulate, then wait (with a timeout) for an event of
  a type, or for a state change, then verify::

      order_id = Scenario(timeout=20).stimulate(place_order).wait_for(OrderConfirmed, lambda e: e.order_id == 1)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from django.db.models import Q
from django.utils import timezone

from .bus import recorders
from .contract import Contract
from .events import Envelope, Event, declared_events
from .registry import get_registry
from .resolution import reset_resolution_cache

E = TypeVar("E", bound=Event)


class PublishedEvents(list[Envelope]):
    """Envelopes published inside a ``record_published()`` block, in order."""

    def of_type(self, event_class: type[E]) -> list[E]:
        return [e.event for e in self if isinstance(e.event, event_class)]

    def types(self) -> list[str]:
        return [e.type for e in self]

    def assert_one(self, event_class: type[E], **fields: Any) -> E:
        """Exactly one event of this type whose fields equal ``fields``; returns it."""
        matches = [e for e in self.of_type(event_class) if all(getattr(e, k) == v for k, v in fields.items())]
        if len(matches) != 1:
            raise AssertionError(f"expected one {event_class.__name__} with {fields}, got {len(matches)}; published: {self.types()}")
        return matches[0]

    def assert_none(self, event_class: type[Event] | None = None) -> None:
        found = self.types() if event_class is None else [e.event_type for e in self.of_type(event_class)]
        if found:
            raise AssertionError(f"expected no {event_class.__name__ if event_class else ''} events, got {found}")


@contextmanager
def record_published() -> Iterator[PublishedEvents]:
    published = PublishedEvents()
    token = recorders.set((*recorders.get(), published))
    try:
        yield published
    finally:
        recorders.reset(token)


@contextmanager
def override_contract(contract: type[Contract], fake: Contract) -> Iterator[Contract]:
    """Serve ``contract`` with ``fake`` (an instance of a subclass of it) inside the block."""
    if not isinstance(fake, contract):
        raise TypeError(f"A fake for {contract.__name__} must subclass it: class Fake{contract.__name__}({contract.__name__})")
    registry = get_registry()
    previous = registry.overrides.get(contract)
    registry.overrides[contract] = fake
    reset_resolution_cache()
    try:
        yield fake
    finally:
        if previous is None:
            registry.overrides.pop(contract, None)
        else:
            registry.overrides[contract] = previous
        reset_resolution_cache()


def write_completions() -> None:
    """Write now the completion marks of handled publications this process still holds back
    (``contracts.kernel.outbox.completions``): afterwards each shows ``completed``."""
    from .outbox.completions import deferred

    deferred.flush()


def deliver_pending(*, include_failed: bool = True, max_rounds: int = 100) -> int:
    """Process every open publication of every module database now, in this process, until none
    is left that can run (handlers may publish more). Returns how many were processed."""
    from .models import Publication, PublicationStatus
    from .outbox import module_aliases, process_publication

    statuses = [PublicationStatus.PENDING] + ([PublicationStatus.FAILED] if include_failed else [])
    write_completions()
    done = 0
    for _ in range(max_rounds):
        progressed = 0
        for alias in module_aliases():
            ids = list(Publication.objects.using(alias).filter(status__in=statuses).order_by("position").values_list("pk", flat=True))
            if ids:
                Publication.objects.using(alias).filter(pk__in=ids).update(next_attempt_at=timezone.now())
            for pk in ids:
                if process_publication(alias, pk) != "not-claimed":
                    progressed += 1
        done += progressed
        if not progressed:
            return done
    raise AssertionError(f"events still pending after {max_rounds} rounds: a handler keeps publishing?")


class Scenario:
    """Stimulate, then wait for an event or a state change (events published by any process)."""

    def __init__(self, timeout: float = 10.0, poll: float = 0.1) -> None:
        self.timeout = timeout
        self.poll = poll
        self.started: datetime | None = None
        self.result: Any = None

    def stimulate(self, action: Callable[[], Any]) -> Scenario:
        self.started = timezone.now()
        self.result = action()
        return self

    def wait_for(self, event_class: type[E], matching: Callable[[E], bool] = lambda _: True) -> E:
        """The first event of this type published since ``stimulate`` that matches; fails on timeout."""
        from .models import Publication

        publisher_alias = get_publisher_alias(event_class)
        since = self.started or timezone.now()
        seen: set[int] = set()
        deadline = time.monotonic() + self.timeout
        while True:
            rows = Publication.objects.using(publisher_alias).filter(  # every publication holds its event
                Q(event_type=event_class.event_type, version=event_class.version, occurred_at__gte=since) & ~Q(position__in=seen)
            )
            for row in rows.order_by("position"):
                if row.position in seen:  # another publication of the same event
                    continue
                seen.add(row.position)
                event = declared_events[(row.event_type, row.version)].model_validate(row.payload)
                if matching(event):  # type: ignore[arg-type]
                    return event  # type: ignore[return-value]
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching {event_class.event_type} within {self.timeout}s")
            time.sleep(self.poll)

    def wait_until(self, condition: Callable[[], Any], description: str = "the condition") -> Any:
        """Poll ``condition`` until it returns something truthy; returns it; fails on timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{description} did not happen within {self.timeout}s")
            time.sleep(self.poll)


def get_publisher_alias(event_class: type[Event]) -> str:
    from .modules import get_module

    return get_module(event_class.publisher).database_alias
