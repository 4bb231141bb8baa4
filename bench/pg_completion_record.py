"""PostgreSQL's server cost of recording that a colocated handler ran: inbox row vs guarded completion.

Why: where the handler's transaction completes its publication (``statements.reachable_table``,
completion ``keep``), the handler's first statement used to be the compare-and-set completion and
the inbox ``INSERT`` in one ``WITH`` (before 2026-12-02); now it is the compare-and-set alone,
guarded by ``NOT EXISTS`` of the inbox row (``statements.complete_unhandled``). Wall time on a
shared host cannot show a few tens of microseconds; these counters are deterministic:

* ``EXPLAIN (ANALYZE, BUFFERS, WAL)`` of each statement, per publication (averaged over ``--rows``
  claimed publications written for it in a transaction that is rolled back: nothing stays);
* with ``--callgrind``, the server's instructions per statement: a private PostgreSQL cluster
  (``initdb`` in a temporary directory, the two module schemas copied with ``pg_dump -s``) run as a
  single-user backend under ``valgrind --tool=callgrind``, each variant's statement ``PREPARE``d and
  ``EXECUTE``d in its own transaction ``--events`` + 20 times and 20 times, the difference divided
  by ``--events`` (so the backend's start and the first, custom, plans cancel out).

    python -m bench.pg_completion_record --database-url postgres://postgres@127.0.0.1:5432/<migrated> [--callgrind]

The database must hold the migrated module schemas (``DATABASE_URL=... manage.py migrate_modules``);
the publication table is ``orders``', the inbox ``notifications``' (the shop's inline event).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

TABLE = '"orders".seams_publication'
INBOX = '"notifications".seams_inbox'
SUBSCRIBER = "modules.notifications.subscribers.on_order_placed"
_CAS = (
    f"UPDATE {TABLE} SET status = 'completed', completed_at = $1, lease_until = NULL, last_error = ''"
    " WHERE id = $2 AND status = 'processing' AND claimed_by = $3"
)
#: (SQL, parameter types, parameters from (pk, event id)); $1..$3 as ``statements._complete_claimed_sql``.
VARIANTS = {
    "inbox row (WITH ... INSERT, before)": (
        f"WITH c AS ({_CAS} RETURNING holds_back), i AS (INSERT INTO {INBOX} (event_subscriber, event_id, subscriber,"
        " handled_at) SELECT $4, $5, $6, $7 FROM c RETURNING 1) SELECT c.holds_back FROM c, i",
        "timestamptz, bigint, text, text, uuid, text, timestamptz",
        lambda pk, e: ["now()", str(pk), "'w'", f"'{e.hex}:{SUBSCRIBER}'", f"'{e}'", f"'{SUBSCRIBER}'", "now()"],
    ),
    "guarded completion (NOT EXISTS, now)": (
        f"{_CAS} AND NOT EXISTS (SELECT 1 FROM {INBOX} WHERE event_subscriber = $4) RETURNING holds_back",
        "timestamptz, bigint, text, text",
        lambda pk, e: ["now()", str(pk), "'w'", f"'{e.hex}:{SUBSCRIBER}'"],
    ),
}
_ROW = (
    f"INSERT INTO {TABLE} (position, key, event_type, subscriber, subscriber_module, status, attempts, created_at,"
    " next_attempt_at, claimed_by, lease_until, last_error, last_traceback, holds_back, event_id, version, payload,"
    " headers, publisher, occurred_at) VALUES (1000000, NULL, 'orders.OrderPlaced', '<subscriber>', 'notifications',"
    " 'processing', 1, now(), now(), 'w', now() + interval '1 hour', '', '', false, '<event>'::uuid, 1,"
    " '{\"order_id\": 1}', '{}', 'orders', now())"
)


def _row(event_id: uuid.UUID) -> str:
    """A publication to complete, claimed by ``w``, as the publisher writes it claimed."""
    return _ROW.replace("<subscriber>", SUBSCRIBER).replace("<event>", str(event_id))


def explain(url: str, rows: int) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for name, (sql, _, params) in VARIANTS.items():
            wal = records = fpi = hit = dirtied = 0
            ms = 0.0
            for _ in range(rows):
                event_id = uuid.uuid4()
                (pk,) = conn.execute(_row(event_id) + " RETURNING id").fetchone()  # type: ignore[misc]
                text = sql
                for n, value in reversed(list(enumerate(params(pk, event_id), 1))):
                    text = text.replace(f"${n}", value)
                with conn.transaction(force_rollback=True):  # the statement runs and is rolled back
                    (plan,) = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) {text}").fetchone()  # type: ignore[misc]
                conn.execute(f"DELETE FROM {TABLE} WHERE id = %s", [pk])
                top = plan[0]["Plan"]
                ms += plan[0]["Execution Time"]
                wal += top.get("WAL Bytes", 0)
                records += top.get("WAL Records", 0)
                fpi += top.get("WAL FPI", 0)
                hit += top.get("Shared Hit Blocks", 0)
                dirtied += top.get("Shared Dirtied Blocks", 0)
            print(
                f"{name}: WAL {wal / rows:.0f} B in {records / rows:.1f} records ({fpi / rows:.2f} full pages),"
                f" buffers hit {hit / rows:.1f}, dirtied {dirtied / rows:.2f}, execution {ms / rows * 1000:.0f} µs"
            )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def callgrind(url: str, events: int) -> None:
    bindir = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
    schema = subprocess.run(
        ["pg_dump", "-s", "-n", "orders", "-n", "notifications", url], capture_output=True, text=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory(prefix="seams-pgcg-") as tmp:
        data = Path(tmp) / "data"
        run_as = [] if os.geteuid() else ["runuser", "-u", "postgres", "--"]  # initdb refuses root
        if run_as:
            shutil.chown(tmp, "postgres")
        subprocess.run([*run_as, bindir / "initdb", "-D", data, "-U", "postgres", "--no-sync"], capture_output=True, check=True)
        port = _free_port()
        log = Path(tmp) / "server.log"  # not a pipe: the server outlives pg_ctl
        ctl = [*run_as, bindir / "pg_ctl", "-D", data, "-l", log, "-o", f"-p {port} -k {tmp} -c listen_addresses=''", "-w"]
        subprocess.run([*ctl, "start"], capture_output=True, check=True)
        try:
            subprocess.run([*run_as, "psql", "-h", tmp, "-p", str(port), "-U", "postgres", "-q", "-o", "/dev/null"],
                           input=schema, text=True, check=True, capture_output=True)  # fmt: skip
        finally:
            subprocess.run([*ctl, "stop"], capture_output=True, check=True)
        for name, (sql, types, params) in VARIANTS.items():
            counts = {n: _instructions(run_as, bindir, data, tmp, sql, types, params, n) for n in (20, 20 + events)}
            print(f"{name}: {(counts[20 + events] - counts[20]) / events:,.0f} server instructions per event (BEGIN, the statement, COMMIT)")


def _instructions(run_as: list, bindir: Path, data: Path, tmp: str, sql: str, types: str, params, n: int) -> int:  # type: ignore[no-untyped-def]
    ids = [uuid.uuid4() for _ in range(220)]
    lines = ["SET plan_cache_mode = auto;", f"PREPARE s({types}) AS {sql};"]
    lines += [_row(e) + ";" for e in ids]  # ids 1..220, the same setup for every n
    for pk, e in enumerate(ids[:n], 1):
        lines += ["BEGIN;", f"EXECUTE s({', '.join(params(pk, e))});", "COMMIT;"]
    out = Path(tmp) / f"callgrind.{n}.%p"
    cmd = [*run_as, "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", bindir / "postgres", "--single",
           "-D", data, "-c", "fsync=off", "postgres"]  # fmt: skip
    subprocess.run(cmd, input="\n".join(lines) + "\n", text=True, capture_output=True, check=True)
    (written,) = Path(tmp).glob(f"callgrind.{n}.*")
    summary = re.search(r"^summary: (\d+)", written.read_text(errors="replace"), re.M) or re.search(
        r"^totals: (\d+)", written.read_text(errors="replace"), re.M
    )
    written.unlink()
    assert summary is not None
    return int(summary.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pg_completion_record", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a migrated Seams PostgreSQL database (module schemas)")
    parser.add_argument("--rows", type=int, default=50, help="publications per variant for EXPLAIN")
    parser.add_argument("--events", type=int, default=200, help="statements per variant under callgrind")
    parser.add_argument("--callgrind", action="store_true", help="also count the server's instructions (valgrind)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    explain(args.database_url, args.rows)
    if args.callgrind:
        callgrind(args.database_url, args.events)
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
