"""The error bodies of the public API, as schemas, so each operation documents what it can answer.

Every error has one of two shapes: ``ErrorOut`` (``detail`` in words, a stable ``code``, optional
``details``; an ``error_id`` for a 500, to find the logged traceback) and ``ValidationErrorOut``
(422: ``detail`` is a list of ``{type, loc, msg}``, ``loc`` naming the field).
``error_responses(404, 409)`` is what a router adds to an operation's ``response`` for the business
errors it can raise; the API factory documents the generic ones (400, 401, 403, 413, 415, 422, 429,
500, 503) on every operation.
"""

from __future__ import annotations

from typing import Any

from ..schema import Schema

__all__ = ["ErrorOut", "ValidationErrorItem", "ValidationErrorOut", "error_responses"]


class ErrorOut(Schema):
    detail: str
    code: str | None = None
    details: dict[str, Any] | None = None
    error_id: str | None = None


class ValidationErrorItem(Schema):
    type: str
    loc: list[str | int]
    msg: str


class ValidationErrorOut(Schema):
    detail: list[ValidationErrorItem]


def error_responses(*statuses: int) -> dict[int, type[Schema]]:
    """``{status: schema}`` for ninja's ``response=``: 422 is a ValidationErrorOut, others ErrorOut."""
    return {status: ValidationErrorOut if status == 422 else ErrorOut for status in statuses}
