"""``TokenAuth``: the django-ninja security class that protects public endpoints with a bearer JWT.

Use it per router or per operation::

    router = Router(auth=TokenAuth(scopes=["shop:staff"]))

* no ``Authorization: Bearer`` header, or a token that fails :func:`verify_token` → 401 (with
  ``WWW-Authenticate: Bearer``); nothing else runs;
* a valid token without every required scope, or without an email address when
  ``require_email`` → 403;
* otherwise ``request.auth`` is the :class:`Principal`.

Cookies play no part: a browser attaches cookies to a cross-site request by itself, never an
``Authorization`` header, so a page on another site cannot act for a visitor (no CSRF).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.http import HttpRequest
from ninja.errors import AuthorizationError
from ninja.security import HttpBearer

from .tokens import InvalidToken, Principal, verify_token

__all__ = ["TokenAuth"]

logger = logging.getLogger("seams.api.auth")


class TokenAuth(HttpBearer):
    """Bearer JWT checked locally; ``scopes`` all required; ``require_email`` for customer endpoints."""

    openapi_bearerFormat = "JWT"

    def __init__(self, *, scopes: Iterable[str] = (), require_email: bool = False) -> None:
        super().__init__()
        self.scopes = frozenset(scopes)
        self.require_email = require_email

    def __call__(self, request: HttpRequest) -> Principal | None:
        # Not HttpBearer.__call__: that one logs a malformed header, token included, under DEBUG.
        scheme, _, token = (request.headers.get(self.header) or "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Principal | None:
        try:
            principal = verify_token(token)
        except InvalidToken as exc:
            logger.info("Refused a bearer token: %s", exc)
            return None
        missing = self.scopes - principal.scopes
        if missing:
            raise AuthorizationError(message=f"This token lacks the scope {' '.join(sorted(missing))}.")
        if self.require_email and not principal.email:
            raise AuthorizationError(message="This token carries no verified email address.")
        return principal
