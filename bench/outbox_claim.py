"""Does a backlog of completed publications slow the relay and claiming?

Run ``python -m bench.outbox_claim [--rows 1000000] [--database-url postgres://...]`` (or
``make bench-outbox``). It creates a throwaway PostgreSQL database, migrates every module into it,
and times the relay's and the workers' real code paths in ``contracts.kernel.outbox``:

(a) a live backlog of open publications (default 1,000) and no completed rows, in one module's schema;
(b) the same backlog plus ``--rows`` completed publications (each holding its event), in the
    schema of ``--module`` (default orders).

Calls alternate between (a) and (b) so that other load on the machine weighs on both alike. It
prints p50/p99 per operation, the ratio (b)/(a) and the ``EXPLAIN (ANALYZE, BUFFERS)`` plan of every
statement each operation runs, writes ``bench/RESULTS-outbox.md`` and drops the database. Events
are dispatched through Celery (``SEAMS_EVENT_DISPATCH=celery``, the dispatcher's own code: its read
of the queues included) to a Celery app that records the tasks instead of sending them
(``bench.dispatching.RecordingCelery``), so ``relay_once`` is timed without a broker or handlers:
what is measured is the outbox's own SQL. Exits 1 if a plan in (b) scans the table sequentially.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import re
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.security import api_env

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).resolve().parent / "RESULTS-outbox.md"
#: Events of the reference shop's orders module, round-robin; their subscribers come from the registry.
EVENT_TYPES = ["orders.OrderPlaced", "orders.OrderConfirmed", "orders.OrderCancelled"]
CHUNK = 100_000
LEASE_EXPIRED = 20  # publications whose worker "died", before each release/relay call

START = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - START:6.1f}s] {message}", flush=True)


# --- the throwaway database ----------------------------------------------------------------------
def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


# --- data ----------------------------------------------------------------------------------------
@dataclass
class Outbox:
    """SQL helpers on one module alias (its connection's search_path is the module's schema)."""

    alias: str
    subscribers: list[tuple[str, str, str]]  # (event type, subscriber, subscriber module)
    backlog: int
    keys: int  # distinct keys among completed rows; the backlog uses `backlog` of them
    failed_ids: list[int] = field(default_factory=list)
    pending_ids: list[int] = field(default_factory=list)

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        from django.db import connections

        with connections[self.alias].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    @property
    def arrays(self) -> dict[str, list[str]]:
        return {
            "types": [t for t, _, _ in self.subscribers],
            "subs": [s for _, s, _ in self.subscribers],
            "mods": [m for _, _, m in self.subscribers],
        }

    def insert(self, first: int, last: int, *, completed: bool) -> None:
        """Events ``first..last-1`` and one publication each (its type's subscriber), in one statement.

        Completed rows are a month old and spread over ``keys`` keys (about ten events per key);
        the backlog is an hour old, 90% pending and 10% failed, each the only open one of its key.
        """
        n = len(self.subscribers)
        if completed:
            key = f"(i %% {self.keys})::text"
            when = "now() - interval '30 days' + i * interval '1 millisecond'"
            status = "'completed'"
            attempts, done, dispatched, error = "1", "ev.occurred_at + interval '50 milliseconds'", "ev.occurred_at", "''"
        else:
            key = f"(i * {self.keys // self.backlog})::text"
            when = "now() - interval '1 hour'"
            status = "CASE WHEN ev.i %% 10 = 9 THEN 'failed' ELSE 'pending' END"
            attempts = "CASE WHEN ev.i %% 10 = 9 THEN 1 ELSE 0 END"
            done, dispatched = "NULL", "NULL"
            error = "CASE WHEN ev.i %% 10 = 9 THEN 'RuntimeError: bench' ELSE '' END"
        self.execute(
            f"""
            WITH ev AS (
                SELECT nextval('seams_publication_position_seq') AS position, gen_random_uuid() AS event_id,
                       (%(types)s::text[])[i %% {n} + 1] AS type, {key} AS key,
                       jsonb_build_object(
                           'order_id', i, 'customer_email', 'c' || i || '@example.com', 'total_cents', 4999,
                           'lines', jsonb_build_array(jsonb_build_object('sku', 'KB-101', 'quantity', 1))) AS payload,
                       {when} AS occurred_at, i
                FROM generate_series(%(first)s::bigint, %(last)s::bigint - 1) AS i
                ORDER BY i
            )
            INSERT INTO seams_publication (
                event_id, position, key, event_type, version, payload, headers, publisher, occurred_at,
                subscriber, subscriber_module, status, attempts,
                created_at, next_attempt_at, dispatched_at, claimed_by, lease_until, completed_at,
                last_error, last_traceback, holds_back)
            SELECT ev.event_id, ev.position, ev.key, ev.type, 1, ev.payload, '{{}}'::jsonb, 'orders', ev.occurred_at,
                   s.subscriber, s.module, {status}, {attempts},
                   ev.occurred_at, ev.occurred_at, {dispatched}, '', NULL, {done}, {error}, '', false
            FROM ev JOIN unnest(%(types)s::text[], %(subs)s::text[], %(mods)s::text[]) AS s(type, subscriber, module)
                ON s.type = ev.type
            """,
            {**self.arrays, "first": first, "last": last},
        )

    def create_backlog(self) -> None:
        self.insert(0, self.backlog, completed=False)
        rows = self.execute("SELECT id, status FROM seams_publication WHERE status <> 'completed' ORDER BY position")
        self.failed_ids = [pk for pk, status in rows if status == "failed"]
        self.pending_ids = [pk for pk, status in rows if status == "pending"]
        assert len(rows) == self.backlog, (len(rows), self.backlog)

    @property
    def open_ids(self) -> list[int]:
        return sorted(self.pending_ids + self.failed_ids)

    def reset(self) -> None:
        """Put the backlog back as created: nothing claimed, nothing dispatched. Rows already so are
        left alone, so that no needless dead row versions pile up."""
        for ids, status, attempts, error in (
            (self.pending_ids, "pending", 0, ""),
            (self.failed_ids, "failed", 1, "RuntimeError: bench"),
        ):
            self.execute(
                "UPDATE seams_publication SET status = %(status)s, attempts = %(attempts)s, claimed_by = '',"
                " lease_until = NULL, dispatched_at = NULL, last_error = %(error)s WHERE id = ANY(%(ids)s)"
                " AND (status, attempts, claimed_by, last_error) IS DISTINCT FROM (%(status)s, %(attempts)s, '', %(error)s)"
                " OR id = ANY(%(ids)s) AND (lease_until IS NOT NULL OR dispatched_at IS NOT NULL)",
                {"status": status, "attempts": attempts, "error": error, "ids": ids},
            )

    def undispatch(self) -> None:
        self.execute(
            "UPDATE seams_publication SET dispatched_at = NULL WHERE id = ANY(%(ids)s) AND dispatched_at IS NOT NULL",
            {"ids": self.open_ids},
        )

    def expire_leases(self) -> None:
        """Some workers died holding a claim: ``processing`` with a lease in the past."""
        self.execute(
            "UPDATE seams_publication SET status = 'processing', claimed_by = 'dead-worker:1',"
            " lease_until = now() - interval '1 minute' WHERE id = ANY(%(ids)s)",
            {"ids": self.pending_ids[:LEASE_EXPIRED]},
        )

    def vacuum(self) -> None:
        for table in ("seams_publication",):
            self.execute(f"VACUUM (ANALYZE) {table}")

    def counts(self) -> dict[str, int]:
        return dict(self.execute("SELECT status, count(*) FROM seams_publication GROUP BY status"))

    def sizes(self) -> list[tuple[str, int]]:
        return self.execute(
            """
            SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c
            WHERE c.oid = 'seams_publication'::regclass
               OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'seams_publication'::regclass)
            ORDER BY c.relkind DESC, c.relname
            """
        )


# --- operations ----------------------------------------------------------------------------------
@dataclass
class Operation:
    name: str
    what: str
    run: Callable[[int], object]
    reps: int
    before: Callable[[int], None] | None = None
    check: Callable[[object], bool] = lambda result: True


def operations(box: Outbox, reps: int) -> list[Operation]:
    from contracts.kernel import outbox
    from contracts.kernel.models import Publication

    alias = box.alias
    batch = outbox.outbox_settings().relay_batch
    expected_due = min(batch, box.backlog)
    ids = box.open_ids[: 5 * reps]  # enough calls for a p99, without making a slow machine wait
    keyed = list(Publication.objects.using(alias).filter(pk__in=ids).order_by("position").values_list("subscriber", "key"))

    def expire_and_undispatch(_: int) -> None:
        box.undispatch()
        box.expire_leases()

    return [
        Operation(
            "claim",
            "`claim(alias, pk)`: a worker takes one due publication (compare-and-set UPDATE with the "
            "per-key ordering check); each call a different backlog row",
            lambda r: outbox.claim(alias, ids[r], worker="bench:1"),
            len(ids),
            check=bool,
        ),
        Operation(
            "next of key",
            "`_dispatch_next_of_key`: after a completion, find the key's next open publication; "
            "each call a different backlog key",
            lambda r: outbox._dispatch_next_of_key(alias, Publication(subscriber=keyed[r][0], key=keyed[r][1], position=0)),
            len(keyed),
        ),
        Operation(
            "due_publications",
            f"`due_publications(alias, {batch})`: the relay's scan for stale pending and due failed rows "
            "(SELECT ... FOR UPDATE SKIP LOCKED, then marks them dispatched)",
            lambda r: outbox.due_publications(alias, batch),
            reps,
            before=lambda r: box.undispatch(),
            check=lambda result: len(result) == expected_due,
        ),
        Operation(
            "release_expired_leases",
            f"`release_expired_leases(alias)`: the staleness monitor; {LEASE_EXPIRED} expired claims each time",
            lambda r: outbox.release_expired_leases(alias),
            reps,
            before=lambda r: box.expire_leases(),
            check=lambda result: result == LEASE_EXPIRED,
        ),
        Operation(
            "relay_once",
            "`relay_once([alias])`: one relay pass (release leases + due scan + dispatch, counted not run)",
            lambda r: outbox.relay_once([alias]),
            reps,
            before=expire_and_undispatch,
            check=lambda result: result[alias] == expected_due,
        ),
    ]


def percentile(samples: list[float], q: float) -> float:
    """Nearest rank: the smallest sample with at least q% of the samples at or below it."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class Measured:
    p50: float
    p99: float
    calls: int
    plans: list[str]
    indexes: list[str]
    seq_scans: list[str]

    @property
    def buffers(self) -> int:
        """Shared buffers (hit + read) the operation's statements touched in the EXPLAIN ANALYZE run:
        unlike time, this does not depend on what else the machine is doing."""
        total = 0
        for plan in self.plans:
            top = BUFFERS.search(plan)  # the root node's line counts its children too
            total += sum(int(n) for n in re.findall(r"(?:hit|read)=(\d+)", top.group(1))) if top else 0
        return total


