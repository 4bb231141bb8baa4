"""Which SQLite pages, in which b-trees, one event writes: hand-written vs Seams (inline dispatch).

In WAL mode a commit appends every page it dirtied (4 KiB each) to the WAL, so the pages per event
are the database's share of an event's cost. This runs the two variants of ``bench/events_micro.py``
(the same settings, throwaway SQLite files), each alone over ``--events`` events with automatic
checkpoints off, then reads each module's WAL: its frames, and the b-tree of each frame's page
(``dbstat``). The completion marks the outbox batches are written at the end and counted.

    python -m bench.sqlite_pages [--events 200] [--time 20] [--statements 20]
"""

from __future__ import annotations

import argparse
import shutil
import struct
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any


def wal_pages(path: Path) -> list[int]:
    """The page number of each frame in the WAL file ``path`` (its 32-byte header, then frames of a
    24-byte header and one page)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    if len(data) < 32:
        return []
    page_size = struct.unpack(">I", data[8:12])[0]
    out = []
    offset = 32
    while offset + 24 + page_size <= len(data):
        out.append(struct.unpack(">I", data[offset : offset + 4])[0])
        offset += 24 + page_size
    return out


def setup(tmp: Path) -> None:
    from bench.environment import bench_environment, enter

    enter(bench_environment(tmp / "var", SEAMS_EVENT_DISPATCH="inline"))


def measure(call: Any, events: int, aliases: list[str]) -> dict[str, Any]:
    from django.db import connections

    from contracts.kernel.testing import write_completions

    write_completions()
    for alias in aliases:
        with connections[alias].cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for _ in range(events):
        call()
    write_completions()
    out: dict[str, Any] = {}
    for alias in aliases:
        connection = connections[alias]
        pages = wal_pages(Path(str(connection.settings_dict["NAME"]) + "-wal"))
        if not pages:
            continue
        with connection.cursor() as cursor:
            cursor.execute("SELECT pageno, name FROM dbstat")
            owner = dict(cursor.fetchall())
        by_tree = Counter(owner.get(p, "(free/other)") for p in pages)
        out[alias] = {"frames": len(pages) / events, "trees": {k: v / events for k, v in by_tree.most_common()}}
    for alias in aliases:
        with connections[alias].cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint=1000")
    return out


def timed(variants: Any, batches: int) -> None:
    """p50 per event of each variant over ``batches`` interleaved batches of 50, and their ratio."""
    import statistics
    import time

    from contracts.kernel.testing import write_completions

    perf = time.perf_counter
    samples: dict[str, list[float]] = {"hand-written": [], "seams": []}
    calls = {"hand-written": variants.hand_written, "seams": variants.seams}
    for r in range(batches):
        for name in list(calls) if r % 2 == 0 else list(calls)[::-1]:
            call = calls[name]
            for _ in range(50):
                t = perf()
                call()
                samples[name].append(perf() - t)
        write_completions()
    p50 = {k: statistics.median(v) for k, v in samples.items()}
    print(
        f"p50 hand-written {p50['hand-written'] * 1e6:.0f} us, seams {p50['seams'] * 1e6:.0f} us,"
        f" ratio {p50['seams'] / p50['hand-written']:.2f}x ({batches} batches of 50 each, interleaved)"
    )


def statements(variants: Any, batches: int) -> None:
    """Where each variant's SQLite time goes: per statement shape and per ``COMMIT``, µs per event,
    over ``batches`` interleaved batches of 50 events. The rest of an event's time is Python.

    A frame written costs at its ``COMMIT``; a statement's own cost (b-tree searches and inserts,
    the checks, ``RETURNING``) at its ``execute``. Statements are timed by a Django
    ``execute_wrapper`` (Django's cursor wrapper and the driver's binding included), commits by
    wrapping the connection's ``_commit`` for this run only."""
    import time
    from collections import defaultdict
    from contextlib import ExitStack

    from django.db import connections
    from django.db.backends.base.base import BaseDatabaseWrapper

    from contracts.kernel.testing import write_completions

    perf = time.perf_counter
    spent: dict[str, dict[tuple[str, str], float]] = {"hand-written": defaultdict(float), "seams": defaultdict(float)}
    current: list[dict[tuple[str, str], float]] = []

    def timed_statement(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t = perf()
        try:
            return execute(sql, params, many, context)
        finally:
            if current:  # not write_completions' own, between batches
                current[0][(context["connection"].alias, " ".join(sql.split())[:60])] += perf() - t

    original = BaseDatabaseWrapper._commit

    def timed_commit(self: BaseDatabaseWrapper) -> Any:
        t = perf()
        try:
            return original(self)
        finally:
            if current:
                current[0][(self.alias, "COMMIT")] += perf() - t

    calls = {"hand-written": variants.hand_written, "seams": variants.seams}
    aliases = [a for a in connections if connections[a].vendor == "sqlite"]
    BaseDatabaseWrapper._commit = timed_commit  # type: ignore[method-assign]
    try:
        with ExitStack() as stack:
            for alias in aliases:
                stack.enter_context(connections[alias].execute_wrapper(timed_statement))
            for r in range(batches):
                for name in list(calls) if r % 2 == 0 else list(calls)[::-1]:
                    current[:] = [spent[name]]
                    for _ in range(50):
                        calls[name]()
                    current.clear()
                write_completions()  # untimed: its share is in the seams rows only when a publish rides it
    finally:
        BaseDatabaseWrapper._commit = original  # type: ignore[method-assign]
    events = batches * 50
    for name, rows in spent.items():
        print(f"{name}: {sum(rows.values()) / events * 1e6:.0f} us of SQLite per event")
        for (alias, sql), seconds in sorted(rows.items(), key=lambda item: -item[1]):
            print(f"  {seconds / events * 1e6:6.1f} us  {alias}: {sql}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sqlite_pages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--time", type=int, default=0, help="also time N interleaved batches of 50 events (p50 ratio)")
    parser.add_argument(
        "--statements", type=int, default=0, help="also time each statement and commit over N interleaved batches of 50"
    )
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="seams-sqlite-pages-"))
    try:
        setup(tmp)
        from django.db import connections

        from bench.events_micro import Variants

        variants = Variants()
        aliases = [a for a in connections if connections[a].vendor == "sqlite"]
        for call in (variants.hand_written, variants.seams):  # warm-up: tables past their first pages
            for _ in range(300):
                call()
        for name, call in (("hand-written", variants.hand_written), ("seams", variants.seams)):
            result = measure(call, args.events, aliases)
            total = sum(r["frames"] for r in result.values())
            print(f"{name}: {total:.2f} WAL frames (pages) per event")
            for alias, r in result.items():
                trees = ", ".join(f"{k} {v:.2f}" for k, v in r["trees"].items())
                print(f"  {alias}: {r['frames']:.2f}  [{trees}]")
        if args.time:
            timed(variants, args.time)
        if args.statements:
            statements(variants, args.statements)
        connections.close_all()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
