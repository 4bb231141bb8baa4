"""Service keys: this service's Ed25519 signing key and the public keys of the services it trusts.

Why Ed25519 key pairs, one per service, rather than shared secrets: a receiver holds only public
keys, so a compromised service cannot mint tokens in another's name, and adding a service adds
one key pair instead of one secret per pair of services. Public keys are not secrets: they can sit
in a ConfigMap; only each service's own private key is a Secret.

Formats (all one line, so they fit an environment variable):

* a private key is PEM (PKCS#8, what ``generate_private_pem`` writes), in ``SEAMS_IDENTITY_KEY`` or
  in the file ``SEAMS_IDENTITY_KEY_FILE`` names (a mounted Secret);
* a public key is its 32 raw bytes in base64url (``public_text``), 43 characters;
* a key id (``kid``) is derived from the public key (``key_id``): nothing to configure, and the
  same key always has the same id on every side.

The *trust* (``SEAMS_IDENTITY_PEERS`` or the file ``SEAMS_IDENTITY_PEERS_FILE``) is a JSON object
naming, for each calling service, the modules it may speak for and its public keys (several at once
while a key rotates)::

    {"catalog-service": {"modules": ["catalog"], "keys": ["<public key>", "<next public key>"]}}

The service always trusts its own public key for its own modules (``SEAMS_MODULES``), so calls
between the processes of one service (web and workers) need no entry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts.kernel import ConfigurationError

__all__ = [
    "Peer",
    "Trust",
    "generate_private_pem",
    "key_id",
    "load_private_key",
    "parse_peers",
    "public_key_from_text",
    "public_text",
]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def generate_private_pem() -> str:
    """A new Ed25519 private key as PKCS#8 PEM (what ``SEAMS_IDENTITY_KEY`` holds)."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_private_key(pem: str, where: str) -> Ed25519PrivateKey:
    """Parse a PEM private key; ``where`` names the variable or file in the error."""
    try:
        key = serialization.load_pem_private_key(pem.strip().encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"{where} is not a PEM private key ({exc}). Create one with: manage.py service_key NAME") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"{where} is a {type(key).__name__}; service keys are Ed25519 (manage.py service_key NAME).")
    return key


def public_text(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The public key as base64url of its 32 raw bytes (what a peer lists under ``keys``)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return _b64(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def public_key_from_text(text: str, where: str) -> Ed25519PublicKey:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"{where}: {text[:12]!r}... is not an Ed25519 public key (43 characters of base64url, as printed "
            f"by manage.py service_key)."
        ) from None


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The key's id: 16 characters of base64url of the SHA-256 of the raw public key."""
    raw = base64.urlsafe_b64decode(public_text(key) + "=")
    return _b64(hashlib.sha256(raw).digest())[:16]


@dataclass(frozen=True)
class Peer:
    """A service this one accepts calls from: the modules it speaks for, its public keys by id."""

    name: str
    modules: frozenset[str]
    keys: Mapping[str, Ed25519PublicKey] = field(default_factory=dict)


@dataclass(frozen=True)
class Trust:
    """Every accepted key id -> the peer that owns it."""

    peers: Mapping[str, Peer]
    by_kid: Mapping[str, tuple[Peer, Ed25519PublicKey]]

    @classmethod
    def of(cls, peers: Iterable[Peer]) -> Trust:
        merged: dict[str, Peer] = {}
        for peer in peers:
            known = merged.get(peer.name)
            if known is not None:
                peer = Peer(peer.name, known.modules | peer.modules, {**known.keys, **peer.keys})
            merged[peer.name] = peer
        by_kid: dict[str, tuple[Peer, Ed25519PublicKey]] = {}
        for peer in merged.values():
            for kid, key in peer.keys.items():
                owner = by_kid.get(kid)
                if owner is not None and owner[0].name != peer.name:
                    raise ConfigurationError(
                        f"The same public key is trusted for two services, '{owner[0].name}' and '{peer.name}': each "
                        f"service needs its own key pair (manage.py service_key NAME)."
                    )
                by_kid[kid] = (peer, key)
        return cls(merged, by_kid)


def parse_peers(text: str, where: str) -> list[Peer]:
    """Parse the trust JSON (see the module docstring); errors name ``where`` and the entry."""
    if not text.strip():
        return []
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"{where} is not JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f'{where} must be a JSON object: {{"<service>": {{"modules": [...], "keys": [...]}}}}.')
    peers = []
    for name, entry in data.items():
        modules, keys = (entry.get("modules"), entry.get("keys")) if isinstance(entry, dict) else (None, None)
        if not (isinstance(modules, list) and all(isinstance(m, str) for m in modules)):
            raise ConfigurationError(f"{where}: service '{name}' needs \"modules\": a list of the module labels it serves.")
        if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
            raise ConfigurationError(f"{where}: service '{name}' needs \"keys\": a list of its public keys.")
        public = [public_key_from_text(k, f"{where}, service '{name}'") for k in keys]
        peers.append(Peer(str(name), frozenset(modules), {key_id(k): k for k in public}))
    return peers


def read_file(path: str | os.PathLike[str], variable: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ConfigurationError(f"{variable}={str(path)!r} cannot be read ({exc.strerror}).") from None