LONG_LIST = re.compile(r"\d+(?:(, ?)\d+){8,}")
BUFFERS = re.compile(r"^\s*Buffers: shared (.*)$", re.MULTILINE)


def shorten(text: str) -> str:
    """``1, 2, 3, ..., 500`` instead of 500 ids."""

    def cut(match: re.Match[str]) -> str:
        items = re.split(r", ?", match.group(0))
        sep = match.group(1)
        return sep.join(items[:3]) + f"{sep}... {sep.strip()} {items[-1]} ({len(items)} ids)"

    return LONG_LIST.sub(cut, text)


SCAN = re.compile(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\S+)")
SEQ = re.compile(r"Seq Scan on (\S+)")


def explain(box: Outbox, op: Operation) -> list[str]:
    """Run the operation once more to capture its SQL, put the backlog back and vacuum, then
    EXPLAIN (ANALYZE, BUFFERS) each statement in order, in a transaction that is rolled back."""
    from django.db import connections, transaction
    from django.test.utils import CaptureQueriesContext

    if op.before:
        op.before(0)
    with CaptureQueriesContext(connections[box.alias]) as captured:
        op.run(0)
    statements = [q["sql"] for q in captured.captured_queries if re.match(r"\s*(SELECT|UPDATE|INSERT|DELETE)", q["sql"])]
    box.reset()
    box.vacuum()
    plans = []
    with transaction.atomic(using=box.alias):
        if op.before:
            op.before(0)
        for sql in statements:
            lines = [row[0] for row in box.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")]
            # Drop planning's buffer counts: noise next to the executor's.
            lines = [line for i, line in enumerate(lines) if line != "Planning:" and not (i and lines[i - 1] == "Planning:")]
            plans.append(shorten(f"{sql}\n\n" + "\n".join(lines)))
        transaction.set_rollback(True, using=box.alias)
    box.reset()
    return plans


def measure(boxes: dict[str, Outbox], reps: int) -> dict[str, dict[str, Measured]]:
    """Time each operation in every phase, alternating call by call between the phases (and which goes
    first), so that whatever else the machine does weighs on both alike; then explain it."""
    ops = {phase: operations(box, reps) for phase, box in boxes.items()}
    results: dict[str, dict[str, Measured]] = {phase: {} for phase in boxes}
    phases = list(boxes)
    for i, name in enumerate(op.name for op in ops[phases[0]]):
        for box in boxes.values():
            box.reset()
            box.vacuum()
        calls = ops[phases[0]][i].reps
        say(f"timing {name} x {calls} in {' and '.join(phases)}, alternating")
        samples: dict[str, list[float]] = {phase: [] for phase in phases}
        for r in range(calls):
            for phase in phases if r % 2 == 0 else phases[::-1]:
                op = ops[phase][i]
                if op.before:
                    op.before(r)
                t0 = time.perf_counter()
                result = op.run(r)
                samples[phase].append(time.perf_counter() - t0)
                if not op.check(result):
                    raise SystemExit(f"{name} returned {result!r} on call {r} in {phase}: the bench's set-up is wrong")
        for phase, box in boxes.items():
            plans = explain(box, ops[phase][i])
            text = "\n".join(plans)
            scans = sorted(set(SCAN.findall(text)))
            seq = sorted({t for t in SEQ.findall(text) if t.startswith("seams_")})
            m = Measured(percentile(samples[phase], 50), percentile(samples[phase], 99), calls, plans, scans, seq)
            results[phase][name] = m
            say(
                f"{phase} {name}: p50 {m.p50 * 1e3:.3f} ms, p99 {m.p99 * 1e3:.3f} ms; "
                f"indexes {', '.join(scans) or '-'}" + (f"; SEQ SCAN on {', '.join(seq)}" if seq else "")
            )
    return results


# --- report --------------------------------------------------------------------------------------
def machine(box: Outbox) -> dict[str, str]:
    import django

    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "CPU cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "Django": django.get_version(),
        "PostgreSQL": box.execute("SHOW server_version")[0][0],
        "shared_buffers": box.execute("SHOW shared_buffers")[0][0],
    }


