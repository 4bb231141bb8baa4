"""Development signing keys and tokens: what ``make run`` and the tests use instead of an identity
provider.

``ensure_dev_keys(directory)`` writes, once, an Ed25519 private key (``api-signing-key.pem``, mode
0600) and the matching public JWKS document (``api-jwks.json``, the key id derived from the key)
into ``directory``; the API verifies with the JWKS document exactly as it would with a provider's.
A new key pair is a new key id: delete the directory to rotate (tokens signed before stop working).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..errors import ConfigurationError

__all__ = ["JWKS_NAME", "PRIVATE_KEY_NAME", "ensure_dev_keys", "issue_token"]

PRIVATE_KEY_NAME = "api-signing-key.pem"
JWKS_NAME = "api-jwks.json"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def create_once(path: Path, content: bytes, mode: int = 0o600) -> bytes:
    """Create ``path`` with ``content`` unless it exists; return what it holds. Several processes
    may do this at once on first use (gunicorn's workers importing the settings together): the file
    is written whole under a temporary name and linked into place, which fails if another process
    got there first, so ``path`` never exists half-written and every process reads the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process's, complete: read below
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_bytes()


def ensure_dev_keys(directory: Path | str) -> tuple[Path, Path]:
    """(private key, JWKS document) in ``directory``, generated the first time."""
    directory = Path(directory)
    private, public = directory / PRIVATE_KEY_NAME, directory / JWKS_NAME
    if private.exists() and public.exists():
        return private, public
    generated = Ed25519PrivateKey.generate()
    pem = generated.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # The private key is created once (create_once); the JWKS is derived from whichever key won and
    # replaced whole, so every process writes the same document and a reader sees a matching pair.
    key = serialization.load_pem_private_key(create_once(private, pem), password=None)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = hashlib.sha256(raw).hexdigest()[:16]
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": kid, "alg": "EdDSA", "use": "sig"}
    if not public.exists():
        temporary = public.with_name(f".{public.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        temporary.write_text(json.dumps({"keys": [jwk]}, indent=2) + "\n")
        os.replace(temporary, public)
    return private, public


def issue_token(
    subject: str,
    *,
    scopes: Iterable[str] = (),
    email: str | None = None,
    ttl: int = 3600,
    keys_dir: Path | str | None = None,
    issuer: str | None = None,
    audience: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """A token signed with the development key (settings' ``SEAMS_API_AUTH`` unless told otherwise).

    Refused (ConfigurationError) when no development key directory is configured: in production
    tokens come from the identity provider, and this process holds no key able to sign them."""
    config: dict[str, Any] = {}
    if not (keys_dir and issuer and audience):
        from django.conf import settings

        config = getattr(settings, "SEAMS_API_AUTH", {})
    directory = keys_dir or config.get("DEV_KEYS_DIR")
    if not directory:
        raise ConfigurationError(
            "No development key directory: tokens are issued by your identity provider when "
            "SEAMS_API_JWKS_URL / SEAMS_API_JWKS_FILE are set (SEAMS_API_DEV_KEYS_DIR names a dev key pair)."
        )
    private, public = ensure_dev_keys(directory)
    kid = json.loads(public.read_text())["keys"][0]["kid"]
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer or config.get("ISSUER"),
        "aud": audience or config.get("AUDIENCE"),
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "scope": " ".join(scopes),
        **({"email": email} if email else {}),
        **(extra or {}),
    }
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})  # type: ignore[arg-type]
