"""One database's part of ``bench/events.py``: hand-written events vs Seams' outbox, and the Celery drain.

Run by ``bench/events.py`` in a process of its own per database (``python -m bench.events_micro
[--database-url postgres://...] --out result.json``); it writes its numbers as JSON. In this process,
on throwaway databases with the project's settings (``bench.settings``, so the SQLite settings the
modules run with are the ones measured):

* **inline**: the same event, batch by batch, the two variants alternating (and which goes first):
  *hand-written*: ``with transaction.atomic(): Order.objects.create(...)`` plus a Django signal whose
  receiver registers ``transaction.on_commit(email_send(...))``; *Seams*: the same insert and
  ``publish(OrderCancelled(...))`` with the outbox and inline dispatch, whose one subscriber
  (notifications' ``email_order_cancellation``) calls the same ``email_send`` (one ``SentEmail``
  row and a mail to Django's in-memory backend). One event = transaction start to handler done.
* **costs**: statements and durable commits per event of each variant (``bench.costs``), averaged
  over 100 events (the outbox batches some completion marks).
* **Celery drain**: one real ``celery worker`` (``-P solo``) on loopback Redis; for each batch the
  worker is paused (SIGSTOP), the batch is published, then the worker resumes and the drain is timed
  from then until the last task ended (the worker's own stamps): *raw*, a hand-written per-event
  task ``bench.raw_email_send`` sent ``on_commit``, vs *Seams* with ``DISPATCH=celery``
  (``deliver_publication``, or whatever the dispatcher sends), and, when the kernel has the batch
  drain task ``seams.deliver_publications``, *Seams batch drain*: the batch's events published while
  the dispatcher holds back (its broker backoff), then sent together by one relay pass, as after a
  broker outage. Each variant also reports the worker process's CPU per event over its drains
  (``/proc``), which other load on the machine distorts less than the wall-clock rate.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.environment import bench_environment, enter
from bench.transports import (
    BIN,
    Process,
    admin,
    percentile,
    process_env,
    redis_cleanup,
    redis_foreign_keys,
    say,
    with_database,
)

DEFAULT_REDIS = "redis://127.0.0.1:6379/11"


def sizes(quick: bool) -> dict[str, int]:
    """Batch sizes and counts. The drain's rate is a median over its batches: with three per variant
    one busy second of the (shared, two-core) machine in one batch moved a variant's median by a
    third, and the ratio with it (0.67x-1.00x over three runs of one commit); seven batches, an odd
    number, alternating, keep such a second to one batch out of seven. The inline part runs 36
    batches of 50 per variant (12 until 2026-12-02): on PostgreSQL a batch is ~0.15 s, so twelve were
    ~2 s per variant, and one server checkpoint or stall in a few of them moved the ratio of medians
    from 1.38x to 1.70x between three runs of one commit; with 36 three runs gave 1.37 / 1.37 / 1.42x.
    They cost ~10 s more per run, within the 90 s budget."""
    if quick:
        return {"batch": 25, "batches": 4, "cost_events": 100, "drain_batch": 40, "drain_batches": 3}
    return {"batch": 50, "batches": 36, "cost_events": 100, "drain_batch": 100, "drain_batches": 7}


# --- the two ways of doing one event -------------------------------------------------------------
class Variants:
    """The hand-written event and the Seams event, each one call doing one event end to end."""

    def __init__(self) -> None:
        from django.dispatch import Signal

        from contracts.kernel import get_module

        self.orders = get_module("orders").database_alias
        self.counter = iter(range(1, 10**9))
        self.cancelled = Signal()
        self.cancelled.connect(self._receiver, weak=False)
        self.raw_task = False  # the receiver sends the raw Celery task instead of running the handler

    def _receiver(self, sender: Any, order_id: int, customer_email: str, reason: str, **_: Any) -> None:
        from django.db import transaction

        from modules.notifications.services import email_send

        event_id = uuid.uuid4()
        subject = f"Your order #{order_id} was cancelled"
        body = f"We are sorry: your order #{order_id} was cancelled. {reason} You have not been charged."
        if self.raw_task:
            from bench.baseline.tasks import EVENTS_QUEUE, raw_email_send

            def send() -> None:
                raw_email_send.apply_async((str(event_id), customer_email, subject, body), queue=EVENTS_QUEUE)

            transaction.on_commit(send, using=self.orders)
        else:
            transaction.on_commit(
                lambda: email_send(event_id=event_id, recipient=customer_email, subject=subject, body=body),
                using=self.orders,
            )

    def hand_written(self) -> None:
        from django.db import transaction

        from modules.orders.models import Order

        i = next(self.counter)
        email = f"c{i}@bench.example"
        with transaction.atomic(using=self.orders):
            order = Order.objects.create(customer_email=email, total_cents=4999, status="cancelled")
            self.cancelled.send(sender=Order, order_id=order.pk, customer_email=email, reason="Bench.")

    def seams(self) -> None:
        from contracts.kernel import atomic, publish
        from contracts.orders import OrderCancelled
        from modules.orders.models import Order

        i = next(self.counter)
        email = f"c{i}@bench.example"
        with atomic("orders"):
            order = Order.objects.create(customer_email=email, total_cents=4999, status="cancelled")
            publish(OrderCancelled(order_id=order.pk, customer_email=email, reason="Bench."))


def sent_emails() -> int:
    from modules.notifications.models import SentEmail

    return SentEmail.objects.count()


def clear_mail() -> None:
    from django.core import mail

    if hasattr(mail, "outbox"):
        mail.outbox.clear()


def open_publications() -> int:
    from contracts.kernel import get_module
    from contracts.kernel.models import Publication

    return Publication.objects.using(get_module("orders").database_alias).exclude(status="completed").count()


# --- inline --------------------------------------------------------------------------------------
def measure_inline(variants: Variants, size: dict[str, int], budget: float) -> dict[str, Any]:
    calls: dict[str, Callable[[], None]] = {"hand-written": variants.hand_written, "seams": variants.seams}
    samples: dict[str, list[float]] = {name: [] for name in calls}
    rates: dict[str, list[float]] = {name: [] for name in calls}
    perf = time.perf_counter
    for call in calls.values():  # warm-up
        for _ in range(10):
            call()
    deadline = time.monotonic() + budget
    done = 0
    for r in range(size["batches"]):
        for name in list(calls) if r % 2 == 0 else list(calls)[::-1]:
            call = calls[name]
            before = sent_emails()
            t0 = perf()
            for _ in range(size["batch"]):
                t = perf()
                call()
                samples[name].append(perf() - t)
            rates[name].append(size["batch"] / (perf() - t0))
            if sent_emails() - before != size["batch"]:
                raise SystemExit(f"{name}: {sent_emails() - before} emails for {size['batch']} events")
        clear_mail()
        done = r + 1
        if r >= 3 and time.monotonic() > deadline:
            say(f"  inline: time budget of {budget:.0f} s spent after {done} batches per variant")
            break
    from contracts.kernel.testing import write_completions

    write_completions()  # handled, their completion marks waiting to be written together (at most one batch)
    if open_publications():
        raise SystemExit(f"{open_publications()} publications still open after the inline batches")
    return {
        name: {
            "events": len(samples[name]),
            "batches": len(rates[name]),
            "per_second": percentile(rates[name], 50),
            "p50": percentile(samples[name], 50),
            "p99": percentile(samples[name], 99),
        }
        for name in calls
    }


def measure_costs(variants: Variants, events: int) -> dict[str, Any]:
    """Statements and durable commits per event, averaged over runs of ``events`` events: the
    outbox writes the completion marks its handlers could not write in batches (``COMPLETION_BATCH``,
    ``outbox/completions.py``), so one event alone does not show their share. Each run ends by
    writing what still waits, counted; the flusher thread is kept out (a long ``COMPLETION_DELAY``)
    so that every statement is sent, and counted, by this thread."""
    from django.conf import settings
    from django.test import override_settings

    from bench.costs import count_costs
    from contracts.kernel.testing import write_completions

    out: dict[str, Any] = {}
    with override_settings(SEAMS_EVENTS={**settings.SEAMS_EVENTS, "COMPLETION_DELAY": 10}):
        for name, call in (("hand-written", variants.hand_written), ("seams", variants.seams)):
            write_completions()
            with count_costs() as one:  # one event's statements, to read (its completion mark may wait)
                call()
            runs = []
            for _ in range(2):
                write_completions()
                with count_costs() as costs:
                    for _ in range(events):
                        call()
                    write_completions()
                runs.append((costs.total_queries, costs.total_commits, costs.total_round_trips))
            queries, commits, trips = runs[0]
            out[name] = {
                "queries": round(queries / events, 2),
                "commits": round(commits / events, 2),
                "round_trips": None if trips is None else round(trips / events, 2),
                "averaged_over": events,
                "deterministic": len(set(runs)) == 1,
                "statements": one.describe(),
            }
    return out


# --- Celery drain --------------------------------------------------------------------------------
def read_stamps(path: Path) -> list[tuple[str, float, float]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((parts[0], float(parts[1]), float(parts[2])))
    return out


#: The outbox's batch drain task, when the kernel has one: measured as a third drain variant.
BATCH_TASK = "seams.deliver_publications"


def registered_tasks() -> set[str]:
    from celery import current_app

    app = current_app._get_current_object()
    app.loader.import_default_modules()
    return set(app.tasks)


def measure_drain(variants: Variants, worker: Process, stamps: Path, size: dict[str, int]) -> dict[str, Any]:
    from django.conf import settings
    from django.test import override_settings

    assert worker.proc is not None
    pgid = worker.proc.pid

    def celery_dispatch() -> Any:
        return override_settings(SEAMS_EVENTS={**settings.SEAMS_EVENTS, "DISPATCH": "celery"})

    def seams(n: int) -> None:
        with celery_dispatch():
            for _ in range(n):
                variants.seams()

    def seams_batch(n: int) -> None:
        """The batch drain as the relay runs it after a broker outage: the n events are published
        while this process's dispatcher holds back (its broker backoff, as after a failed send), then
        one relay pass, every publication due, sends them together (the batch tasks)."""
        from contracts.kernel.outbox import dispatcher, relay_once

        with celery_dispatch():
            dispatcher().broker_down_until = time.monotonic() + 3600  # type: ignore[union-attr]
            for _ in range(n):
                variants.seams()
        with override_settings(SEAMS_EVENTS={**settings.SEAMS_EVENTS, "DISPATCH": "celery", "STALE_AFTER": 0}):
            relay_once([variants.orders])

    def raw(n: int) -> None:
        variants.raw_task = True
        try:
            for _ in range(n):
                variants.hand_written()
        finally:
            variants.raw_task = False

    calls: dict[str, Callable[[int], None]] = {"raw task": raw, "seams": seams}
    if BATCH_TASK in registered_tasks():
        calls["seams batch drain"] = seams_batch
    rates: dict[str, list[float]] = {name: [] for name in calls}
    tasks: dict[str, set[str]] = {name: set() for name in calls}
    bodies: dict[str, list[float]] = {name: [] for name in calls}  # task_prerun -> task_postrun
    cpu: dict[str, list[float]] = {name: [] for name in calls}  # the worker's CPU seconds per event
    n = size["drain_batch"]
    for r in range(size["drain_batches"] + 1):  # batch 0 warms the worker up
        for name in list(calls) if r % 2 == 0 else list(calls)[::-1]:
            before = sent_emails()
            seen = len(read_stamps(stamps))
            settled(worker)  # never stop the worker while it holds a database's write lock
            os.killpg(pgid, signal.SIGSTOP)
            try:
                calls[name](n if r else 10)
            finally:
                spent = process_cpu(pgid)
                resumed = time.time()
                os.killpg(pgid, signal.SIGCONT)
            expected = before + (n if r else 10)
            deadline = time.monotonic() + 300
            while sent_emails() < expected:
                if not worker.running or time.monotonic() > deadline:
                    raise SystemExit(f"drain of {name} stalled at {sent_emails() - before}:\n{worker.tail()}")
                time.sleep(0.05)
            time.sleep(0.1)  # the last task's postrun stamp
            settled(worker)  # the marks the worker writes later are part of its CPU per event
            new = read_stamps(stamps)[seen:]
            if r:
                cpu[name].append((process_cpu(pgid) - spent) / n)
                rates[name].append(n / (max(end for _, _, end in new) - resumed))
                tasks[name].update(task for task, _, _ in new)
                bodies[name] += [end - begin for _, begin, end in new]
        clear_mail()
        if r:
            say(
                f"  drain batch {r}: "
                + ", ".join(f"{k} {v[-1]:.0f}/s ({cpu[k][-1] * 1e3:.2f} ms CPU/event)" for k, v in rates.items())
            )
    settled(worker)
    return {
        name: {
            "per_second": percentile(rates[name], 50),
            "batches": len(rates[name]),
            "tasks": sorted(tasks[name]),
            "task_runs": len(bodies[name]),
            "task_p50": percentile(bodies[name], 50),
            # CPU the worker process spent per event, from its resumption to the drain's end: less
            # sensitive to other load on the machine than the wall-clock rate.
            "worker_cpu_per_event": percentile(cpu[name], 50),
        }
        for name in calls
    }


def settled(worker: Process, timeout: float = 60) -> None:
    """Wait until the worker has written every completion mark it keeps (no publication open).

    Why before each SIGSTOP: the worker writes its marks from a thread of its own, a delay after
    its handlers ran. Stopped in the middle of that write, it would keep the publisher's SQLite
    write lock, and the next batch's publishing would wait out its busy timeout ("database is
    locked"). Waiting here also puts that write inside the CPU the drain is charged with."""
    deadline = time.monotonic() + timeout
    while open_publications():
        if not worker.running or time.monotonic() > deadline:
            raise SystemExit(f"{open_publications()} publications still open after the drain:\n{worker.tail()}")
        time.sleep(0.02)