def load() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}"


def fmt_size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB" if size >= 1 << 20 else f"{size // 1024} KiB"


@dataclass
class Run:
    args: argparse.Namespace
    boxes: dict[str, Outbox]
    ops: list[Operation]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    loads: dict[str, str] = field(default_factory=dict)
    sizes: list[tuple[str, int]] = field(default_factory=list)
    a: dict[str, Measured] = field(default_factory=dict)
    b: dict[str, Measured] = field(default_factory=dict)


def used(m: Measured) -> str:
    text = ", ".join(f"`{i}`" for i in m.indexes) or "-"
    return text + (" **Seq Scan on " + ", ".join(m.seq_scans) + "**" if m.seq_scans else "")


def report(run: Run, info: dict[str, str], took: float) -> str:
    a, b, rows = run.boxes["(a)"], run.boxes["(b)"], run.args.rows
    statuses = sorted({s for c in run.counts.values() for s in c})
    out = [
        "# Outbox: claiming and relaying with a backlog of completed rows",
        "",
        f"Generated by `python -m bench.outbox_claim --rows {rows}` (`make bench-outbox`) on "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC in {took:.0f} s. Do not edit by hand: rerun.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in info.items()],
        *[f"| load average (1/5/15 min) {when} timing | {value} |" for when, value in run.loads.items()],
        "",
        "## Data",
        "",
        "One fresh database, every module migrated with `migrate_all()`; two module schemas of it hold the "
        "two phases (same tables and indexes, from the same migrations):",
        "",
        f"* **(a)** schema `{a.alias}`: a live backlog of {a.backlog:,} open publications ({len(a.pending_ids):,} pending, "
        f"{len(a.failed_ids):,} failed; an hour old, never dispatched, each the only open one of its key) "
        "and no completed rows.",
        f"* **(b)** schema `{b.alias}`: {rows:,} completed publications, each holding its event "
        f"(a month old, over {b.keys:,} keys, about {max(rows // b.keys, 1)} per key), then the same backlog "
        "(its keys among those of the completed rows).",
        "",
        "Autovacuum is off on the outbox tables and each operation starts after `VACUUM (ANALYZE)`, so both "
        "phases start from the same clean state. The calls alternate between (a) and (b), so whatever else the "
        "machine is doing weighs on both alike.",
        "",
        "| phase | " + " | ".join(statuses) + " |",
        "|---|" + "---:|" * len(statuses),
        *[f"| {phase} | " + " | ".join(f"{c.get(s, 0):,}" for s in statuses) + " |" for phase, c in run.counts.items()],
        "",
        "Sizes in (b): " + ", ".join(f"`{name}` {fmt_size(size)}" for name, size in run.sizes) + ".",
        "",
        "## Timings",
        "",
        "Wall-clock milliseconds per call from Python (`time.perf_counter` around the real function: ORM, "
        "round trips and commit to a local server), p50 and p99 over the calls; the ratio (b)/(a) is what "
        "matters. *Buffers* counts the shared buffers (hit + read) the operation's statements touched in its "
        "`EXPLAIN ANALYZE` run: unlike time, it does not depend on what else the machine is doing.",
        "",
        "| operation | calls | (a) p50 | (a) p99 | (b) p50 | (b) p99 | (b)/(a) p50 | (b)/(a) p99 | buffers (a) | buffers (b) | indexes (a) | indexes (b) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for op in run.ops:
        ma, mb = run.a[op.name], run.b[op.name]
        out.append(
            f"| {op.name} | {mb.calls} | {fmt_ms(ma.p50)} | {fmt_ms(ma.p99)} | {fmt_ms(mb.p50)} | {fmt_ms(mb.p99)} "
            f"| {mb.p50 / ma.p50:.2f} | {mb.p99 / ma.p99:.2f} | {ma.buffers:,} | {mb.buffers:,} "
            f"| {used(ma)} | {used(mb)} |"
        )
    out += ["", "The operations, each the real function from `contracts/kernel/outbox.py`:", ""]
    out += [f"* **{op.name}**: {op.what}." for op in run.ops]
    out += [
        "",
        "A sequential scan in (a) is expected: with a thousand rows in the table it is the cheapest plan. "
        "What must not appear in (b) is a sequential scan, or a scan that reads completed rows. "
        + (
            "**In (b) these plans scan seams_publication sequentially: "
            + ", ".join(op.name for op in run.ops if run.b[op.name].seq_scans)
            + ".**"
            if any(m.seq_scans for m in run.b.values())
            else "No plan in (b) scans `seams_publication` sequentially."
        ),
        "",
        f"A p99 over {run.args.reps} calls is one of the slowest few: on a busy machine it moves with whatever else runs "
        "(see the load average above); the p50 ratio and the buffer counts are the steadier signals.",
        "",
        f"## Plans in (b), {rows:,} completed rows",
        "",
        "`EXPLAIN (ANALYZE, BUFFERS)` of each statement the operation sent, captured from the real call and "
        "explained in a rolled-back transaction (planning buffers and long id lists trimmed).",
    ]
    for op in run.ops:
        out += ["", f"### {op.name}", ""]
        for plan in run.b[op.name].plans:
            out += ["```", plan, "```", ""]
    out += ["## Plans in (a), no completed rows", ""]
    for op in run.ops:
        out += [f"<details><summary>{op.name}</summary>", ""]
        for plan in run.a[op.name].plans:
            out += ["```", plan, "```", ""]
        out += ["</details>", ""]
    out += [
        "## Rerun",
        "",
        "```bash",
        "make bench-outbox                                                 # writes this file",
        ".venv/bin/python -m bench.outbox_claim --rows 20000 --no-write   # a quick smoke run",
        "```",
        "",
    ]
    return "\n".join(out)


def summary(run: Run) -> str:
    lines = [
        f"{'operation':<24}{'(a) p50':>10}{'(a) p99':>10}{'(b) p50':>10}{'(b) p99':>10}{'p50 x':>8}{'p99 x':>8}"
        f"{'buf (a)':>9}{'buf (b)':>9}  indexes (b)"
    ]
    for op in run.ops:
        ma, mb = run.a[op.name], run.b[op.name]
        lines.append(
            f"{op.name:<24}{fmt_ms(ma.p50):>10}{fmt_ms(ma.p99):>10}{fmt_ms(mb.p50):>10}{fmt_ms(mb.p99):>10}"
            f"{mb.p50 / ma.p50:>8.2f}{mb.p99 / ma.p99:>8.2f}{ma.buffers:>9}{mb.buffers:>9}  {', '.join(mb.indexes)}"
            + (f"  SEQ SCAN on {', '.join(mb.seq_scans)}" if mb.seq_scans else "")
        )
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.outbox_claim", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="completed publications in phase (b)")
    parser.add_argument("--backlog", type=int, default=1_000, help="open publications in both phases")
    parser.add_argument("--reps", type=int, default=100, help="calls of each relay operation per phase")
    parser.add_argument("--module", default="orders", help="the module whose outbox is measured")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL server (its database is not touched)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the Markdown report to write")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the report file alone")
    args = parser.parse_args(argv)
    if args.backlog < 5 * LEASE_EXPIRED or args.rows < 0:  # each lease call expires LEASE_EXPIRED of the pending rows
        parser.error(f"--backlog must be at least {5 * LEASE_EXPIRED} and --rows at least 0")

    name = f"seams_bench_{secrets.token_hex(4)}"
    say(f"creating database {name}")
    admin(args.database_url, f'CREATE DATABASE "{name}"')
    try:
        return run(args, name)
    finally:
        from django.conf import settings

        if settings.configured:
            from django.db import connections

            connections.close_all()
        admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        say(f"dropped database {name}")


