"""contracts/kernel/types.py: which annotations may cross a contract boundary."""

import datetime
import decimal
import enum
import typing
import uuid
from typing import Annotated, Any, Literal, Optional, Union

import pydantic
import pytest
from django.contrib.auth.models import User

from contracts.kernel import Schema
from contracts.kernel.types import crossing_problems


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Size(enum.IntEnum):
    SMALL = 1


class Money(Schema):
    amount: decimal.Decimal
    currency: Literal["EUR", "USD"]


class Line(Schema):
    sku: str
    price: Money
    tags: list[str]


class Tree(Schema):
    """Refers to itself: the walk must stop."""

    label: str
    children: list["Tree"] = []


class Anything(Schema):
    payload: Any


class Leaky(Schema):
    inner: Anything


class Opaque:
    """An arbitrary class: no JSON form."""


ALLOWED = [
    int,
    float,
    str,
    bool,
    None,
    type(None),
    decimal.Decimal,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    Colour,
    Size,
    Money,
    Line,
    Tree,
    list[int],
    list[Line],
    tuple[int, str],
    tuple[int, ...],
    set[str],
    frozenset[uuid.UUID],
    dict[str, int],
    dict[str, list[Money]],
    typing.List[str],  # noqa: UP006  (the typing alias must work too)
    typing.Dict[str, Line],  # noqa: UP006
    Optional[int],  # noqa: UP045
    int | None,
    Union[int, str],  # noqa: UP007
    Line | None,
    Literal["a", "b"],
    Literal[1, 2, True, None],
    Literal[Colour.RED],
    Annotated[int, "metadata"],
    list[dict[str, Optional[datetime.date]]],  # noqa: UP045
]


@pytest.mark.parametrize("annotation", ALLOWED, ids=repr)
def test_every_allowed_type_crosses(annotation: object) -> None:
    assert crossing_problems(annotation, "f(x)") == []


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (Any, "'Any'/'object' has no fixed wire form"),
        (object, "'Any'/'object' has no fixed wire form"),
        (bytes, "bytes has no JSON form; send base64 text"),
        (User, "User cannot cross the network"),
        (Opaque, "Opaque cannot cross the network"),
        (list, "say what the list holds, e.g. list[str]"),
        (dict, "say what the dict holds, e.g. dict[str, int]"),
        (set, "say what the set holds"),
        (tuple, "say what the tuple holds"),
        (dict[float, int], "dict keys must be str, int, UUID or an Enum"),
        (dict[tuple[int, int], str], "dict keys must be str, int, UUID or an Enum"),
        (dict[Money, str], "dict keys must be str, int, UUID or an Enum"),
        (type[int], "is not a type that can cross the network"),
        (typing.Callable[[int], int], "is not a type that can cross the network"),
        (Literal[1.5], "Literal values must be str, int, bool or Enum members"),
    ],
    ids=repr,
)
def test_refused_types_say_why(annotation: object, expected: str) -> None:
    problems = crossing_problems(annotation, "Shop.buy(item)")
    assert len(problems) == 1, problems
    assert problems[0].startswith("Shop.buy(item): ")
    assert expected in problems[0]


def test_a_model_or_object_is_told_to_use_a_schema_dto() -> None:
    (problem,) = crossing_problems(User, "Users.get -> return")
    assert "Return a Schema DTO instead of a model or object" in problem
    assert "allowed are int, float, str" in problem


def test_problems_inside_containers_name_their_place() -> None:
    assert crossing_problems(list[bytes], "f(x)") == [
        "f(x)[item]: bytes has no JSON form; send base64 text (str) or a URL instead"
    ]
    (problem,) = crossing_problems(dict[str, Any], "f(x)")
    assert problem.startswith("f(x)[value]: 'Any'")


def test_a_union_reports_only_its_bad_members() -> None:
    (problem,) = crossing_problems(int | bytes | None, "f(x)")
    assert "bytes has no JSON form" in problem


def test_schema_fields_are_checked_recursively() -> None:
    (problem,) = crossing_problems(Leaky, "f -> return")
    assert problem.startswith("f -> return.inner.payload: 'Any'")


def test_a_plain_pydantic_model_is_allowed_like_a_schema() -> None:
    class Plain(pydantic.BaseModel):
        when: datetime.datetime

    assert crossing_problems(Plain, "f(x)") == []


def test_non_str_dict_keys_that_are_allowed_rebuild_from_json() -> None:
    """int, UUID and Enum keys are accepted because a JSON object key (a string) rebuilds them."""
    key = uuid.uuid4()
    for annotation, value in [
        (dict[int, str], {1: "a"}),
        (dict[uuid.UUID, str], {key: "a"}),
        (dict[Colour, int], {Colour.RED: 1}),
    ]:
        assert crossing_problems(annotation, "f(x)") == []
        adapter = pydantic.TypeAdapter(annotation)
        assert adapter.validate_json(adapter.dump_json(value)) == value
