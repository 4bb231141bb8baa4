"""Create a service key pair: the private key for the service's Secret, the public key for its peers.

Used by ``python -m extraction.identity NAME`` (no Django settings needed, so it works before any
key exists) and ``manage.py service_key NAME``. Nothing is written unless ``--out`` is given, and
then the private key file is created with mode 0600 and never overwritten.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TextIO

from .keys import generate_private_pem, key_id, load_private_key, public_text

__all__ = ["create_key", "main"]


def create_key(name: str, modules: list[str], out: Path | None, stream: TextIO) -> str:
    """Generate a key pair for service ``name``; print (or write) it; return the public key."""
    pem = generate_private_pem()
    key = load_private_key(pem, "generated key")
    public = public_text(key)
    peer = json.dumps({name: {"modules": modules or ["<module>", "..."], "keys": [public]}})
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{name}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(pem)
        stream.write(f"Private key written to {path} (mode 0600): mount it and set SEAMS_IDENTITY_KEY_FILE={path}\n")
    else:
        stream.write(f"# Private key of '{name}': put it in the service's Secret as SEAMS_IDENTITY_KEY (never commit it)\n")
        stream.write(pem)
    stream.write(f"# Public key of '{name}' (kid {key_id(key)}): not a secret\n{public}\n")
    stream.write(f"# Trust entry for the services '{name}' calls, in their SEAMS_IDENTITY_PEERS:\n{peer}\n")
    return public


def main(argv: list[str] | None = None, stream: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m extraction.identity", description=__doc__)
    parser.add_argument("name", nargs="?", help="the service's name (SEAMS_IDENTITY_NAME): monolith, catalog-service, ...")
    parser.add_argument("--public", type=Path, metavar="PEM", help="print the public key of an existing private key file and stop")
    parser.add_argument("--modules", default="", help="comma-separated modules it serves (for the printed trust entry)")
    parser.add_argument("--out", type=Path, help="write the private key to OUT/NAME.pem instead of printing it")
    args = parser.parse_args(argv)
    if args.public is not None:
        key = load_private_key(args.public.read_text(), str(args.public))
        stream.write(public_text(key) + "\n")
        return 0
    if not args.name:
        parser.error("the service's name is required")
    create_key(args.name, [m for m in args.modules.split(",") if m], args.out, stream)
    return 0