def run(args: argparse.Namespace, name: str) -> int:
    os.environ["DATABASE_URL"] = with_database(args.database_url, name)
    os.environ["DJANGO_SETTINGS_MODULE"] = "app.settings"
    os.environ["DEBUG"] = "0"  # no query log: it would be timed too
    # The Celery dispatcher, sending to the RecordingCelery made current below: no handler runs.
    os.environ["SEAMS_EVENT_DISPATCH"] = "celery"
    # DEBUG off needs what production needs: a secret key, a service key, the public API's token
    # keys; the benches' shared throwaway ones (``bench.security``), unless the shell sets its own.
    for key, value in api_env().items():
        os.environ.setdefault(key, value)
    import django

    django.setup()
    from bench.dispatching import RecordingCelery
    from contracts.kernel import outbox
    from contracts.kernel.databases import migrate_all
    from contracts.kernel.registry import get_registry

    say("migrating every module")
    migrate_all(verbosity=0)
    aliases = outbox.module_aliases()
    if args.module not in aliases or len(aliases) < 2:
        raise SystemExit(f"--module must be one of {', '.join(aliases)} (and there must be another module)")
    subscribers = [(t, s.name, s.module) for t in EVENT_TYPES for s in get_registry().subscribers_for(t)[:1]]
    if not subscribers:
        raise SystemExit(f"no subscribers for {EVENT_TYPES}")
    keys = max(args.rows // 10, args.backlog)
    # (a) and (b) are two module schemas of the same database, created by the same migrations.
    other = next(a for a in aliases if a != args.module)
    boxes = {"(a)": Outbox(other, subscribers, args.backlog, keys), "(b)": Outbox(args.module, subscribers, args.backlog, keys)}
    for box in boxes.values():
        box.execute("SET synchronous_commit = off")  # no fsync wait in either phase: less noise
        for table in ("seams_publication",):
            box.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")

    b = boxes["(b)"]
    say(f"(b) inserting {args.rows:,} completed publications (each holding its event) into schema {b.alias}")
    t0 = time.perf_counter()
    for first in range(0, args.rows, CHUNK):
        last = min(first + CHUNK, args.rows)
        b.insert(first, last, completed=True)
        say(f"(b) inserted {last:,}/{args.rows:,} completed rows ({last / (time.perf_counter() - t0):,.0f} rows/s)")
    counts = {}
    for phase, box in boxes.items():
        say(f"{phase} creating a backlog of {args.backlog:,} open publications in schema {box.alias}; VACUUM (ANALYZE)")
        box.create_backlog()
        box.vacuum()
        counts[phase] = box.counts()
    run = Run(args, boxes, operations(b, args.reps), counts, sizes=b.sizes())

    if outbox.outbox_settings().dispatch != "celery":
        raise SystemExit("SEAMS_EVENTS['DISPATCH'] is not 'celery': the inline dispatcher would run the backlog's handlers")
    with RecordingCelery("bench-outbox").as_current() as celery:
        run.loads["before"] = load()
        results = measure(boxes, args.reps)
        run.loads["after"] = load()
    say(f"{len(celery.sent):,} tasks ({len(celery.publications):,} publications) recorded, not sent")
    run.a, run.b = results["(a)"], results["(b)"]

    text = report(run, machine(b), time.perf_counter() - START)
    print(f"\n{summary(run)}\n", flush=True)
    if args.no_write:
        say("--no-write: report not written")
    else:
        args.output.write_text(text)
        say(f"wrote {args.output}")
    return 1 if any(m.seq_scans for m in run.b.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
