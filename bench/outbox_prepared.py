"""What preparing the outbox's own SQL saves on PostgreSQL: client-bound vs prepared, side by side.

Run ``python -m bench.outbox_prepared [--database-url postgres://postgres@127.0.0.1:5432] [--rounds 20]
[--block 20] [--json]``. One process with the project's settings (``bench.settings``) on a throwaway
PostgreSQL database (created on ``--database-url``, dropped at the end), inline dispatch. Each
measurement alternates ``SEAMS_EVENTS['PREPARED_STATEMENTS']`` False and True in blocks of
``--block`` calls, ``--rounds`` times, and reports the medians and the median of the rounds' ratios, so other
load on the machine weighs on both alike:

* **statements**, each call timed from the client inside a transaction (its ``BEGIN`` and
  ``COMMIT``, the same either way, left out): ``publish_rows`` (the publication holding its event,
  one ``WITH n AS (SELECT nextval(...)) INSERT ... SELECT``), ``claim_read`` (the claim ``UPDATE ... RETURNING``)
  and ``complete_publications``;
* **worker side**, the body of a Celery task without Celery: ``process_dispatched`` for a
  publication written claimed (what ``seams.deliver_publication`` runs for the publisher's
  message) and ``process_publication`` for a pending one (the relay's and a retry's path), against
  the hand-written task's body (``email_send``: one transaction, one insert);
* **one inline event**, ``bench.events_micro``'s two variants: hand-written vs Seams.

docs/events.md ("Prepared statements") quotes its numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.transports import admin, with_database
from extraction.identity.keys import generate_private_pem

HANDLER = ("modules.notifications.handlers.email_order_cancellation", "notifications")
#: Untimed calls at the start of each block.
WARMUP = 3


def configure(var_dir: Path, database_url: str) -> None:
    """The bench's settings for this process, before Django starts (as ``bench.events_micro``)."""
    from bench.security import api_env

    for key in [k for k in os.environ if k.startswith(("SEAMS_", "CELERY_", "DJANGO_"))]:
        del os.environ[key]
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DEBUG": "0",  # no query log: it would be timed too
            **api_env(),
            "SEAMS_IDENTITY_KEY": generate_private_pem(),
            "SEAMS_VALIDATE_CONTRACTS": "0",
            "SEAMS_VAR_DIR": str(var_dir),
            "SEAMS_EVENT_DISPATCH": "inline",
            "SEAMS_LOG_LEVEL": "WARNING",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "DATABASE_URL": database_url,
        }
    )


