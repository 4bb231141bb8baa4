"""Which Python types may cross a contract boundary.

A contract may be served over HTTP or Celery later, so every parameter and return type must have
one obvious JSON form that rebuilds the same value on the other side. ``crossing_problems`` walks an
annotation and returns a human sentence for each part that cannot cross; an empty list means fine.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import types
import typing
import uuid

import pydantic

SCALARS: tuple[type, ...] = (
    int,
    float,
    str,
    bool,
    decimal.Decimal,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
)

ALLOWED_DESCRIPTION = (
    "int, float, str, bool, Decimal, datetime/date/time/timedelta, UUID, Enum, a Schema "
    "(pydantic model), None, and list/tuple/set/dict[str, ...]/Optional/Union/Literal of these"
)

_NONE_TYPES = (None, type(None))


def crossing_problems(annotation: object, where: str, _seen: set[type] | None = None) -> list[str]:
    """Return why ``annotation`` cannot cross a process boundary (empty list if it can)."""
    seen = _seen if _seen is not None else set()
    if annotation in _NONE_TYPES:
        return []
    if annotation is typing.Any or annotation is object:
        return [f"{where}: 'Any'/'object' has no fixed wire form; use a concrete type or a Schema"]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return crossing_problems(typing.get_args(annotation)[0], where, seen)
    if origin is typing.Literal:
        bad = [a for a in typing.get_args(annotation) if not isinstance(a, (str, int, bool, enum.Enum, type(None)))]
        return [f"{where}: Literal values must be str, int, bool or Enum members, not {bad!r}"] if bad else []
    if origin in (typing.Union, types.UnionType):
        problems: list[str] = []
        for arg in typing.get_args(annotation):
            problems += crossing_problems(arg, where, seen)
        return problems
    if origin in (list, tuple, set, frozenset):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if not args:
            return [f"{where}: say what the {origin.__name__} holds, e.g. {origin.__name__}[int]"]
        problems = []
        for arg in args:
            problems += crossing_problems(arg, f"{where}[item]", seen)
        return problems
    if origin is dict:
        args = typing.get_args(annotation)
        if len(args) != 2:
            return [f"{where}: say what the dict holds, e.g. dict[str, int]"]
        key, value = args
        problems = []
        if key not in (str, int, uuid.UUID) and not (isinstance(key, type) and issubclass(key, enum.Enum)):
            problems.append(f"{where}: dict keys must be str, int, UUID or an Enum (JSON object keys), not {key!r}")
        return problems + crossing_problems(value, f"{where}[value]", seen)
    if origin is not None:
        return [f"{where}: {annotation!r} is not a type that can cross the network ({ALLOWED_DESCRIPTION})"]
    if isinstance(annotation, type):
        if annotation in SCALARS or issubclass(annotation, enum.Enum):
            return []
        if issubclass(annotation, pydantic.BaseModel):
            if annotation in seen:
                return []
            seen.add(annotation)
            problems = []
            for name, field in annotation.model_fields.items():
                problems += crossing_problems(field.annotation, f"{where}.{name}", seen)
            return problems
        if annotation in (list, tuple, set, dict, frozenset):
            example = "dict[str, int]" if annotation is dict else f"{annotation.__name__}[str]"
            return [f"{where}: say what the {annotation.__name__} holds, e.g. {example}"]
        if annotation is bytes:
            return [f"{where}: bytes has no JSON form; send base64 text (str) or a URL instead"]
    return [
        f"{where}: {getattr(annotation, '__qualname__', annotation)!s} cannot cross the network; "
        f"allowed are {ALLOWED_DESCRIPTION}. Return a Schema DTO instead of a model or object"
    ]
