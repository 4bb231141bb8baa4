"""``manage.py dev_tokens``: the reference shop's development tokens, as shell ``export`` lines.

``STAFF`` may create products and set stock (scope ``shop:staff``); ``ADA`` is the customer
ada@example.com (scope ``shop:customer``), who places orders and reads her own orders and emails.
``make run`` prints them; ``eval "$(DEBUG=true .venv/bin/python manage.py dev_tokens)"`` sets them in a shell.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contracts.kernel.errors import ConfigurationError
from contracts.kernel.public import issue_token

STAFF_SCOPE = "shop:staff"
CUSTOMER_SCOPE = "shop:customer"


class Command(BaseCommand):
    help = "Print development bearer tokens for the shop (staff and the customer ada@example.com)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customer", default="ada@example.com", help="the customer's email (default: ada@example.com)")
        parser.add_argument("--ttl", type=int, default=24 * 3600, help="lifetime in seconds (default: a day)")

    def handle(self, *args: Any, **options: Any) -> None:
        email, ttl = options["customer"], options["ttl"]
        try:
            staff = issue_token("dev-staff", scopes=[STAFF_SCOPE], ttl=ttl)
            customer = issue_token(email, scopes=[CUSTOMER_SCOPE], email=email, ttl=ttl)
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"export STAFF={staff}")
        self.stdout.write(f"export ADA={customer}")
