"""``make bench-outbox`` runs as a new user would run it: from a shell with no ``SECRET_KEY``
(DEBUG is off in the bench, and production settings refuse to start without one).

Until 2026-12-02 it stopped at Django's setup with ``ImproperlyConfigured: DEBUG is off and
SECRET_KEY is not set``, so ``bench/RESULTS-outbox.md`` could not be regenerated. Tiny sizes: this
checks that it runs and reports, not what it measures. Needs the PostgreSQL server the bench
itself needs (127.0.0.1:5432), as the rest of the suite's PostgreSQL tests do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.stack import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[3]


def test_the_outbox_bench_runs_from_a_shell_without_a_secret_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEAMS_", "DJANGO_", "CELERY_"))}
    for name in ("SECRET_KEY", "DATABASE_URL", "DEBUG"):
        env.pop(name, None)
    report = tmp_path / "RESULTS-outbox.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench.outbox_claim", "--rows", "2000", "--backlog", "100", "--reps", "2",
         "--database-url", POSTGRES_URL, "--output", str(report)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ImproperlyConfigured" not in done.stderr
    assert report.read_text().startswith("# Outbox: claiming and relaying")
