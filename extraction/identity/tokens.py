"""Service tokens: short-lived JWTs (PyJWT; EdDSA through libsodium) that every internal call carries.

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

PyJWT makes and checks the tokens (their format, the header, the claims: which ``alg``, required
claims, times with the leeway, ``iss``, ``aud``, string ``sub`` and ``jti``), through a PyJWT
instance of our own whose only algorithm is EdDSA backed by libsodium (PyNaCl), :class:`NaclEdDSA`:
the same keys and the same standard tokens, and a verification that takes 0.55x the CPU of
OpenSSL's (through ``cryptography``) on the same host; it is the largest part of what an internal
call costs the receiver (docs/security.md, "Cost").
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import nacl.bindings as sodium
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.signals import setting_changed
from jwt.algorithms import Algorithm
from jwt.exceptions import InvalidKeyError
from nacl.exceptions import CryptoError

from contracts.kernel import ConfigurationError
from contracts.kernel.public.devkeys import create_once

from . import replay
from .keys import Peer, Trust, generate_private_pem, key_id, load_private_key, parse_peers, public_text, read_file

__all__ = [
    "ALGORITHM",
    "Forbidden",
    "Identity",
    "NaclEdDSA",
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
REQUIRED = ["exp", "iat", "iss", "sub", "aud", "jti"]
#: The lengths of an Ed25519 signature, libsodium's secret key (seed and public key) and a public key, in bytes.
SIGNATURE_BYTES, SECRET_KEY_BYTES, PUBLIC_KEY_BYTES = 64, 64, 32


class NaclEdDSA(Algorithm):
    """PyJWT's ``EdDSA`` (Ed25519) through libsodium instead of OpenSSL: same keys, same signatures.

    Keys are raw bytes, as the keyring holds them: libsodium's 64-byte secret key to sign, a
    32-byte public key to verify. A signature is exactly 64 bytes; libsodium also refuses
    non-canonical S and small-order keys and points."""

    def prepare_key(self, key: Any) -> bytes:
        if not isinstance(key, bytes) or len(key) not in (SECRET_KEY_BYTES, PUBLIC_KEY_BYTES):
            raise InvalidKeyError("an Ed25519 key for libsodium: 64 secret or 32 public bytes")
        return key

    def sign(self, msg: bytes, key: bytes) -> bytes:
        if len(key) != SECRET_KEY_BYTES:
            raise InvalidKeyError("signing takes the 64-byte secret key")
        return sodium.crypto_sign(msg, key)[:SIGNATURE_BYTES]

    def verify(self, msg: bytes, key: bytes, sig: bytes) -> bool:
        if len(key) != PUBLIC_KEY_BYTES or len(sig) != SIGNATURE_BYTES:
            return False
        try:
            sodium.crypto_sign_open(sig + msg, key)  # the signature, then the signed bytes
        except (ValueError, TypeError, CryptoError):  # BadSignatureError is a CryptoError
            return False
        return True

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> Any:
        raise NotImplementedError("service keys are not exchanged as JWKs")

    @staticmethod
    def from_jwk(jwk: Any) -> Any:
        raise NotImplementedError("service keys are not exchanged as JWKs")


def _service_jwt() -> jwt.PyJWT:
    """A PyJWT of our own (the module-level ``jwt.encode`` / ``decode`` are left alone) that knows
    one algorithm, EdDSA, and verifies it with :class:`NaclEdDSA`. ``_jws`` is a private hook of
    PyJWT (the JWS layer its encode / decode go through): tests/unit/test_identity.py pins it, so an
    upgrade that moves it fails there, not silently back on OpenSSL."""
    instance = jwt.PyJWT()
    jws = instance._jws
    for name in jws.get_algorithms():
        jws.unregister_algorithm(name)
    jws.register_algorithm(ALGORITHM, NaclEdDSA())
    return instance


_JWT = _service_jwt()


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
        #: (libsodium's 64-byte secret key, its kid), swapped as one when the key file changes, so a
        #: token is never signed with one key under the other's kid.
        self.signer: tuple[bytes, str] = (b"", "")
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
        self.signer = (sodium.crypto_sign_seed_keypair(seed)[1], kid)
        raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
        self.verifying = {k: (peer, public.public_bytes(*raw)) for k, (peer, public) in trust.by_kid.items()}

    # --- tokens -----------------------------------------------------------------------------
    def issue(self, caller: str, audience: str) -> str:
        self.refresh()
        now = int(time.time())
        claims = {
            "iss": self.name,
            "sub": caller,
            "aud": audience,
            "iat": now,
            "exp": now + int(self.ttl),
            "jti": uuid.uuid4().hex,
        }
        secret, kid = self.signer
        return _JWT.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": kid})

    def verify(self, token: str | None, audience: str, message_id: str = "") -> Identity:
        self.refresh()
        if not token:
            raise Unauthenticated("no service token: internal calls must carry one (Authorization: Bearer <token>)")
        header = _unverified_header(token)
        kid = header.get("kid")
        found = self.verifying.get(kid) if isinstance(kid, str) else None
        if found is None:
            raise Unauthenticated("service token signed by an unknown key (kid not trusted here)")
        peer, public = found
        try:
            claims = _JWT.decode(
                token,
                public,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=peer.name,
                leeway=LEEWAY,
                options={"require": REQUIRED},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("expired service token") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(f"service token for another module (this endpoint serves '{audience}')") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated(f"service token whose issuer is not the owner of its key ('{peer.name}')") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"invalid service token ({exc})") from None
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


def _unverified_header(token: str) -> dict[str, Any]:
    """The token's header, read only for its ``kid`` (which key to check the signature with).

    Not ``jwt.get_unverified_header``: PyJWT checks every character of every segment in Python on
    each parse, and ``decode`` parses and checks the whole token again anyway (header included:
    its ``alg`` and the signature over it), so a second full parse per request was half of what
    verifying cost (measured: 184 us of thread CPU per verify at load 26, the per-character check
    52% of it under cProfile). Anything this cannot read is a 401, never a 500."""
    head, dot, _ = token.partition(".") if isinstance(token, str) else ("", "", "")
    try:
        if not dot:
            raise ValueError("no segments")
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, RecursionError):  # binascii.Error, UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise Unauthenticated("malformed service token") from None
    if not isinstance(header, dict):
        raise Unauthenticated("malformed service token")
    return header


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
