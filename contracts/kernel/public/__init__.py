"""The kernel's public-API security: bearer tokens (JWT) validated locally, and the error shapes
the public API answers with.

Modules protect their routers with :class:`TokenAuth` (a django-ninja security class); the
composition root configures where the signing keys come from (``SEAMS_API_AUTH``, built by
:func:`api_auth_from_env`). Nothing here calls an identity provider per request: a token is checked
against keys held in memory (a JWKS document read from a file, or fetched from a URL and cached).
See docs/security.md, "Public API".
"""

from typing import Any

from .config import api_auth_from_env
from .devkeys import ensure_dev_keys, issue_token
from .fields import JsonInt
from .responses import ErrorOut, ValidationErrorOut, error_responses
from .tokens import InvalidToken, KeysUnavailable, Principal, verify_token

__all__ = [
    "ErrorOut",
    "InvalidToken",
    "JsonInt",
    "KeysUnavailable",
    "Principal",
    "TokenAuth",
    "ValidationErrorOut",
    "api_auth_from_env",
    "ensure_dev_keys",
    "error_responses",
    "issue_token",
    "verify_token",
]


def __getattr__(name: str) -> Any:
    # TokenAuth needs django-ninja, whose settings are frozen when it is first imported: settings
    # modules import this package (api_auth_from_env), so ninja is imported only when asked for.
    if name == "TokenAuth":
        from .bearer import TokenAuth

        return TokenAuth
    raise AttributeError(name)
