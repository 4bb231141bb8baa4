"""``manage.py service_key NAME [--modules a,b] [--out DIR]``: create a service key pair.

The same as ``python -m extraction.identity`` (which needs no settings, so it also works where the
process would refuse to start for want of a key): see docs/security.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from extraction.identity.keygen import create_key


class Command(BaseCommand):
    help = "Create an Ed25519 service key pair: the private key for the Secret, the public key for the peers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the service's name (SEAMS_IDENTITY_NAME)")
        parser.add_argument("--modules", default="", help="comma-separated modules it serves")
        parser.add_argument("--out", type=Path, help="write the private key to OUT/NAME.pem instead of printing it")

    def handle(self, *args: Any, **options: Any) -> None:
        modules = [m for m in options["modules"].split(",") if m]
        create_key(options["name"], modules, options["out"], self.stdout)
