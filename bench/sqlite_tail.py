"""SQLite's per-event tail: where the completion marks are written and who checkpoints the WAL.

``python -m bench.sqlite_tail [--events 3000] [--runs 3]``: in one process, on throwaway SQLite files
with the project's settings (``bench.settings``), the hand-written event of ``bench/events_micro.py``
and the Seams event in four set-ups, batch by batch in rotating order:

* *before*: the marks of a full batch (``COMPLETION_BATCH``) written by the request thread that adds
  the last one, in a transaction of its own; every commit checkpoints at SQLite's default 1000 pages;
* *ride*: the marks ride on the next publish's transaction (``completions.DeferredCompletions.ride``);
* *checkpoints*: the WAL checkpointed by the background thread (``contracts/kernel/checkpoints.py``),
  ``wal_autocheckpoint`` at its fallback;
* *both*: what the kernel now does.

Reported per variant: wall-clock p50/p99/mean per event and the ratios to the hand-written event of
the same run (the machine is shared: read the ratios, and their spread over runs), plus the
thread's CPU per event (less distorted by other load than the wall clock).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BATCH = 50


def setup(tmp: Path) -> None:
    from bench.environment import bench_environment, enter

    enter(bench_environment(tmp / "var"), SEAMS_EVENT_DISPATCH="inline")


class Switches:
    """Turns the two changes on and off between batches, in this process."""

    def __init__(self) -> None:
        from contracts.kernel import checkpoints
        from contracts.kernel.outbox import backend, completions, processing
        from contracts.kernel.outbox.config import outbox_settings

        class Before(completions.DeferredCompletions):
            """The marks as they were: no ride; a full batch written by the thread adding the last."""

            def ride(self, alias: str) -> None:
                return

            def add(self, alias: str, publications: list[Any], worker: str) -> None:
                super().add(alias, publications, worker)
                with self._lock:
                    full = len(self._marks.get((alias, worker), [])) >= outbox_settings().completion_batch
                    taken = self._take((alias, worker)) if full else []
                if taken:
                    self._writer(alias, taken, worker)

        self.modules = (completions, backend, processing)
        self.now, self.before = completions.deferred, Before()
        self.checkpoints = checkpoints
        self._run_once = checkpoints.checkpointer.run_once
        self.paused = False
        checkpoints.checkpointer.run_once = self._maybe_run  # type: ignore[method-assign]

    def _maybe_run(self) -> list[tuple[str, int, int]]:
        return [] if self.paused else self._run_once()

    def set(self, ride: bool, background: bool, batch: int = 100) -> None:
        from django.conf import settings
        from django.db import connections
        from django.test.utils import override_settings

        if getattr(self, "_batch", None) is not None:
            self._batch.disable()
        self._batch = override_settings(SEAMS_EVENTS={**settings.SEAMS_EVENTS, "COMPLETION_BATCH": batch}) if batch != 100 else None
        self.now.flush()
        self.before.flush()
        for module in self.modules:
            module.deferred = self.now if ride else self.before  # type: ignore[attr-defined]
        self.paused = not background
        pages = self.checkpoints.AUTOCHECKPOINT if background else 1000
        for alias in ("orders", "notifications"):
            with connections[alias].cursor() as cursor:
                cursor.execute(f"PRAGMA wal_autocheckpoint={pages}")
        if self._batch is not None:
            self._batch.enable()


VARIANTS: dict[str, tuple[bool, ...]] = {
    "hand-written": (True, True),  # on the settings the kernel now runs with (its checkpoints)
    "before": (False, False),
    "ride": (True, False),
    "checkpoints": (False, True),
    "both": (True, True),
    "both, batch 25": (True, True, 25),
}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def run(events: int) -> dict[str, dict[str, float]]:
    from bench.events_micro import Variants, clear_mail

    variants, switches = Variants(), Switches()
    calls: dict[str, Callable[[], None]] = {name: variants.hand_written if name == "hand-written" else variants.seams for name in VARIANTS}
    wall: dict[str, list[float]] = {name: [] for name in VARIANTS}
    cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
    orders = list(itertools.permutations(VARIANTS))
    for name in VARIANTS:  # warm-up
        switches.set(*VARIANTS[name])
        for _ in range(20):
            calls[name]()
    for r in range(max(events // BATCH, 1)):
        for name in orders[(r * 97) % len(orders)]:
            switches.set(*VARIANTS[name])
            call = calls[name]
            for _ in range(BATCH):
                t, c = time.perf_counter(), time.thread_time()
                call()
                wall[name].append(time.perf_counter() - t)
                cpu[name].append(time.thread_time() - c)
        clear_mail()
    switches.set(True, True)
    hand = wall["hand-written"]
    return {
        name: {
            "p50": percentile(xs, 50) * 1e3,
            "p99": percentile(xs, 99) * 1e3,
            "mean": statistics.mean(xs) * 1e3,
            "cpu": statistics.mean(cpu[name]) * 1e3,
            "p50x": percentile(xs, 50) / percentile(hand, 50),
            "p99x": percentile(xs, 99) / percentile(hand, 99),
            "meanx": statistics.mean(xs) / statistics.mean(hand),
        }
        for name, xs in wall.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="events per variant and run")
    parser.add_argument("--runs", type=int, default=1, help="runs, one process each (this one runs one)")
    args = parser.parse_args(argv)
    if args.runs > 1:
        import subprocess

        for i in range(args.runs):
            print(f"--- run {i + 1}/{args.runs}, load average {os.getloadavg()[0]:.1f}", flush=True)
            subprocess.run([sys.executable, "-m", "bench.sqlite_tail", "--events", str(args.events)], check=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="seams-sqltail-") as tmp:
        setup(Path(tmp))
        result = run(args.events)
    print(f"{'variant':<15} {'p50 ms':>7} {'p99 ms':>7} {'mean ms':>7} {'cpu ms':>7} {'p50 x':>6} {'p99 x':>6} {'mean x':>6}")
    for name, r in result.items():
        print(f"{name:<15} {r['p50']:7.3f} {r['p99']:7.3f} {r['mean']:7.3f} {r['cpu']:7.3f} {r['p50x']:6.2f} {r['p99x']:6.2f} {r['meanx']:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