def timed(call: Callable[[], Any]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        call()
        return time.perf_counter() - start

    return run


def compare(calls: dict[str, Callable[[], float]], rounds: int, block: int) -> dict[str, dict[str, Any]]:
    """For each call: its median (µs) client-bound and prepared, alternating in blocks, and the ratio
    (the median over rounds of the two blocks' medians, so a burst of load weighs on one round only).
    Each block starts with ``WARMUP`` untimed calls: switching the setting clears the kernel's caches."""
    from django.conf import settings
    from django.test import override_settings

    samples: dict[tuple[str, bool], list[float]] = {}
    blocks: dict[tuple[str, bool], list[float]] = {}
    for round_ in range(rounds + 1):  # round 0 warms both up (connections, the statements prepared)
        for prepared in (False, True) if round_ % 2 else (True, False):
            with override_settings(SEAMS_EVENTS={**settings.SEAMS_EVENTS, "PREPARED_STATEMENTS": prepared}):
                for name, call in calls.items():
                    times = [call() for _ in range(block + WARMUP)][WARMUP:]
                    if round_:
                        samples.setdefault((name, prepared), []).extend(times)
                        blocks.setdefault((name, prepared), []).append(median(times))
    out: dict[str, dict[str, Any]] = {}
    for name in calls:
        client, prepared = (median(samples[(name, p)]) * 1e6 for p in (False, True))
        ratios = [p / c for c, p in zip(blocks[(name, False)], blocks[(name, True)], strict=True)]
        out[name] = {
            "client_bound_us": round(client),
            "prepared_us": round(prepared),
            "ratio": round(median(ratios), 2),
            "blocks_us": {str(p): [round(t * 1e6) for t in blocks[(name, p)]] for p in (False, True)},
        }
    return out


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def measure(rounds: int, block: int) -> dict[str, Any]:
    import django

    django.setup()
    from django.db import connections, transaction
    from django.utils import timezone

    from bench.events_micro import Variants
    from contracts.kernel.databases import migrate_all
    from contracts.kernel.outbox.claiming import claim_read
    from contracts.kernel.outbox.processing import process_dispatched, process_publication
    from contracts.kernel.outbox.statements import complete_publications, publish_rows
    from modules.notifications.services import email_send

    migrate_all(verbosity=0)

    def publication(claimed_by: str = "", timed_part: list[float] | None = None) -> int:
        now = timezone.now()
        key = uuid.uuid4().hex[:12]
        event = (uuid.uuid4(), "orders.OrderCancelled", 1, key, {"order_id": 1, "customer_email": "c@bench.example",
                 "reason": "Bench."}, {"publisher": "orders"}, "orders", now)  # fmt: skip
        with transaction.atomic(using="orders"):
            start = time.perf_counter()
            _, written = publish_rows("orders", event, subscribers=[HANDLER], now=now, claimed_by=claimed_by,
                                      lease_until=now + timedelta(seconds=60) if claimed_by else None)  # fmt: skip
            if timed_part is not None:
                timed_part.append(time.perf_counter() - start)
        return written[HANDLER[0]][0]

    def publish() -> float:
        took: list[float] = []
        publication(timed_part=took)
        return took[0]

    def claim_then_complete() -> tuple[float, float]:
        pk = publication()
        with transaction.atomic(using="orders"):
            start = time.perf_counter()
            claim_read("orders", pk, "bench")
            middle = time.perf_counter()
            complete_publications("orders", [pk], timezone.now(), "bench")
            return middle - start, time.perf_counter() - middle

    pending: list[float] = []

    def claim() -> float:
        took, completion = claim_then_complete()
        pending.append(completion)
        return took

    def complete() -> float:
        return pending.pop() if pending else claim_then_complete()[1]

    def worker(run: Callable[[int], Any], claimed_by: str = "") -> Callable[[], float]:
        def one() -> float:
            pk = publication(claimed_by)
            start = time.perf_counter()
            run(pk)
            return time.perf_counter() - start

        return one

    variants = Variants()
    with connections["orders"].cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = f"PostgreSQL {cursor.fetchone()[0]}"
    raw = timed(lambda: email_send(event_id=uuid.uuid4(), recipient="c@bench.example", subject="s", body="b"))
    result = {
        "database": server,
        "rounds": rounds,
        "block": block,
        "load_average_start": os.getloadavg()[0],
        "statements": compare({"publish_rows": publish, "claim_read": claim, "complete_publications": complete}, rounds, block),
        "worker": compare(
            {
                "hand-written task body": raw,
                "process_dispatched (claimed message)": worker(lambda pk: process_dispatched("orders", [pk], "bench"), "bench"),
                "process_publication (relay, retry)": worker(lambda pk: process_publication("orders", pk)),
            },
            rounds,
            block,
        ),
        "inline event": compare({"hand-written": timed(variants.hand_written), "seams": timed(variants.seams)}, rounds, block),
    }
    result["load_average_end"] = os.getloadavg()[0]
    connections.close_all()
    return result


def report(result: dict[str, Any]) -> str:
    lines = [f"{result['database']}, {result['rounds']} rounds of {result['block']} calls per variant, "
             f"load average {result['load_average_start']:.1f} -> {result['load_average_end']:.1f}"]  # fmt: skip
    for part in ("statements", "worker", "inline event"):
        lines.append(f"{part}: median µs, client-bound -> prepared (ratio)")
        for name, m in result[part].items():
            lines.append(f"  {name:40s} {m['client_bound_us']:6d} -> {m['prepared_us']:6d}  ({m['ratio']:.2f}x)")
    event = result["inline event"]
    for mode, label in (("False", "client-bound"), ("True", "prepared")):
        per_round = [s / h for h, s in zip(event["hand-written"]["blocks_us"][mode], event["seams"]["blocks_us"][mode], strict=True)]
        lines.append(f"Seams inline event / hand-written, {label}: {median(per_round):.2f}x (median over rounds)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--block", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    name = f"seams_bench_prepared_{secrets.token_hex(4)}"
    admin(args.database_url, f"CREATE DATABASE {name}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            configure(Path(tmp), with_database(args.database_url, name))
            result = measure(args.rounds, args.block)
    finally:
        admin(args.database_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    print(json.dumps(result, indent=1) if args.json else report(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
