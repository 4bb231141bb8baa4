"""What do Seams' durable events cost next to the code a team would write without them?

Run ``python -m bench.events [--quick] [--database-url postgres://...] [--no-postgres]`` (or ``make
bench-events``). It writes ``bench/RESULTS-events.md``: the machine, the load average at the start and
the end, the commit, and

1. per database (SQLite with the modules' settings in force, then PostgreSQL on a throwaway database
   of ``--database-url``'s server): hand-written events (an insert + a Django signal whose receiver
   inserts a row ``on_commit``) vs Seams' default (the outbox, inline dispatch, one subscriber that
   inserts a row): events/s, p50/p99, ratio, statements and durable commits per event (and round trips
   on PostgreSQL); and the Celery drain, one real worker on loopback Redis (a database of its own, ``--redis-url``): a raw per-event
   task doing the same insert vs what Seams' celery dispatch sends (``bench/events_micro.py``);
2. statements and durable commits per placed order, inline and with Celery dispatch, on each
   database (``bench/order_costs.py``);
3. the whole shop: the plain-Django shop (``bench/plainshop/``) vs the Seams shop co-located vs the
   Seams shop with catalog and inventory extracted (HTTP, and Celery): p50 latency to confirmed, orders/s at
   concurrency 1 and 8, CPU seconds per 100 orders (``bench/shop.py``, PostgreSQL).

Variants alternate batch by batch (and which goes first) so that other load on the machine weighs
on both alike; ratios are ratios of medians. Each part runs in a child process of its own, on
throwaway databases, and stops every process it started, also on Ctrl-C. Targets (issue 7): Seams
≤ 1.5x hand-written per event on each database; the Celery drain ≥ 0.8x the raw task; ≤ 30
statements per order co-located; the Seams shop ≤ 1.5x the plain shop's CPU per order, extracted
≤ 2x co-located.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.transports import code_version, load, say

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS-events.md"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/11"
TARGET_EVENT = 1.5
TARGET_DRAIN = 0.8
TARGET_ORDER_QUERIES = 30
TARGET_SHOP_CPU = 1.5


def child(module: str, args: list[str], out: Path) -> dict[str, Any]:
    """Run ``python -m module args --out out`` and read its JSON."""
    command = [sys.executable, "-m", module, *args, "--out", str(out)]
    say(f"running {' '.join(command[2:])}")
    done = subprocess.run(command, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{module} failed (exit {done.returncode})")
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def order_costs(dispatch: str, database_url: str | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.order_costs", "--dispatch", dispatch, "--json"]
    if database_url:
        command += ["--database-url", database_url]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench.order_costs failed:\n{done.stdout}{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


# --- report --------------------------------------------------------------------------------------
def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def trips(hand: dict[str, Any], seams: dict[str, Any]) -> str:
    """Round trips per event, hand-written → Seams; "in process" for SQLite (nothing is sent)."""
    if hand.get("round_trips") is None or seams.get("round_trips") is None:
        return "in process"
    return f"{hand['round_trips']} → {seams['round_trips']}"


def event_table(micros: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| database (settings) | hand-written events/s | Seams events/s | ratio (target ≤ 1.5x) | hand-written p50 / p99 | Seams p50 / p99 | statements / durable commits per event, hand-written → Seams | round trips per event (PostgreSQL), hand-written → Seams |",
        "|---|---:|---:|---:|---|---|---|---|",
    ]
    for m in micros:
        hand, seams = m["inline"]["hand-written"], m["inline"]["seams"]
        ratio = hand["per_second"] / seams["per_second"]
        ch, cs = m["costs"]["hand-written"], m["costs"]["seams"]
        settings = f" ({m['settings']})" if m["settings"] else ""
        lines.append(
            f"| {m['database']}{settings} | {hand['per_second']:.0f} | {seams['per_second']:.0f} | "
            f"{ratio:.2f}x {mark(ratio <= TARGET_EVENT)} | {ms(hand['p50'])} / {ms(hand['p99'])} | "
            f"{ms(seams['p50'])} / {ms(seams['p99'])} | {ch['queries']} / {ch['commits']} → {cs['queries']} / {cs['commits']} | "
            f"{trips(ch, cs)} |"
        )
    return lines


def drain_table(micros: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| database | raw per-event task, events/s | Seams celery dispatch, events/s | Seams / raw (target ≥ 0.8x) | tasks the worker ran for Seams | task body p50, raw / Seams (runs) | Seams batch drain, events/s (tasks) | batch / raw (target > 1x) |",
        "|---|---:|---:|---:|---|---|---:|---:|",
    ]
    for m in micros:
        raw, seams = m["drain"]["raw task"], m["drain"]["seams"]
        ratio = seams["per_second"] / raw["per_second"]
        lines.append(
            f"| {m['database']} | {raw['per_second']:.0f} | {seams['per_second']:.0f} | {ratio:.2f}x {mark(ratio >= TARGET_DRAIN)} "
            f"| {', '.join(f'`{t}`' for t in seams['tasks'])} "
            f"| {ms(raw['task_p50'])} ({raw['task_runs']}) / {ms(seams['task_p50'])} ({seams['task_runs']}) "
            + batch_cells(m["drain"].get("seams batch drain"), raw)
        )
    return lines


def batch_cells(batch: dict[str, Any] | None, raw: dict[str, Any]) -> str:
    if batch is None:
        return "| (no batch drain task) | |"
    ratio = batch["per_second"] / raw["per_second"]
    tasks = ", ".join(f"`{t}`" for t in batch["tasks"])
    return f"| {batch['per_second']:.0f} ({tasks}, {batch['task_runs']} runs) | {ratio:.2f}x {mark(ratio > 1)} |"


def order_table(orders: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| database | dispatch | statements per order (target ≤ 30 co-located) | durable commits per order | of which the shop's own statements | Celery tasks |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for o in orders:
        target = f" {mark(o['queries'] <= TARGET_ORDER_QUERIES)}" if o["dispatch"] == "inline" else ""
        lines.append(
            f"| {o['database']} | {o['dispatch']} | {o['queries']}{target} | {o['commits']} | {o['shop_queries']} | {o['tasks']} |"
        )
    return lines


def shop_table(shop: dict[str, Any]) -> list[str]:
    variants = shop["variants"]
    base = variants["plain Django"]["cpu_per_100"]
    colocated = variants["Seams co-located"]["cpu_per_100"]
    lines = [
        "| variant | p50 to confirmed (c=1) | orders/s, c=1 | orders/s, c=8 | CPU s per 100 orders | CPU vs plain Django | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, v in variants.items():
        ratio = v["cpu_per_100"] / base if base else float("nan")
        if name == "plain Django":
            target = "baseline"
        elif name == "Seams co-located":
            target = f"≤ 1.5x plain: {mark(ratio <= TARGET_SHOP_CPU)}"
        else:
            beside = v.get("colocated_cpu_per_100", colocated)  # co-located, measured alongside it
            target = f"≤ 2x co-located ({v['cpu_per_100'] / beside:.2f}x): {mark(v['cpu_per_100'] <= 2 * beside)}"
        lines.append(
            f"| {name} | {ms(v['p50'])} | {v['per_second_c1']:.1f} | {v['per_second_c8']:.1f} | {v['cpu_per_100']:.2f} | {ratio:.2f}x | {target} |"
        )
    return lines


def shop_processes(shop: dict[str, Any]) -> list[str]:
    """Where an extracted stack's CPU goes: CPU s per 100 orders of each of its processes (every
    measured batch together, so they add up to the mean rather than the median)."""
    lines = []
    for name, v in shop["variants"].items():
        by_process = v.get("cpu_per_100_by_process", {})
        if len(by_process) > 1:
            lines.append(f"{name}, CPU s per 100 orders by process: " + ", ".join(f"{p} {c:.2f}" for p, c in by_process.items()) + ".")
            lines.append("")
    return lines


def machine() -> dict[str, str]:
    import platform

    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    ram = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "CPU": f"{os.cpu_count()} cores, {cpu}",
        "RAM": ram,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "Code": code_version(),
    }


def report(
    args: argparse.Namespace,
    loads: dict[str, str],
    micros: list[dict[str, Any]],
    orders: list[dict[str, Any]],
    shop: dict[str, Any] | None,
    took: float,
) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# Events benchmark: hand-written vs Seams",
        "",
        f"Written by `python -m bench.events{' --quick' if args.quick else ''}` (`make bench-events`) on {now}, "
        f"in {took:.0f} s. What is measured and how: the docstrings of `bench/events.py`, `bench/events_micro.py`, "
        "`bench/order_costs.py` and `bench/shop.py`. The machine is shared (2 cores): read the ratios, which "
        "compare variants run alternately batch by batch, rather than the absolute numbers.",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine().items()],
        *[f"| Load average {k} | {v} |" for k, v in loads.items()],
        "",
        "## One event: hand-written vs Seams (inline dispatch)",
        "",
        "Hand-written: `with transaction.atomic(): Order.objects.create(...)` and a Django signal whose receiver "
        "registers `transaction.on_commit(email_send(...))`; Seams: the same insert and `publish(OrderCancelled(...))`, "
        "outbox and inline dispatch, one subscriber (`email_order_cancellation`, the same `email_send`: one row and a "
        "mail to the in-memory backend). Events/s is the median over batches; the ratio is hand-written events/s over "
        "Seams events/s. Statements count everything Django sends (BEGIN, COMMIT and savepoints included); a durable "
        "commit is the commit of a transaction that wrote (or an autocommit write).",
        "",
        *event_table(micros),
        "",
        "## Celery drain: one worker, raw task vs Seams",
        "",
        "The worker (`-P solo`, prefetch 1) is paused while a batch is published, then resumed; the drain runs from "
        "then to the end of the last task (the worker's own stamps). Raw: a hand-written `@shared_task` doing the same "
        "`email_send`, sent `on_commit`; Seams: `DISPATCH=celery`, whatever the dispatcher sends for events committed one by one; "
        "Seams batch drain (when the kernel has `seams.deliver_publications`): the batch's events published while "
        "the dispatcher holds back (its broker backoff), then sent by one relay pass, as after a broker outage. The task body is "
        "the worker's `task_prerun` → `task_postrun`; the rest of the drain is Celery's own work between tasks.",
        "",
        *drain_table(micros),
        "",
        "## One placed order: statements and durable commits",
        "",
        "One order of two lines through `POST /api/orders/` until it is confirmed and emailed, every module's "
        "database together, the project's real settings (`bench/order_costs.py`; with Celery the process drains an "
        "in-memory broker itself, so the worker's statements are counted). Pinned by "
        "`tests/integration/test_order_flow_costs.py`.",
        "",
        *order_table(orders),
        "",
    ]
    if shop:
        out += [
            "## The whole shop: plain Django vs Seams",
            "",
            f"One gunicorn ({shop['gunicorn']}) on PostgreSQL serves the plain-Django shop (`bench/plainshop/`: the "
            "same models and steps, direct calls and `on_commit` signal receivers, one database, no outbox) and the "
            "Seams shop co-located (events inline). Extracted: catalog and inventory written out by "
            "`manage.py extract_module <m> --transport http|celery` and run as their generated services (HTTP: one "
            "gunicorn each, 1 worker x 8 threads; Celery: one worker each, run with the command the generated "
            "service documents (`extraction.settings.celery.worker_command`: the threads pool, `-c` the CPU "
            "count), plus a monolith worker for what "
            "they call or forward back), a monolith of their own (1 worker x 12 threads) bound to them, events "
            "inline everywhere, the same database; each extracted stack runs alone beside the co-located shop, "
            "which is measured again alternating with it (its ratio is to that co-located run). Orders of two lines, timed until confirmed (the answer, or the "
            "order's row polled when it answers pending); batches alternate. CPU is that of every process of the "
            f"variant, per 100 orders, median of the batches, read from {shop.get('cpu_method', 'the processes in /proc')}; "
            "PostgreSQL's own CPU is not counted (the server is shared).",
            "",
            *shop_table(shop),
            "",
            *shop_processes(shop),
        ]
    out += ["## Statements of one event", ""]
    for m in micros:
        for name, c in m["costs"].items():
            out += [
                f"**{m['database']}, {name}** ({c['queries']} statements, {c['commits']} durable commits):",
                "",
                "```",
                c["statements"],
                "```",
                "",
            ]
    errors = [e for m in micros for e in m.get("worker_errors", [])] + (shop or {}).get("server_errors", [])
    if errors:
        out += ["## Errors in the processes' logs", "", "```", *errors[:10], "```", ""]
    return "\n".join(out)


def summary(micros: list[dict[str, Any]], orders: list[dict[str, Any]], shop: dict[str, Any] | None) -> str:
    lines = event_table(micros) + [""] + drain_table(micros) + [""] + order_table(orders)
    if shop:
        lines += [""] + shop_table(shop)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.events", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller batches: about two minutes, for development")
    parser.add_argument(
        "--database-url", default=DEFAULT_POSTGRES, help="the PostgreSQL server for throwaway databases"
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only (and no shop table)")
    parser.add_argument("--no-shop", action="store_true", help="skip the whole-shop part")
    parser.add_argument("--no-extracted", action="store_true", help="the shop part without its extracted variant")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS, help="the Celery drain's broker (a database of its own)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--no-write", action="store_true", help="print only; leave the report file alone")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    loads = {"at start": load()}
    say(f"load average {loads['at start']}")
    quick = ["--quick"] if args.quick else []
    databases: list[str | None] = [None] if args.no_postgres else [None, args.database_url]
    with tempfile.TemporaryDirectory(prefix="seams-bench-events-") as tmp:
        micros = []
        for i, url in enumerate(databases):
            extra = ["--database-url", url] if url else []
            micros.append(
                child(
                    "bench.events_micro", [*quick, *extra, "--redis-url", args.redis_url], Path(tmp) / f"micro{i}.json"
                )
            )
        orders = [order_costs(dispatch, url) for url in databases for dispatch in ("inline", "celery")]
        shop = None
        if not args.no_postgres and not args.no_shop:
            extracted = [] if args.no_extracted else ["--extracted", "http", "--extracted", "celery"]
            shop = child(
                "bench.shop",
                [*quick, *extracted, "--database-url", args.database_url, "--redis-url", args.redis_url],
                Path(tmp) / "shop.json",
            )
    loads["at end"] = load()
    print("\n" + summary(micros, orders, shop) + "\n", flush=True)
    text = report(args, loads, micros, orders, shop, time.perf_counter() - start)
    if args.no_write:
        say("--no-write: report not written")
    else:
        args.output.write_text(text)
        say(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
