"""Service tokens: short-lived JWTs (EdDSA, signed and checked with libsodium) that every internal call carries.

A token says *which service* (``iss``) calls on behalf of *which of its modules* (``sub``) into
*which module* (``aud``), until when (``exp``, about a minute), signed with the key whose id is in
the header (``kid``). The receiver checks it locally, against the public keys it trusts: no auth
service, no network round trip.

Every token is good for one request: it carries a unique ``jti`` and the receiver refuses a
``jti`` it has already seen until the token expires (:mod:`.replay`; shared through Redis when
configured). So the caller signs a new token for every request, retries included, and the
receiver verifies every token it gets: no cache on either side (one Ed25519 signature and one
verification per internal call, measured in docs/security.md). Removing a key from the trust
takes effect at once.

Tokens are made and checked here, not by PyJWT's ``encode`` / ``decode``: a token of this protocol
has exactly one form (EdDSA, a ``kid``, six claims), and PyJWT's general parser, which checks every
character of every segment in Python and validates each claim through several layers, cost as much
CPU per call as the Ed25519 verification itself (docs/security.md, "Cost"). The checks are the
same ones, and stricter where the protocol allows: only ``alg: EdDSA``, no ``crit`` or ``b64``
header, canonical unpadded base64url segments, integer times, string claims. The tokens are
standard JWTs (PyJWT reads them, the tests check it). The Ed25519 signature and its verification
go through libsodium (PyNaCl), with the same keys: its verification takes 0.55x the CPU of
OpenSSL's (through ``cryptography``) on the same host, and it is the largest part of an internal
call's cost on the receiving side.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.bindings as sodium
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.signals import setting_changed
from nacl.exceptions import CryptoError

from contracts.kernel import ConfigurationError
from contracts.kernel.public.devkeys import create_once

from . import replay
from .keys import Peer, Trust, generate_private_pem, key_id, load_private_key, parse_peers, public_text, read_file

__all__ = [
    "ALGORITHM",
    "Forbidden",
    "Identity",
    "Refused",
    "Replayed",
    "Unauthenticated",
    "issue",
    "reset",
    "verify",
]

logger = logging.getLogger("seams.identity")

ALGORITHM = "EdDSA"
#: Clock skew tolerated between services, in seconds.
LEEWAY = 5
#: How often the key and trust files are checked for changes, in seconds.
RELOAD_EVERY = 1.0
#: The claims every token carries (a token without one of them is refused).
REQUIRED = ("exp", "iat", "iss", "sub", "aud", "jti")
#: The length of an Ed25519 signature, in bytes.
SIGNATURE_BYTES = 64
#: One segment of a compact JWS: unpadded base64url.
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


class Refused(Exception):
    """A call the receiver will not run; ``status`` is the HTTP status that says why."""

    status = 401
    code = "seams.Unauthenticated"


class Unauthenticated(Refused):
    """No token, or one that is malformed, expired, for another module or signed by an unknown key."""


class Replayed(Unauthenticated):
    """A valid token presented a second time. ``same_message`` says the second time came with the
    same message id as the first (a Celery message the broker delivered twice), not a new one."""

    def __init__(self, message: str, *, same_message: bool = False) -> None:
        super().__init__(message)
        self.same_message = same_message


class Forbidden(Refused):
    """A valid identity that the manifests do not allow to do this."""

    status = 403
    code = "seams.Forbidden"


@dataclass(frozen=True)
class Identity:
    """Who is calling: the service that signed and the module it speaks for."""

    service: str
    module: str


class _Keyring:
    """This process's signing key and trust, re-read from their files when those change."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.name: str = config["NAME"]
        self.ttl: float = float(config.get("TTL", 60))
        self.lock = threading.Lock()
        self.stamp: tuple[Any, ...] | None = None
        self.checked = 0.0
        self.key: Ed25519PrivateKey | None = None
        self.kid = ""
        #: (libsodium's secret key, the encoded header naming its kid), swapped as one when the key file changes.
        self.signer: tuple[bytes, str] | None = None
        #: kid -> (the peer, its raw 32-byte public key), what a signature is checked against.
        self.verifying: dict[str, tuple[Peer, bytes]] = {}
        self.trust = Trust.of([])
        self.replay_cache: str | None = config.get("REPLAY_CACHE") or None
        self.refresh(force=True)

    # --- loading ----------------------------------------------------------------------------
    def _files(self) -> list[Path]:
        files = [Path(p) for p in (self.config.get("KEY_FILE"), self.config.get("PEERS_FILE")) if p]
        dev = self.config.get("DEV_DIR")
        if dev:
            files += sorted(Path(dev).glob("*.json"))
        return files

    def _stamp(self) -> tuple[Any, ...]:
        stamp = []
        for path in self._files():
            try:
                stat = path.stat()
                stamp.append((str(path), stat.st_mtime_ns, stat.st_size))
            except OSError:
                stamp.append((str(path), None, None))
        return tuple(stamp)

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.checked < RELOAD_EVERY:
            return
        with self.lock:
            self.checked = now
            if self.config.get("DEV_DIR"):
                self._ensure_dev_key()
            stamp = self._stamp()
            if stamp == self.stamp:
                return
            self._load()
            self.stamp = stamp

    def _ensure_dev_key(self) -> None:
        """DEBUG without a configured key: a key of our own in DEV_DIR, published for the others."""
        directory = Path(self.config["DEV_DIR"])
        pem_path = directory / f"{self.name}.pem"
        if not pem_path.exists():  # created whole and once, whichever of several processes is first
            create_once(pem_path, generate_private_pem().encode())
            logger.warning("Using a development service key %s (DEBUG without SEAMS_IDENTITY_KEY).", pem_path)
        key = load_private_key(pem_path.read_text(), str(pem_path))
        entry = {"modules": sorted(settings.SEAMS_MODULES), "keys": [public_text(key)]}
        published = directory / f"{self.name}.json"
        try:
            current = json.loads(published.read_text())
        except (OSError, ValueError):
            current = None
        if current != entry:
            temporary = directory / f".{self.name}.json.{os.getpid()}"
            temporary.write_text(json.dumps(entry))
            temporary.replace(published)

    def _load(self) -> None:
        config = self.config
        if config.get("KEY"):
            key = load_private_key(config["KEY"], "SEAMS_IDENTITY_KEY")
        elif config.get("KEY_FILE"):
            key = load_private_key(read_file(config["KEY_FILE"], "SEAMS_IDENTITY_KEY_FILE"), str(config["KEY_FILE"]))
        else:
            pem_path = Path(config["DEV_DIR"]) / f"{self.name}.pem"
            key = load_private_key(pem_path.read_text(), str(pem_path))
        peers = parse_peers(config.get("PEERS") or "", "SEAMS_IDENTITY_PEERS")
        if config.get("PEERS_FILE"):
            peers += parse_peers(read_file(config["PEERS_FILE"], "SEAMS_IDENTITY_PEERS_FILE"), str(config["PEERS_FILE"]))
        if config.get("DEV_DIR"):
            for path in sorted(Path(config["DEV_DIR"]).glob("*.json")):
                try:
                    peers += parse_peers(json.dumps({path.stem: json.loads(path.read_text())}), str(path))
                except (OSError, ValueError, ConfigurationError) as exc:
                    logger.warning("Ignored the development trust file %s: %s", path, exc)
        own = Peer(self.name, frozenset(settings.SEAMS_MODULES), {key_id(key): key.public_key()})
        trust = Trust.of([own, *peers])
        kid = key_id(key)
        self.key, self.kid, self.trust = key, kid, trust
        seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        self.signer = (sodium.crypto_sign_seed_keypair(seed)[1], _encode({"alg": ALGORITHM, "kid": kid, "typ": "JWT"}))
        raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
        self.verifying = {k: (peer, public.public_bytes(*raw)) for k, (peer, public) in trust.by_kid.items()}

    # --- tokens -----------------------------------------------------------------------------
    def issue(self, caller: str, audience: str) -> str:
        self.refresh()
        return self._sign(self._signer(), caller, audience)

    def _signer(self) -> tuple[bytes, str]:
        signer = self.signer
        if signer is None:  # never: refresh(force=True) loaded it in __init__
            raise ConfigurationError("no service key loaded")
        return signer

    def _sign(self, signer: tuple[bytes, str], caller: str, audience: str) -> str:
        secret, header = signer
        now = int(time.time())
        claims = {
            "iss": self.name,
            "sub": caller,
            "aud": audience,
            "iat": now,
            "exp": now + int(self.ttl),
            "jti": uuid.uuid4().hex,
        }
        signing_input = f"{header}.{_encode(claims)}"
        signing_input_bytes = signing_input.encode("ascii")
        return f"{signing_input}.{_b64(sodium.crypto_sign(signing_input_bytes, secret)[:SIGNATURE_BYTES])}"

    def verify(self, token: str | None, audience: str, message_id: str = "") -> Identity:
        self.refresh()
        if not token:
            raise Unauthenticated("no service token: internal calls must carry one (Authorization: Bearer <token>)")
        head, body, signature, header = _split(token)
        kid = header.get("kid")
        found = self.verifying.get(kid) if isinstance(kid, str) else None
        if found is None:
            raise Unauthenticated("service token signed by an unknown key (kid not trusted here)")
        peer, public = found
        claims = _verified_claims(head, body, signature, header, public)
        now = time.time()
        if claims["iat"] > now + LEEWAY or claims.get("nbf", 0) > now + LEEWAY:
            raise Unauthenticated("invalid service token (the token is not yet valid)")
        if claims["exp"] <= now - LEEWAY:
            raise Unauthenticated("expired service token")
        if claims["iss"] != peer.name:
            raise Unauthenticated(f"service token whose issuer is not the owner of its key ('{peer.name}')")
        audiences = claims["aud"]
        if audience not in ([audiences] if isinstance(audiences, str) else audiences):
            raise Unauthenticated(f"service token for another module (this endpoint serves '{audience}')")
        module = claims["sub"]
        if module == "":
            raise Forbidden(f"service '{peer.name}' called from code that is not a module: only modules call contracts")
        if not isinstance(module, str) or module not in peer.modules:
            raise Forbidden(f"service '{peer.name}' does not serve module {module!r}, so it cannot call on its behalf")
        jti = claims["jti"]
        if not isinstance(jti, str) or not 16 <= len(jti) <= 64:
            raise Unauthenticated("invalid service token (its jti must be a string of 16 to 64 characters)")
        first = replay.first_sight(f"{peer.name}:{jti}", float(claims["exp"]) + LEEWAY, message_id, cache_alias=self.replay_cache)
        if first is not None:
            same = bool(message_id) and first == message_id
            raise Replayed("replayed service token: each token is good for one request (its jti was seen before)", same_message=same)
        return Identity(peer.name, module)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _encode(part: dict[str, Any]) -> str:
    """A header or claims segment: compact JSON, unpadded base64url."""
    return _b64(json.dumps(part, separators=(",", ":")).encode())


