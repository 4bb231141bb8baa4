"""``manage.py issue_token SUBJECT [--scope S ...] [--email E] [--ttl SECONDS]``: print a bearer
token for the public API, signed with the development key (``var/dev-keys/``, generated on first
use). Refused when the API's keys come from an identity provider (``SEAMS_API_JWKS_URL`` /
``SEAMS_API_JWKS_FILE`` without ``SEAMS_API_DEV_KEYS_DIR``): production tokens are not minted here."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contracts.kernel.errors import ConfigurationError
from contracts.kernel.public import issue_token


class Command(BaseCommand):
    help = "Print a development bearer token for the public API."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("subject", help="who the token speaks for (its sub claim)")
        parser.add_argument("--scope", action="append", default=[], help="a scope to grant (repeatable)")
        parser.add_argument("--email", help="the customer's email address (the email claim)")
        parser.add_argument("--ttl", type=int, default=24 * 3600, help="lifetime in seconds (default: a day)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            token = issue_token(options["subject"], scopes=options["scope"], email=options["email"], ttl=options["ttl"])
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(token)
