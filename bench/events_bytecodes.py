"""Python bytecodes one inline event executes, hand-written vs Seams, by file and by function.

Why: the CPU an event costs is noisy on a shared machine, and a profiler's per-call overhead
distorts what it attributes; the bytecodes executed are deterministic (up to the few events on
which the completion marks ride), so a change to the kernel's Python shows its effect exactly.
They do not count the time spent in C (sqlite3, json, pydantic-core): that is the database's and
the serialisers' share, which ``bench/events_micro.py`` and ``bench/sqlite_pages.py`` measure.

    python -m bench.events_bytecodes [--events 50] [--top 40]

It runs the two variants of ``bench/events_micro.py`` on throwaway SQLite files with the project's
settings (``bench/environment.py``), warmed up, with ``sys.settrace`` counting opcodes per code
object; it prints the totals per event, then the extra bytecodes of Seams per file and per function
(exclusive: a function's own bytecodes, not its callees').
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.events_bytecodes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50, help="events counted per variant")
    parser.add_argument("--top", type=int, default=40, help="functions listed")
    args = parser.parse_args(argv)
    from bench.environment import bench_environment, enter

    with tempfile.TemporaryDirectory(prefix="seams-bytecodes-") as tmp:
        enter(bench_environment(Path(tmp) / "var"), SEAMS_EVENT_DISPATCH="inline")
        from bench.events_micro import Variants, clear_mail

        variants = Variants()
        for _ in range(200):  # warm-up: caches filled, plans made, connections open
            variants.seams()
            variants.hand_written()
        clear_mail()
        hand, seams = count(variants.hand_written, args.events), count(variants.seams, args.events)
        from django.db import connections

        from contracts.kernel.testing import write_completions

        write_completions()  # before the files go
        connections.close_all()
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


if __name__ == "__main__":
    sys.exit(main())