def _segment(text: str) -> bytes:
    """One segment decoded; ``ValueError`` unless it is canonical unpadded base64url (so a token
    has exactly one spelling: no padding, no stray characters, no unused bits set)."""
    if len(text) % 4 == 1 or _SEGMENT.fullmatch(text) is None:
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(raw) != text:
        raise ValueError("not canonical base64url")
    return raw


def _object(raw: bytes) -> dict[str, Any]:
    """A JSON object (``ValueError`` for anything else; RecursionError for absurd nesting)."""
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _split(token: str) -> tuple[str, str, str, dict[str, Any]]:
    """The token's three segments and its header, read for its ``kid`` (which key to check the
    signature with) before anything is trusted. Whatever this cannot read is a 401, never a 500."""
    parts = token.split(".") if isinstance(token, str) else ()
    try:
        if len(parts) != 3:
            raise ValueError("not three segments")
        header = _object(_segment(parts[0]))
    except (ValueError, RecursionError):  # binascii.Error, UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise Unauthenticated("malformed service token") from None
    return parts[0], parts[1], parts[2], header


def _verified_claims(head: str, body: str, signature: str, header: dict[str, Any], public: bytes) -> dict[str, Any]:
    """The claims of a token whose signature ``public`` (raw Ed25519 public key) verifies, each of the type the protocol
    gives it; times are left to the caller. Anything else is ``Unauthenticated``."""

    def invalid(why: str) -> Unauthenticated:
        return Unauthenticated(f"invalid service token ({why})")

    if header.get("alg") != ALGORITHM:  # never the token's choice: "none", HS256 with the public key...
        raise invalid(f"the specified alg is not allowed: service tokens are {ALGORITHM}")
    if "crit" in header or "b64" in header:
        raise invalid("no critical or b64 header extension is supported")
    try:
        raw_signature = _segment(signature)
        if len(raw_signature) != SIGNATURE_BYTES:
            raise ValueError("not an Ed25519 signature")
        # libsodium's Ed25519 (crypto_sign_open: the signature, then the signed bytes), 1.7x faster
        # than OpenSSL's on this host; it refuses non-canonical S and small-order keys and points.
        sodium.crypto_sign_open(raw_signature + f"{head}.{body}".encode("ascii"), public)
    except (ValueError, TypeError, CryptoError):  # BadSignatureError is a CryptoError
        raise invalid("signature verification failed") from None
    try:
        claims = _object(_segment(body))
    except (ValueError, RecursionError):
        raise invalid("its claims are not a JSON object") from None
    for name in REQUIRED:
        if claims.get(name) is None:
            raise invalid(f'the token is missing the "{name}" claim')
    for name in ("exp", "iat", "nbf"):
        if name in claims and type(claims[name]) is not int:
            raise invalid(f"{name} must be an integer")
    for name in ("iss", "sub", "jti"):
        if not isinstance(claims[name], str):
            raise invalid(f"{name} must be a string")
    audiences = claims["aud"]
    if not (isinstance(audiences, str) or (isinstance(audiences, list) and all(isinstance(a, str) for a in audiences))):
        raise invalid("aud must be a string or a list of strings")
    return claims


