"""``manage.py relay_events``: the outbox relay, as a loop (or ``--once``).

It releases claims whose worker died (expired leases) and re-dispatches publications that were not
completed in time: pending ones older than ``SEAMS_EVENTS['STALE_AFTER']`` seconds and failed ones
whose retry is due. Several relays may run at once (claims are compare-and-set, batches are taken
with SKIP LOCKED on PostgreSQL).
"""

from __future__ import annotations

import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from contracts.kernel.outbox import relay_once


class Command(BaseCommand):
    help = "Re-dispatch outbox publications that were not completed in time (runs until stopped)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between passes (default 2)")
        parser.add_argument("--once", action="store_true", help="make one pass and exit")

    def handle(self, *args: Any, interval: float, once: bool, **options: Any) -> None:
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if not once:
            self.stdout.write(f"Relaying events every {interval:g}s; Ctrl-C to stop.")
        while True:
            sent = relay_once()
            if any(sent.values()) or once or options["verbosity"] > 1:
                self.stdout.write("re-dispatched " + ", ".join(f"{alias}: {n}" for alias, n in sent.items()))
            if once or stopping:
                return
            deadline = time.monotonic() + interval
            while not stopping and time.monotonic() < deadline:
                time.sleep(min(0.2, interval))
            if stopping:
                return