def process_cpu(pid: int) -> float:
    """CPU seconds the threads of process ``pid`` ran so far: the scheduler's nanosecond count of
    each thread (Linux ``/proc/<pid>/task/*/schedstat``; 0 where there is none). A thread that
    ended before the call is not counted: the worker's threads live as long as it does."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(stat.read_text().split()[0])
    return total / 1e9


# --- the process ---------------------------------------------------------------------------------
def sqlite_settings() -> str:
    from django.db import connections

    from contracts.kernel import get_module

    connection = connections[get_module("orders").database_alias]
    if connection.vendor != "sqlite":
        return ""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous")
        synchronous = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(cursor.fetchone()[0], "?")
    mode = connection.settings_dict.get("OPTIONS", {}).get("transaction_mode") or "DEFERRED"
    return f"journal_mode={journal}, synchronous={synchronous}, transactions BEGIN {mode}"


def run(args: argparse.Namespace, tmp: Path, db_name: str, processes: list[Process]) -> dict[str, Any]:
    size = sizes(args.quick)
    base = bench_environment(
        tmp / "var",
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
        PYTHONUNBUFFERED="1",
        CELERY_BROKER_URL=args.redis_url,
        CELERY_RESULT_BACKEND=args.redis_url,
    )
    if db_name:
        base["DATABASE_URL"] = with_database(args.database_url, db_name)
    enter(base, SEAMS_EVENT_DISPATCH="inline")  # the workers this process starts get base's own dispatch
    from django.db import connections

    if db_name:
        with connections["default"].cursor() as cursor:
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {cursor.fetchone()[0]}"
    else:
        import sqlite3

        database = f"SQLite {sqlite3.sqlite_version}"
    result: dict[str, Any] = {"database": database, "settings": sqlite_settings(), "sizes": size}
    variants = Variants()
    say(f"[{database}] inline: {size['batches']} batches of {size['batch']} events per variant, alternating")
    result["inline"] = measure_inline(variants, size, budget=20 if args.quick else 90)
    say(
        f"[{database}] inline: hand-written {result['inline']['hand-written']['per_second']:.0f}/s, "
        f"seams {result['inline']['seams']['per_second']:.0f}/s"
    )
    result["costs"] = measure_costs(variants, size["cost_events"])
    say(
        f"[{database}] per event: "
        + ", ".join(f"{k} {v['queries']} queries / {v['commits']} commits" for k, v in result["costs"].items())
    )
    connections.close_all()

    stamps = tmp / "stamps.log"
    worker = Process(
        "worker",
        [
            str(BIN / "celery"),
            "-A",
            "app",
            "worker",
            "-I",
            "bench.baseline.tasks",
            "-Q",
            "bench.raw.events,seams.notifications",
            "-P",
            "solo",
            "-n",
            f"bench-events-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
        ],
        process_env(base, SEAMS_EVENT_DISPATCH="celery", BENCH_TASK_STAMPS=str(stamps)),
        tmp,
    )
    processes.append(worker.start())
    say(f"[{database}] Celery drain: worker pid {worker.proc.pid if worker.proc else '?'}")
    wait_ready(worker)
    result["drain"] = measure_drain(variants, worker, stamps, size)
    result["worker_errors"] = worker.errors()[:5]
    return result


def wait_ready(worker: Process, timeout: float = 90) -> None:
    """Until the worker has run one raw task (it is consuming)."""
    from bench.baseline.tasks import EVENTS_QUEUE, raw_email_send
    from modules.notifications.models import SentEmail

    event_id = uuid.uuid4()
    raw_email_send.apply_async((str(event_id), "ready@bench.example", "ready", "ready"), queue=EVENTS_QUEUE)
    deadline = time.monotonic() + timeout
    while not SentEmail.objects.filter(event_id=event_id).exists():
        if not worker.running or time.monotonic() > deadline:
            raise SystemExit(f"the Celery worker did not start:\n{worker.tail()}")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.events_micro", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url", help="a PostgreSQL server for the throwaway database (default: SQLite)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON result")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))
    foreign = redis_foreign_keys(args.redis_url)
    if foreign:
        raise SystemExit(
            f"{args.redis_url} holds keys this bench did not create ({foreign[:5]}): pass another --redis-url"
        )
    tmp = Path(tempfile.mkdtemp(prefix="seams-bench-events-"))
    db_name = f"seams_bench_events_{secrets.token_hex(4)}" if args.database_url else ""
    processes: list[Process] = []
    try:
        if db_name:
            admin(args.database_url, f'CREATE DATABASE "{db_name}"')
        result = run(args, tmp, db_name, processes)
        args.out.write_text(json.dumps(result))
        return 0
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                if process.proc is not None:
                    os.killpg(process.proc.pid, signal.SIGCONT)
            process.stop()
        if "django" in sys.modules:
            from django.conf import settings

            if settings.configured:
                from django.db import connections

                connections.close_all()
        if db_name:
            admin(args.database_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        redis_cleanup(args.redis_url)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