_keyring: _Keyring | None = None
_keyring_lock = threading.Lock()

def _current() -> _Keyring:
    global _keyring
    ring = _keyring
    if ring is None:
        config = getattr(settings, "SEAMS_IDENTITY", None)
        if not config:
            raise ConfigurationError("SEAMS_IDENTITY is not configured: see extraction.identity.config.identity_from_env.")
        with _keyring_lock:
            ring = _keyring = _keyring or _Keyring(dict(config))
    return ring


def issue(caller: str, audience: str) -> str:
    """A token for module ``caller`` of this service to call into module ``audience``."""
    return _current().issue(caller, audience)


def verify(token: str | None, audience: str, message_id: str = "") -> Identity:
    """Who signed ``token`` for ``audience``; raises ``Unauthenticated`` (401; ``Replayed`` for a
    token seen before) or ``Forbidden`` (403). ``message_id`` is the Celery task id the token came
    with (see :mod:`.replay`)."""
    return _current().verify(token, audience, message_id)


def reset(**_: object) -> None:
    """Forget the keyring (settings changed, tests): the next call loads it again."""
    global _keyring
    with _keyring_lock:
        _keyring = None
    replay.reset()


def _on_setting_changed(*, setting: str, **_: object) -> None:
    if setting in {"SEAMS_IDENTITY", "SEAMS_MODULES"}:
        reset()


setting_changed.connect(_on_setting_changed)
