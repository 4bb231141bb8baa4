"""The public API's body parser: JSON only, bounded, and refused without a traceback.

django-ninja hands every request body to ``api.parser.parse_body`` and answers 400 ("Cannot parse
request body") for whatever it raises. This parser raises for more than malformed JSON:

* nesting deeper than ``MAX_DEPTH`` (a 100,000-deep array used to exhaust the recursion limit in
  ``json.loads`` and come back as a 500; ``RecursionError`` is caught too);
* a string holding a NUL character (PostgreSQL text cannot store it) or a lone surrogate (no
  database encoding can);
* a body over the size limit (the middleware refuses those first, from ``Content-Length``).

The media type is checked earlier, by :class:`extraction.publicapi.middleware.JsonOnlyMiddleware`
(415): ninja would turn anything raised here into a 400.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.parser import Parser

__all__ = ["MAX_DEPTH", "BodyRefused", "StrictJsonParser", "check_json_value", "max_body_bytes"]

#: Deeper documents are refused; the shop's deepest body is 3 levels.
MAX_DEPTH = 32
DEFAULT_MAX_BODY = 64 * 1024


class BodyRefused(ValueError):
    """The body is not JSON this API accepts; the message says why (safe to show)."""


def max_body_bytes() -> int:
    return int(getattr(settings, "SEAMS_API_MAX_BODY_BYTES", DEFAULT_MAX_BODY))


def check_json_value(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise BodyRefused for a document nested deeper than ``max_depth`` or holding an unstorable
    string. Iterative, so its own depth is bounded too."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_string(item)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise BodyRefused(f"The JSON document is nested deeper than {max_depth} levels.")
            if isinstance(item, dict):
                for key, member in item.items():
                    _check_string(key)
                    stack.append((member, depth + 1))
            else:
                stack.extend((member, depth + 1) for member in item)


def _check_string(text: str) -> None:
    if "\x00" in text:
        raise BodyRefused("Strings may not contain the NUL character.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BodyRefused("Strings may not contain lone surrogates.") from None


class StrictJsonParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        body = request.body
        if len(body) > max_body_bytes():
            raise BodyRefused(f"The body is larger than {max_body_bytes()} bytes.")
        try:
            data = json.loads(body)
        except RecursionError:
            raise BodyRefused(f"The JSON document is nested deeper than {MAX_DEPTH} levels.") from None
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise BodyRefused(f"The body is not valid JSON: {exc}") from None
        check_json_value(data)
        return data
