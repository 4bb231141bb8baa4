"""Input field types of the public API that mean what their JSON Schema says.

``JsonInt`` is an integer as JSON Schema defines one: a number with no fractional part (``3`` and
``3.0``), never a boolean (``false`` is not 0) nor a string (``"3"``). Pydantic's lax ``int``
accepts booleans and numeric strings; its strict ``int`` refuses ``3.0``, which the OpenAPI
document (``type: integer``) allows: either way client and schema would disagree. Bounds go on
the field as usual (``Field(ge=0, le=...)``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

__all__ = ["JsonInt"]


def _integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Input should be an integer (not a boolean or a string).")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("Input should be a whole number.")
        return int(value)
    return value


JsonInt = Annotated[int, BeforeValidator(_integer)]
