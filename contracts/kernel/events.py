"""``Event``: a typed, versioned fact that a module announces after its transaction commits.

Declare events in ``contracts/<module>.py``, named in the past tense::

    class OrderPlaced(Event):
        version: ClassVar[int] = 1
        key_field: ClassVar[str] = "order_id"   # events with the same key stay in order
        order_id: int
        customer_email: str

``Envelope`` is what travels: the event plus its identity and metadata. Handlers receive the event;
a handler that declares a second parameter also receives the envelope.

A breaking change to a payload is a new version of the same type, declared beside the old one
(``class OrderPlacedV2(Event): version = 2`` is ``orders.OrderPlaced`` v2), with converters between
adjacent versions (``contracts/kernel/upcasting.py``): each subscriber gets the version it declared.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .contract import family_name
from .schema import Schema

#: Every event type declared so far, by (type name, version).
declared_events: dict[tuple[str, int], type[Event]] = {}


class Event(Schema):
    """Base class of events."""

    event_type: ClassVar[str]
    version: ClassVar[int] = 1
    key_field: ClassVar[str | None] = None
    publisher: ClassVar[str]
    declared_in_contracts: ClassVar[bool]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        module = cls.__module__
        in_contracts = module.startswith("contracts.") and module.count(".") == 1
        explicit = "publisher" in cls.__dict__  # read before the line below puts it there
        owner = module.split(".", 1)[1] if in_contracts else cls.__dict__.get("publisher", module)
        cls.publisher = owner
        cls.declared_in_contracts = in_contracts or explicit
        if "event_type" not in cls.__dict__:
            # OrderPlacedV2 (version 2) is a version of OrderPlaced: one type, side by side.
            cls.event_type = f"{owner}.{family_name(cls.__name__, cls.version)}"
        if cls.key_field is not None and cls.key_field not in cls.model_fields:
            raise TypeError(f"{cls.__qualname__}.key_field names '{cls.key_field}', which is not a field")
        declared_events[(cls.event_type, cls.version)] = cls

    def event_key(self) -> str | None:
        """The ordering key: events with the same key reach each subscriber in order."""
        return None if self.key_field is None else str(getattr(self, self.key_field))


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


_new = object.__new__
_uuid4 = uuid.uuid4


@dataclass(frozen=True)
class Envelope:
    """An event on its way: identity, type, version, ordering key, payload and headers."""

    event: Event
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime.datetime = field(default_factory=utcnow)
    key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def fresh(cls, event: Event, key: str | None, headers: dict[str, str]) -> Envelope:
        """``Envelope(event=event, key=key, headers=headers)``: a new id, occurred now. Built without
        the frozen dataclass's ``__init__`` (an ``object.__setattr__`` call per field and a check per
        default factory: ~60 Python bytecodes, on every publish), its fields set in one
        ``dict.update``: the same instance, as frozen."""
        envelope = _new(cls)
        envelope.__dict__.update(event=event, id=_uuid4(), occurred_at=utcnow(), key=key, headers=headers)
        return envelope

    @property
    def type(self) -> str:
        return self.event.event_type

    @property
    def version(self) -> int:
        return self.event.version

    @property
    def publisher(self) -> str:
        return self.event.publisher

    def to_dict(self) -> dict[str, Any]:
        """The wire form (JSON-able)."""
        return {
            "id": str(self.id),
            "type": self.type,
            "version": self.version,
            "key": self.key,
            "occurred_at": self.occurred_at.isoformat(),
            "headers": dict(self.headers),
            "payload": self.event.model_dump(mode="json"),
        }
