"""What one placed order costs the databases: statements and durable commits, every module together.

Run ``python -m bench.order_costs [--dispatch inline|celery] [--database-url postgres://...] [--json]``.
It runs in a process of its own with the project's real settings (``app.settings``: every module, the
outbox, no test-only subscriber), on throwaway databases (SQLite files in a temporary directory, or a
new PostgreSQL database created on ``--database-url`` and dropped at the end), places a warm-up order
and then ``--orders`` orders of two lines through the public API (``POST /api/orders/``, Django's test
client), and counts with ``bench.costs.count_costs`` everything each order sends, until it is
confirmed and its email recorded.

With ``--dispatch celery`` the broker is Kombu's in-memory transport and this process plays the
worker: after the request it takes every task message off the queues, in order, and runs the task
here (``Task.apply``), so the worker's statements are counted too and the count stays deterministic.

``bench/events.py`` reports these numbers; ``tests/integration/test_order_flow_costs.py`` pins them.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from extraction.identity.keys import generate_private_pem

ROOT = Path(__file__).resolve().parent.parent
#: The shop's two demo products, stocked far beyond what the orders take.
PRODUCTS = (("KB-101", 4999), ("MS-202", 2499))
#: Celery queues of the shop's modules (``seams.<module>``), drained in this order, round after round.
QUEUES = ("seams.inventory", "seams.orders", "seams.notifications", "seams.catalog")
#: Statements that are transaction control, not the shop's or the outbox's own work.
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def shop_statement(sql: str) -> bool:
    """A statement of the shop's own code: it touches a module's table, not the outbox's, and is
    not transaction control."""
    head = sql.lstrip().upper()
    return not head.startswith(CONTROL) and "seams_" not in sql


def configure(dispatch: str, var_dir: Path, database_url: str | None) -> None:
    """The project's settings for this process, from the environment, before Django starts."""
    from bench.security import api_env

    for key in [k for k in os.environ if k.startswith(("SEAMS_", "CELERY_", "DJANGO_"))]:
        del os.environ[key]
    os.environ.pop("DATABASE_URL", None)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "app.settings",
            "DEBUG": "0",
            **api_env(),  # SECRET_KEY and token keys, as DEBUG off requires
            "SEAMS_IDENTITY_KEY": generate_private_pem(),  # DEBUG off needs a service key: a throwaway one
            "SEAMS_VALIDATE_CONTRACTS": "0",
            "SEAMS_VAR_DIR": str(var_dir),
            "SEAMS_EVENT_DISPATCH": dispatch,
            "SEAMS_LOG_LEVEL": "WARNING",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "CELERY_BROKER_URL": "memory://",
            "CELERY_RESULT_BACKEND": "cache+memory://",
        }
    )
    if database_url:
        os.environ["DATABASE_URL"] = database_url


def drain_tasks() -> int:
    """Run every task message waiting on the shop's queues, here, until none is left; returns how many.

    This process is its own worker (the broker is in memory): each message is taken off its queue
    and its task run with ``Task.apply``, which is what a worker's pool does with it."""
    from celery import current_app

    app = current_app._get_current_object()
    app.loader.import_default_modules()  # what a worker does at start: find every task (they are sent by name)
    ran = 0
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        while True:
            took = 0
            for queue in QUEUES:
                channel.queue_declare(queue=queue, passive=False, durable=True, auto_delete=False)
                while (message := channel.basic_get(queue, no_ack=True)) is not None:
                    args, kwargs, _ = message.decode()
                    name = message.headers["task"]
                    app.tasks[name].apply(args=args, kwargs=kwargs, task_id=message.headers.get("id"), throw=True)
                    took += 1
            ran += took
            if not took:
                return ran


def place(client: Any, email: str) -> int:
    from bench.security import customer_headers

    response = client.post(
        "/api/orders/",
        {"lines": [{"sku": sku, "quantity": 1} for sku, _ in PRODUCTS]},
        content_type="application/json",
        headers=customer_headers(email),
    )
    if response.status_code != 201:
        raise SystemExit(f"placing an order answered {response.status_code}: {response.content!r}")
    return int(response.json()["id"])


def measure(dispatch: str, orders: int) -> dict[str, Any]:
    """Costs of ``orders`` orders, one by one (after a warm-up order), as a JSON-able dict."""
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client, override_settings

    from bench.costs import count_costs
    from contracts.kernel.databases import migrate_all
    from contracts.kernel.testing import write_completions
    from modules.catalog.services import product_create
    from modules.inventory.services import stock_set
    from modules.notifications.models import SentEmail
    from modules.orders.models import Order

    migrate_all(verbosity=0)
    for sku, price in PRODUCTS:
        product_create(sku=sku, name=f"Product {sku}", price_cents=price)
        stock_set(sku=sku, quantity=1_000_000)
    client = Client()

    def one(i: int) -> Any:
        with count_costs() as costs:
            order_id = place(client, f"costs-{i}@example.com")
            tasks = drain_tasks() if dispatch == "celery" else 0
            write_completions()  # the order's completion marks the handlers could not write, counted here
        status = Order.objects.get(pk=order_id).status
        emails = SentEmail.objects.filter(recipient=f"costs-{i}@example.com").count()
        if status != "confirmed" or emails != 1:
            raise SystemExit(f"order {order_id} ended {status} with {emails} emails:\n{costs.describe()}")
        return costs, tasks

    # The outbox writes the completion marks its handlers could not write together, after
    # COMPLETION_DELAY or when the order's are written above: a long delay keeps its flusher thread
    # from writing them uncounted in the middle of an order.
    with override_settings(SEAMS_EVENTS={**settings.SEAMS_EVENTS, "COMPLETION_DELAY": 10}):
        one(0)  # warm-up: first-use work (connections, caches) is not the order's cost
        runs = [one(i) for i in range(1, orders + 1)]
    first, tasks = runs[0]
    counts = {(c.total_queries, c.total_commits) for c, _ in runs}
    return {
        "dispatch": dispatch,
        "database": django.db.connections["default"].vendor,
        "orders": orders,
        "lines": len(PRODUCTS),
        "queries": first.total_queries,
        "commits": first.total_commits,
        "deterministic": len(counts) == 1,
        "shop_queries": sum(shop_statement(sql) for sqls in first.statements.values() for sql in sqls),
        "tasks": tasks,
        "per_alias": {
            alias: [first.queries[alias], first.commits[alias]] for alias in first.queries if first.queries[alias]
        },
        "statements": first.describe(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.order_costs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dispatch", choices=["inline", "celery"], default="inline")
    parser.add_argument("--database-url", help="a PostgreSQL server to create the throwaway database on")
    parser.add_argument("--orders", type=int, default=3, help="orders counted after the warm-up one")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args(argv)

    from bench.transports import admin, with_database

    tmp = Path(tempfile.mkdtemp(prefix="seams-order-costs-"))
    db_name = f"seams_costs_{secrets.token_hex(4)}" if args.database_url else ""
    try:
        if db_name:
            admin(args.database_url, f'CREATE DATABASE "{db_name}"')
        configure(args.dispatch, tmp, with_database(args.database_url, db_name) if db_name else None)
        result = measure(args.dispatch, args.orders)
    finally:
        if "django" in sys.modules:
            from django.conf import settings

            if settings.configured:
                from django.db import connections

                connections.close_all()
        if db_name:
            admin(args.database_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
    else:
        print(result.pop("statements"))
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
