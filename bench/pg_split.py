"""Where one PostgreSQL event's time goes: this process's CPU, the server backends' CPU, the WAL it
writes, and the rest (waiting on the network and the disk), hand-written vs Seams.

``python -m bench.pg_split [--rounds 12] [--events 100]``: the two variants of ``bench/events_micro.py``
(the same insert and email, a signal receiver ``on_commit`` vs ``publish`` with the outbox and inline
dispatch) on a throwaway PostgreSQL database, in batches of ``--events``, alternating. Per event,
median over the batches: wall time; this process's CPU (``time.process_time``: every thread, so a
background thread's work would show); the CPU of the server backends serving this process's
connections (``/proc/<pid>/stat`` of each ``pg_backend_pid()``: needs the server on this machine and
the right to read its processes); the WAL written (``pg_current_wal_lsn()`` before and after: the
whole cluster's, so run it on a quiet server); what is left is waiting. It prints, and writes nothing:
it says which side a gap on PostgreSQL is on before anyone optimises it (docs/events.md, the
benchmark's PostgreSQL paragraph).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.environment import bench_environment, enter
from bench.events_micro import DEFAULT_REDIS
from bench.transports import admin, with_database

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"


def backend_pids() -> set[int]:
    from django.db import connections

    pids = set()
    for alias in connections:
        connection = connections[alias]
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pids.add(cursor.fetchone()[0])
    return pids


def server_cpu(pids: set[int]) -> float:
    """Seconds on a CPU of the backends ``pids``, to the nanosecond: ``/proc/<pid>/schedstat``'s first
    field (the scheduler's run time). ``/proc/<pid>/stat``'s utime + stime count clock ticks (10 ms),
    50-100 µs per event over a batch of 100: coarser than the differences this bench looks for.
    Falls back to the ticks where schedstat is missing."""
    total = 0.0
    for pid in pids:
        schedstat = Path(f"/proc/{pid}/schedstat")
        if schedstat.exists():
            total += int(schedstat.read_text().split()[0]) / 1e9
        else:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return total


def wal_position() -> int:
    from django.db import connections

    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        return int(cursor.fetchone()[0])


def measure(rounds: int, events: int) -> dict[str, list[tuple[float, float, float, float]]]:
    from bench.events_micro import Variants, clear_mail

    variants = Variants()
    calls = {"hand-written": variants.hand_written, "seams": variants.seams}
    for call in calls.values():  # warm-up: connections, prepared statements, caches
        for _ in range(30):
            call()
    batches: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in calls}
    for r in range(rounds):
        for name in list(calls) if r % 2 == 0 else list(calls)[::-1]:
            pids = backend_pids()
            wal, server, cpu, wall = wal_position(), server_cpu(pids), time.process_time(), time.perf_counter()
            for _ in range(events):
                calls[name]()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            server, wal = server_cpu(pids) - server, wal_position() - wal
            batches[name].append((wall / events, cpu / events, server / events, wal / events))
            clear_mail()
    return batches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pg_split", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_POSTGRES, help="the PostgreSQL server (on this machine)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="seams-bench-pg-split-"))
    db_name = f"seams_bench_pg_split_{secrets.token_hex(4)}"
    admin(args.database_url, f'CREATE DATABASE "{db_name}"')
    try:
        base = bench_environment(
            tmp / "var",
            PYTHONPATH=str(Path(__file__).resolve().parent.parent),
            CELERY_BROKER_URL=args.redis_url,
            CELERY_RESULT_BACKEND=args.redis_url,
        )
        base["DATABASE_URL"] = with_database(args.database_url, db_name)
        enter(base, SEAMS_EVENT_DISPATCH="inline")
        batches = measure(args.rounds, args.events)
        medians = {name: [statistics.median(b[i] for b in rows) for i in range(4)] for name, rows in batches.items()}
        for name, (wall, cpu, server, wal) in medians.items():
            print(
                f"{name:13s} wall {wall * 1e6:6.0f} us   this process's CPU {cpu * 1e6:6.0f} us   "
                f"server CPU {server * 1e6:6.0f} us   waiting {(wall - cpu - server) * 1e6:6.0f} us   "
                f"WAL {wal:5.0f} B"
            )
        hand, seams = medians["hand-written"], medians["seams"]
        print(
            f"ratio Seams / hand-written: wall {seams[0] / hand[0]:.2f}x, CPU {seams[1] / hand[1]:.2f}x, "
            f"server {seams[2] / hand[2]:.2f}x, WAL {seams[3] / hand[3]:.2f}x"
        )
        from django.db import connections

        connections.close_all()
        return 0
    finally:
        admin(args.database_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
