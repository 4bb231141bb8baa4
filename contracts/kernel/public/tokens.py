"""Checking a bearer token locally: signature against the configured keys, issuer, audience, expiry.

A token is accepted when all hold: its header names an asymmetric algorithm the settings allow and
a key id the key source knows (a source with a single key accepts a token without ``kid``); the
signature verifies; ``iss`` and ``aud`` are the configured ones; ``exp`` is in the future and
``iat``/``nbf`` are not (within ``LEEWAY`` seconds); ``sub`` is present. What it grants is a
:class:`Principal`: the subject, its scopes (OAuth2 ``scope``, space-separated, or a ``scp`` list)
and its email address (``email``, unless ``email_verified`` is false).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings

from ..errors import ServiceUnavailable

logger = logging.getLogger("seams.api.auth")

__all__ = ["MAX_TOKEN_LENGTH", "InvalidToken", "KeysUnavailable", "Principal", "reset_key_sources", "verify_token"]

#: Longer Authorization values are refused before anything is parsed.
MAX_TOKEN_LENGTH = 8192


class InvalidToken(Exception):
    """The token is missing, malformed, expired, for someone else or signed by an unknown key (401)."""


class KeysUnavailable(ServiceUnavailable):
    """The keys that verify tokens cannot be read or fetched right now (503, try again later)."""


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for."""

    issuer: str
    subject: str
    scopes: frozenset[str]
    email: str | None
    claims: dict[str, Any]

    def __str__(self) -> str:
        # Rate limits key on this (ninja's throttles hash str(request.auth)).
        return f"{self.issuer}|{self.subject}"


class _FileKeys:
    """A JWKS document on disk, read again when its modification time changes (rotation)."""

    def __init__(self, path: str) -> None:
        self.path, self.stamp, self.keys = path, None, {}
        self.lock = threading.Lock()

    def key_for(self, kid: str | None) -> jwt.PyJWK:
        try:
            stamp = os.stat(self.path).st_mtime_ns
        except OSError as exc:
            logger.error("The API's key file %s cannot be read: %s", self.path, exc)
            raise KeysUnavailable() from None
        with self.lock:
            if stamp != self.stamp:
                try:
                    document = json.loads(open(self.path, encoding="utf-8").read())  # noqa: SIM115
                    self.keys = {k.key_id: k for k in jwt.PyJWKSet.from_dict(document).keys}
                except (OSError, ValueError, jwt.PyJWTError) as exc:
                    logger.error("The API's key file %s is not a JWKS document: %s", self.path, exc)
                    raise KeysUnavailable() from None
                self.stamp = stamp
            keys = dict(self.keys)
        if kid is None and len(keys) == 1:
            return next(iter(keys.values()))
        if kid not in keys:
            raise InvalidToken("The token is signed with an unknown key.")
        return keys[kid]


class _UrlKeys:
    """An identity provider's JWKS document, fetched and cached by PyJWT's ``PyJWKClient``."""

    def __init__(self, url: str, cooldown: float) -> None:
        # The document is kept 5 minutes; an unknown key id fetches it again (rotation), at most once
        # per ``cooldown`` seconds, so random key ids cannot make us hammer the provider.
        self.client = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=300, timeout=5, cooldown_duration=cooldown)

    def key_for(self, kid: str | None) -> jwt.PyJWK:
        try:
            if kid is None:
                keys = self.client.get_signing_keys()
                if len(keys) != 1:
                    raise InvalidToken("The token names no key id.")
                return keys[0]
            return self.client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            logger.error("The identity provider's keys cannot be fetched: %s", exc)
            raise KeysUnavailable() from None
        except jwt.PyJWKClientError:
            raise InvalidToken("The token is signed with an unknown key.") from None


_sources: dict[tuple[str | None, str | None], _FileKeys | _UrlKeys] = {}
_sources_lock = threading.Lock()


def reset_key_sources() -> None:
    """Forget cached key sources (tests that change ``SEAMS_API_AUTH``)."""
    with _sources_lock:
        _sources.clear()


def _source(config: dict[str, Any]) -> _FileKeys | _UrlKeys:
    where = (config.get("JWKS_URL"), config.get("JWKS_FILE"))
    with _sources_lock:
        if where not in _sources:
            if where[0]:
                _sources[where] = _UrlKeys(where[0], float(config.get("JWKS_COOLDOWN", 30)))
            else:
                if config.get("DEV_KEYS_DIR"):
                    from .devkeys import ensure_dev_keys

                    ensure_dev_keys(config["DEV_KEYS_DIR"])
                _sources[where] = _FileKeys(str(where[1]))
        return _sources[where]


def verify_token(token: str) -> Principal:
    """The principal of a valid token; raises InvalidToken (401) or KeysUnavailable (503)."""
    config = settings.SEAMS_API_AUTH
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("The token is empty or too long.")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("The token is malformed.") from None
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in config["ALGORITHMS"]:
        raise InvalidToken("The token's algorithm is not accepted.")
    if kid is not None and not isinstance(kid, str):
        raise InvalidToken("The token's key id is malformed.")
    key = _source(config).key_for(kid)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=config["AUDIENCE"],
            issuer=config["ISSUER"],
            leeway=config["LEEWAY"],
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"The token is not valid: {exc}") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("The token's subject is missing.")
    raw = claims.get("scope", claims.get("scp", ""))
    listed = raw.split() if isinstance(raw, str) else raw if isinstance(raw, list) else []
    scopes = frozenset(s for s in listed if isinstance(s, str))
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is False:
        email = None
    return Principal(issuer=config["ISSUER"], subject=subject, scopes=scopes, email=email, claims=claims)
