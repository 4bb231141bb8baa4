"""Python bytecodes one inline event executes, hand-written vs Seams, by file and by function.

Why: the CPU an event costs is noisy on a shared machine, and a profiler's per-call overhead
distorts what it attributes; the bytecodes executed are deterministic (up to the few events on
which the completion marks ride), so a change to the kernel's Python shows its effect exactly.
They do not count the time spent in C (sqlite3, json, pydantic-core): that is the database's and
the serialisers' share, which ``bench/events_micro.py`` and ``bench/sqlite_pages.py`` measure.

    python -m bench.events_bytecodes [--events 50] [--top 40] [--segments] [--database-url postgres://...]

It runs the two variants of ``bench/events_micro.py`` on throwaway SQLite files with the project's
settings (``bench/environment.py``), or with ``--database-url`` on a throwaway PostgreSQL database of
that server (psycopg's own Python counted too, its C and the server not), warmed up, with ``sys.settrace`` counting opcodes per code
object; it prints the totals per event, then the extra bytecodes of Seams per file and per function
(exclusive: a function's own bytecodes, not its callees').

``--segments`` counts instead, per event, the two stretches between the handler side's SQL: from
the publisher's COMMIT to the subscriber's BEGIN (the after-commit dispatch, ``dispatch.py`` and
``processing.deliver_claimed``), and from the subscriber's last statement to its COMMIT (the handler
returning, ``inbox.handle_once``, the transaction's exit), each by function.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

Key = tuple[str, int, str]


def where(path: str) -> str:
    """A code object's file, short: relative to site-packages or to the project."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    stdlib = re.search(r"/lib/python3\.\d+/(.*)", path)
    if stdlib:
        return stdlib.group(1)
    root = str(Path(__file__).resolve().parent.parent) + "/"
    return path.removeprefix(root)


def count(call: Callable[[], None], events: int) -> dict[Key, float]:
    """Bytecodes per event of ``call``, by (file, first line, function)."""
    ops: collections.Counter[Key] = collections.Counter()

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            code = frame.f_code
            ops[(code.co_filename, code.co_firstlineno, code.co_name)] += 1
        return tracer

    sys.settrace(tracer)
    try:
        for _ in range(events):
            call()
    finally:
        sys.settrace(None)
    return {key: n / events for key, n in ops.items()}


#: The calls that mark the handler side's SQL: a durable commit, a BEGIN, a statement sent.
_MARKS = {"_commit": "COMMIT", "_start_transaction_under_autocommit": "BEGIN", "_execute": "SQL"}


def trail(call: Callable[[], None]) -> list[Key | str]:
    """One call's opcodes in order, by code object, with ``_MARKS`` where those functions are entered."""
    seen: list[Key | str] = []

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        code = frame.f_code
        if event == "call" and code.co_name in _MARKS and "django/db/" in code.co_filename:
            seen.append(_MARKS[code.co_name])
        elif event == "opcode":
            seen.append((code.co_filename, code.co_firstlineno, code.co_name))
        return tracer

    sys.settrace(tracer)
    try:
        call()
    finally:
        sys.settrace(None)
    return seen


def segments(seen: list[Key | str]) -> dict[str, collections.Counter[Key]]:
    """The opcodes from the first COMMIT to the next BEGIN, and from the last statement before the
    second COMMIT to it."""
    marks = [(i, m) for i, m in enumerate(seen) if isinstance(m, str)]
    commits = [i for i, m in marks if m == "COMMIT"]
    begin = next(i for i, m in marks if m == "BEGIN" and i > commits[0])
    last_sql = max(i for i, m in marks if m == "SQL" and i < commits[1])
    pieces = {"publisher COMMIT -> subscriber BEGIN": seen[commits[0] : begin], "last statement -> subscriber COMMIT": seen[last_sql : commits[1]]}
    return {name: collections.Counter(k for k in piece if not isinstance(k, str)) for name, piece in pieces.items()}


def print_segments(variants: Any, events: int, top: int) -> None:
    totals: dict[str, dict[str, collections.Counter[Key]]] = {}
    for name, call in (("hand-written", variants.hand_written), ("seams", variants.seams)):
        summed: dict[str, collections.Counter[Key]] = collections.defaultdict(collections.Counter)
        for _ in range(events):
            for piece, counts in segments(trail(call)).items():
                summed[piece].update(counts)
        totals[name] = summed
    for piece in totals["seams"]:
        hand, seams = totals["hand-written"][piece], totals["seams"][piece]
        print(f"\n{piece}: hand-written {sum(hand.values()) / events:,.0f}, Seams {sum(seams.values()) / events:,.0f} bytecodes per event")
        print("  (extra, hand-written, Seams)")
        rows = sorted(((seams[k] - hand[k], hand[k], seams[k], k) for k in {*hand, *seams}), key=lambda r: -abs(r[0]))
        for extra, h, n, key in rows[:top]:
            print(f"{extra / events:8.0f} {h / events:7.0f} {n / events:7.0f}  {where(key[0])}:{key[1]}({key[2]})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.events_bytecodes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50, help="events counted per variant")
    parser.add_argument("--top", type=int, default=40, help="functions listed")
    parser.add_argument("--segments", action="store_true", help="the handler side's stretches between its SQL instead")
    parser.add_argument("--database-url", help="a PostgreSQL server to count on (a throwaway database of it) instead of SQLite")
    args = parser.parse_args(argv)
    if args.database_url:
        import secrets

        from bench.transports import admin, with_database

        name = f"seams_bench_bytecodes_{secrets.token_hex(4)}"
        admin(args.database_url, f'CREATE DATABASE "{name}"')
        try:
            return _main(args, with_database(args.database_url, name))
        finally:
            admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return _main(args, None)


def _main(args: argparse.Namespace, database_url: str | None) -> int:
    from bench.environment import bench_environment, enter

    with tempfile.TemporaryDirectory(prefix="seams-bytecodes-") as tmp:
        extra = {"DATABASE_URL": database_url} if database_url else {}
        enter(bench_environment(Path(tmp) / "var", **extra), SEAMS_EVENT_DISPATCH="inline")
        from bench.events_micro import Variants, clear_mail

        variants = Variants()
        for _ in range(200):  # warm-up: caches filled, plans made, connections open
            variants.seams()
            variants.hand_written()
        clear_mail()
        if args.segments:
            print_segments(variants, args.events, args.top)
            return _close()
        hand, seams = count(variants.hand_written, args.events), count(variants.seams, args.events)
        _close()
    print(f"bytecodes per event: hand-written {sum(hand.values()):,.0f}, Seams {sum(seams.values()):,.0f}")
    rows = sorted(((seams.get(k, 0) - hand.get(k, 0), hand.get(k, 0), seams.get(k, 0), k) for k in {*hand, *seams}), reverse=True)
    by_file: collections.Counter[str] = collections.Counter()
    for extra, _, _, key in rows:
        by_file[where(key[0])] += extra
    print("\nSeams' extra bytecodes per event, by file:")
    for path, extra in by_file.most_common(20):
        print(f"{extra:8.0f}  {path}")
    print(f"\nby function (extra, hand-written, Seams), the top {args.top}:")
    for extra, h, s, (path, line, name) in rows[: args.top]:
        print(f"{extra:8.0f} {h:7.0f} {s:7.0f}  {where(path)}:{line}({name})")
    return 0


def _close() -> int:
    from django.db import connections

    from contracts.kernel.testing import write_completions

    write_completions()  # before the files go
    connections.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
