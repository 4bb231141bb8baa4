"""Event versions side by side: converters between adjacent versions of one event type.

When a payload changes in a way that would break a subscriber, the publisher declares the next
version beside the old one (``class StockReservedV2(Event): version = 2``, the same event type)
and converters between the two, next to them in ``contracts/<module>.py``::

    @converts(StockReserved, StockReservedV2)      # an upcaster: v1 -> v2
    def _(old: StockReserved) -> StockReservedV2: ...

    @converts(StockReservedV2, StockReserved)      # a downcaster: v2 -> v1
    def _(new: StockReservedV2) -> StockReserved: ...

Each subscriber receives the version it declared (``@subscribe(StockReserved)`` gets v1, whatever
was published), converted one step at a time (v1 -> v2 -> v3). Where the conversion runs:

* in one process (inline or outbox delivery), right before the handler (``bus.run_subscriber``);
* across a cut, the *publisher* adds the payload of every older version it can downcast to when it
  forwards the event (``older_payloads``, the envelope's ``payloads``), because a subscriber
  deployed before v2 existed cannot know v2; the receiver picks the version its handler declared
  (``payload_for``), and upcasts when the publisher is the older side.

A missing step is never skipped or guessed: ``manage.py check`` reports it (``seams.E018``), and at
run time ``convert`` raises ``Undeliverable`` naming the converter to add (the outbox keeps the
event as a dead letter, to replay once it is added).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import Undeliverable
from .events import Event, declared_events

__all__ = [
    "Converter",
    "convert",
    "converters",
    "converts",
    "missing_steps",
    "older_payloads",
    "payload_for",
    "unknown_version",
]

E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class Converter:
    """One step: ``source`` (version n) to ``target`` (version n +/- 1) of the same event type."""

    source: type[Event]
    target: type[Event]
    function: Callable[[Any], Event]


#: Every converter declared so far, by (event type, from version, to version).
converters: dict[tuple[str, int, int], Converter] = {}


def converts(source: type[Event], target: type[Event]) -> Callable[[Callable[[E], Any]], Callable[[E], Any]]:
    """Decorator: the function turns a ``source`` event into a ``target`` event (adjacent versions
    of one event type: an upcaster when the target is newer, a downcaster when it is older)."""
    for cls in (source, target):
        if not (isinstance(cls, type) and issubclass(cls, Event) and cls is not Event):
            raise TypeError(f"@converts expects two Event classes, got {cls!r}")
    if source.event_type != target.event_type:
        raise TypeError(
            f"@converts({source.__name__}, {target.__name__}): they are different event types "
            f"({source.event_type}, {target.event_type}); converters join versions of one type"
        )
    if abs(source.version - target.version) != 1:
        raise TypeError(
            f"@converts({source.__name__}, {target.__name__}): v{source.version} -> v{target.version} skips a "
            f"version; declare one converter per step (v1 -> v2, v2 -> v3)"
        )

    def register(function: Callable[[E], Any]) -> Callable[[E], Any]:
        converters[(source.event_type, source.version, target.version)] = Converter(source, target, function)
        return function

    return register


def _step(event_type: str, version: int, towards: int) -> Converter:
    after = version + (1 if towards > version else -1)
    found = converters.get((event_type, version, after))
    if found is None:
        names = [declared_events.get((event_type, v)) for v in (version, after)]
        source, target = (n.__name__ if n is not None else f"<{event_type} v{v}>" for n, v in zip(names, (version, after), strict=True))
        owner = event_type.split(".", 1)[0]
        raise Undeliverable(
            f"{event_type} v{version} cannot be turned into v{towards}: no converter from v{version} to v{after}. "
            f"Add to contracts/{owner}.py: @converts({source}, {target}) def ...({source.lower()}: {source}) -> {target}"
        )
    return found


def convert(event: Event, target: type[E]) -> E:
    """``event`` as a ``target`` (another version of its type), one declared step at a time.

    The same version is returned unchanged. Raises ``Undeliverable`` when a step is missing and
    ``TypeError`` when a converter returns something else than the version it declared."""
    if event.version == target.version:
        return event  # type: ignore[return-value]
    if event.event_type != target.event_type:
        raise TypeError(f"cannot convert {event.event_type} into {target.event_type}: different event types")
    current: Event = event
    while current.version != target.version:
        step = _step(current.event_type, current.version, target.version)
        converted = step.function(current)
        if not isinstance(converted, step.target):
            raise TypeError(
                f"the converter {step.function.__qualname__} returned {type(converted).__name__}, "
                f"not {step.target.__name__} ({step.target.event_type} v{step.target.version})"
            )
        current = converted
    return current  # type: ignore[return-value]


def missing_steps(event_type: str, source: int, target: int) -> list[tuple[int, int]]:
    """The steps missing on the way from ``source`` to ``target`` (empty when it can be converted)."""
    direction = 1 if target > source else -1
    return [(v, v + direction) for v in range(source, target, direction) if (event_type, v, v + direction) not in converters]


def older_payloads(event_type: str, version: int, payload: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The publisher's side of a forward: the payload in every older version reachable by declared
    downcasters, by version (``{"1": {...}}``); empty (and nothing computed) when there is none."""
    if (event_type, version, version - 1) not in converters:
        return {}
    event_class = declared_events.get((event_type, version))
    if event_class is None:
        return {}
    current: Event = event_class.model_validate(payload)
    forms: dict[str, dict[str, Any]] = {}
    while (event_type, current.version, current.version - 1) in converters:
        current = convert(current, converters[(event_type, current.version, current.version - 1)].target)
        forms[str(current.version)] = current.model_dump(mode="json")
    return forms


def payload_for(wanted: int, version: int, payload: Any, payloads: Any) -> tuple[int, Any]:
    """The receiver's side of a forward: the (version, payload) to read for a handler that declared
    ``wanted``: the envelope's own when it is that version, else the publisher's downcast to it when
    the envelope carries one, else the envelope's own (upcast, or refused, by ``convert``)."""
    if wanted != version and isinstance(payloads, Mapping):
        chosen = payloads.get(str(wanted))
        if isinstance(chosen, dict):
            return wanted, chosen
    return version, payload


def unknown_version(event_type: str, version: int) -> str:
    """Why a receiver cannot read ``event_type`` v``version``, and what fixes it."""
    known = sorted(v for (t, v) in declared_events if t == event_type)
    if not known:
        return f"unknown event type {event_type} v{version}: no contract declares it in this process"
    listed = ", ".join(f"v{v}" for v in known)
    return (
        f"unknown version {event_type} v{version}: this process knows {listed}, and the envelope carries no payload "
        f"in those. The publisher must declare a downcaster from v{version} (@converts, docs/evolution.md) so that "
        f"its forwards carry the older versions too, or this side must be deployed with v{version}"
    )
