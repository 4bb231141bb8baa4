"""``manage.py relay_events``: the outbox relay, as a loop (or ``--once``).

It releases claims whose worker died (expired leases) and re-dispatches publications that were not
completed in time: pending ones older than ``SEAMS_EVENTS['STALE_AFTER']`` seconds and failed ones
whose retry is due. Several relays may run at once (claims are compare-and-set, batches are taken
with SKIP LOCKED on PostgreSQL). ``manage.py serve`` (``make run``) runs the same loop in a thread
beside the development server, so in development nobody has to start this by hand.
"""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contracts.kernel.relay_loop import RelayLoop


class Command(BaseCommand):
    help = "Re-dispatch outbox publications that were not completed in time (runs until stopped)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between passes (default 2)")
        parser.add_argument("--once", action="store_true", help="make one pass and exit")

    def handle(self, *args: Any, interval: float, once: bool, **options: Any) -> None:
        verbose = options["verbosity"] > 1

        def report(sent: dict[str, int]) -> None:
            if any(sent.values()) or once or verbose:
                self.stdout.write("re-dispatched " + ", ".join(f"{alias}: {n}" for alias, n in sent.items()))

        try:
            loop = RelayLoop(interval, on_pass=report)
        except ValueError as exc:  # a bad --interval: one line, not a traceback
            raise CommandError(str(exc)) from None
        if once:
            from contracts.kernel.outbox import relay_once

            report(relay_once())  # one pass, and its failure is the command's failure
            return
        signal.signal(signal.SIGTERM, lambda *_: loop.stop())
        signal.signal(signal.SIGINT, lambda *_: loop.stop())
        self.stdout.write(f"Relaying events every {interval:g}s; Ctrl-C to stop.")
        loop.run()
