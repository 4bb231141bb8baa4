"""The ``SEAMS_IDENTITY`` setting, read from the environment and checked at start-up.

Variables (see docs/security.md):

* ``SEAMS_IDENTITY_NAME``: this service's name, the ``iss`` of its tokens (``monolith``,
  ``catalog-service``);
* ``SEAMS_IDENTITY_KEY`` (PEM) or ``SEAMS_IDENTITY_KEY_FILE`` (a mounted Secret): its Ed25519
  private key. With ``DEBUG`` off the process refuses to start without one (ConfigurationError
  naming the variable). With ``DEBUG`` on and neither set, a development key is created under
  ``<SEAMS_VAR_DIR>/identity/`` and every process sharing that directory trusts the others (what
  ``make run`` and the README's local extraction walk-through need, with nothing to set);
* ``SEAMS_IDENTITY_PEERS`` (JSON) or ``SEAMS_IDENTITY_PEERS_FILE``: the services it accepts calls
  from, their modules and public keys (:mod:`extraction.identity.keys`);
* ``SEAMS_IDENTITY_TTL``: token lifetime in seconds (default 60);
* ``SEAMS_IDENTITY_REPLAY_REDIS_URL`` (else ``SEAMS_API_RATE_LIMIT_REDIS_URL``): the Redis where
  every worker records the token ids it has seen, so a token replayed to another worker is refused
  too (:mod:`extraction.identity.replay`); unset, each process keeps its own record.

Files are re-read when they change (checked at most once a second), so a key rotates without a
restart: see "Keys: creation and rotation" in docs/security.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from contracts.kernel import ConfigurationError

from ..hardening import REPLAY_CACHE, replay_redis_url
from .keys import load_private_key, parse_peers, read_file

__all__ = ["DEFAULT_TTL", "allowed_callers_from_env", "identity_from_env"]

DEFAULT_TTL = 60.0


def identity_from_env(environ: Mapping[str, str], *, debug: bool, default_name: str, var_dir: Path) -> dict[str, Any]:
    """The ``SEAMS_IDENTITY`` setting; raises ``ConfigurationError`` naming the variable at fault."""
    name = environ.get("SEAMS_IDENTITY_NAME", "").strip() or default_name
    key = environ.get("SEAMS_IDENTITY_KEY", "").strip() or None
    key_file = environ.get("SEAMS_IDENTITY_KEY_FILE", "").strip() or None
    peers = environ.get("SEAMS_IDENTITY_PEERS", "").strip()
    peers_file = environ.get("SEAMS_IDENTITY_PEERS_FILE", "").strip() or None
    raw_ttl = environ.get("SEAMS_IDENTITY_TTL", str(DEFAULT_TTL)).strip()
    try:
        ttl = float(raw_ttl)
        if not 5 <= ttl <= 3600:
            raise ValueError
    except ValueError:
        raise ConfigurationError(f"SEAMS_IDENTITY_TTL must be a number of seconds from 5 to 3600, got {raw_ttl!r}.") from None
    if key and key_file:
        raise ConfigurationError("Set SEAMS_IDENTITY_KEY or SEAMS_IDENTITY_KEY_FILE, not both.")
    if peers and peers_file:
        raise ConfigurationError("Set SEAMS_IDENTITY_PEERS or SEAMS_IDENTITY_PEERS_FILE, not both.")
    dev_dir = None
    if key is None and key_file is None:
        if not debug:
            raise ConfigurationError(
                f"SEAMS_IDENTITY_KEY (or SEAMS_IDENTITY_KEY_FILE) is not set: with DEBUG off this service ('{name}') "
                f"refuses to start without its service key, or nothing could call it and it could call nothing. "
                f"Create one with: python -m extraction.identity {name} (see docs/security.md)."
            )
        dev_dir = str(var_dir / "identity")
    # Fail at start-up, not on the first call.
    if key:
        load_private_key(key, "SEAMS_IDENTITY_KEY")
    if key_file:
        load_private_key(read_file(key_file, "SEAMS_IDENTITY_KEY_FILE"), f"SEAMS_IDENTITY_KEY_FILE={key_file}")
    parse_peers(peers, "SEAMS_IDENTITY_PEERS")
    if peers_file:
        parse_peers(read_file(peers_file, "SEAMS_IDENTITY_PEERS_FILE"), f"SEAMS_IDENTITY_PEERS_FILE={peers_file}")
    return {
        "NAME": name,
        "KEY": key,
        "KEY_FILE": key_file,
        "PEERS": peers,
        "PEERS_FILE": peers_file,
        "DEV_DIR": dev_dir,
        "TTL": ttl,
        # The Django cache alias extraction.hardening.caches_from_env defines for the same variable.
        "REPLAY_CACHE": REPLAY_CACHE if replay_redis_url(environ) else None,
    }


def allowed_callers_from_env(environ: Mapping[str, str], declared: Mapping[str, list[str]] | None = None) -> dict[str, list[str]]:
    """``SEAMS_ALLOWED_CALLERS``: the callers allowed beyond the installed manifests' ``consumes``,
    ``{"<module>.<Contract>": ["<module>", ...]}``. ``declared`` is what ``extract_module`` wrote
    (the consumers of the service's contracts, from the monolith's manifests); the variable
    (JSON) adds to it."""
    allowed = {name: list(callers) for name, callers in (declared or {}).items()}
    raw = environ.get("SEAMS_ALLOWED_CALLERS", "").strip()
    if not raw:
        return allowed
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or not all(
            isinstance(v, list) and all(isinstance(m, str) for m in v) for v in data.values()
        ):
            raise ValueError("expected an object of lists of module labels")
    except ValueError as exc:
        raise ConfigurationError(
            f'SEAMS_ALLOWED_CALLERS must be JSON like {{"catalog.Catalog": ["orders"]}} ({exc}).'
        ) from None
    for name, callers in data.items():
        allowed[name] = sorted({*allowed.get(name, []), *callers})
    return allowed
