"""The kernel's public-API security: bearer tokens (JWT) validated locally, and the error shapes
the public API answers with.

Modules protect their routers with :class:`TokenAuth` (a django-ninja security class); the
composition root configures where the signing keys come from (``SEAMS_API_AUTH``, built by
:func:`api_auth_from_env`). Nothing here calls an identity provider per request: a token is checked
against keys held in memory (a JWKS document read from a file, or fetched from a URL and cached).
See docs/security.md, "Public API".
"""

from typing import TYPE_CHECKING

from ..lazy import lazy_exports
from .config import api_auth_from_env

if TYPE_CHECKING:
    from .bearer import TokenAuth
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


#: Imported when first asked for: settings modules import this package (``api_auth_from_env``),
#: and need neither JWT and cryptography (``devkeys``, ``tokens``), pydantic (``fields``,
#: ``responses``) nor django-ninja (``bearer``), whose settings are frozen when it is first imported.
__getattr__ = lazy_exports(
    __name__,
    {
        "TokenAuth": "bearer",
        "ensure_dev_keys": "devkeys",
        "issue_token": "devkeys",
        "JsonInt": "fields",
        "ErrorOut": "responses",
        "ValidationErrorOut": "responses",
        "error_responses": "responses",
        "InvalidToken": "tokens",
        "KeysUnavailable": "tokens",
        "Principal": "tokens",
        "verify_token": "tokens",
    },
)
