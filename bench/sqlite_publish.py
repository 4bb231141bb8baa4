"""SQLite: one publication written as ``INSERT ... SELECT`` vs as one ``INSERT ... VALUES`` row.

``outbox.statements`` writes an event with at most one subscriber on SQLite as one VALUES row
(``_publish_one_sqlite``), every other as the ``INSERT ... SELECT`` PostgreSQL uses
(``_publish_select``). This times both in this process on the bench's settings (WAL, NORMAL,
``BEGIN IMMEDIATE``), the transaction a publisher runs (its order row, the publication, the
commit), the two forms alternating batch by batch, and prints the p50 of each and their ratio.

    python -m bench.sqlite_publish [--batches 40]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sqlite_publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=40)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="seams-sqlite-publish-"))
    try:
        from bench.sqlite_pages import setup

        setup(tmp)
        from datetime import timedelta

        from django.db import connections, transaction
        from django.utils import timezone

        from contracts.kernel.outbox import statements
        from contracts.kernel.testing import write_completions
        from modules.orders.models import Order

        handler = [("modules.notifications.handlers.email_order_cancellation", "notifications")]
        forms = {"insert-select": statements._publish_select, "values": statements._publish_one_sqlite}
        samples: dict[str, list[float]] = {name: [] for name in forms}
        perf = time.perf_counter
        for r in range(args.batches + 2):  # two warm-up rounds
            for name in list(forms) if r % 2 == 0 else list(forms)[::-1]:
                write = forms[name]
                ids = []
                for _ in range(50):
                    now = timezone.now()
                    t = perf()
                    with transaction.atomic(using="orders"):
                        order = Order.objects.create(customer_email="c@bench.example", total_cents=1, status="cancelled")
                        event = (uuid.uuid4(), "orders.OrderCancelled", 1, str(order.pk), {"order_id": order.pk}, {}, "orders", now)
                        rows = write("orders", event, handler, now, "bench", now + timedelta(seconds=60))
                    if r >= 2:
                        samples[name].append(perf() - t)
                    ids.append(rows[0][0])
                statements.complete_publications("orders", ids, timezone.now())  # as the batched marks do
        write_completions()
        p50 = {name: statistics.median(v) for name, v in samples.items()}
        print(
            f"p50 per publishing transaction: insert-select {p50['insert-select'] * 1e6:.0f} us,"
            f" values {p50['values'] * 1e6:.0f} us, ratio {p50['values'] / p50['insert-select']:.2f}"
            f" ({args.batches} batches of 50 each, alternating)"
        )
        connections.close_all()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
