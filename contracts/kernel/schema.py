"""``Schema``: the base for DTOs and events.

A plain pydantic model (django-ninja accepts it as a request/response schema), defined here so
that contract declarations import no web framework and load before Django settings exist.
"""

from __future__ import annotations

import pydantic


class Schema(pydantic.BaseModel):
    """Base class for data that crosses a module boundary (DTOs, event payloads)."""

    model_config = pydantic.ConfigDict(frozen=True)
