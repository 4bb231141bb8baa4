"""``manage.py seed_shop [--if-empty]``: demo products with stock, so a fresh shop can take orders.

It lives in the composition root because it writes to two modules (catalog and inventory), which
no module may do; it goes through their services, never their tables, so the same rules apply as
for any other caller.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from modules.catalog.models import Product
from modules.catalog.services import ProductAlreadyExists, product_create
from modules.inventory.services import stock_set

#: (sku, name, price in cents, units on hand)
DEMO_PRODUCTS = [
    ("KB-101", "Mechanical keyboard", 4999, 25),
    ("MS-202", "Wireless mouse", 2499, 40),
    ("MN-303", "27-inch monitor", 22999, 8),
    ("HS-404", "Noise-cancelling headset", 7999, 15),
    ("CB-505", "USB-C cable, 2 m", 999, 100),
    ("LS-606", "Laptop stand", 3499, 20),
]


class Command(BaseCommand):
    help = "Create demo products and their stock. Existing products are left as they are."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing if the catalog already has products (for start-up scripts).",
        )

    def handle(self, *args: Any, if_empty: bool = False, **options: Any) -> None:
        # Reading the catalog's table here is the composition root's privilege; modules ask use(Catalog).
        if if_empty and Product.objects.exists():
            self.stdout.write("The catalog already has products; nothing seeded.")
            return
        created = 0
        for sku, name, price_cents, on_hand in DEMO_PRODUCTS:
            try:
                product_create(sku=sku, name=name, price_cents=price_cents)
            except ProductAlreadyExists:
                self.stdout.write(f"  {sku} exists; left unchanged")
                continue
            stock_set(sku=sku, quantity=on_hand)
            created += 1
            self.stdout.write(f"  {sku} {name}: {price_cents / 100:.2f}, {on_hand} in stock")
        self.stdout.write(self.style.SUCCESS(f"Seeded {created} product(s) with stock."))
