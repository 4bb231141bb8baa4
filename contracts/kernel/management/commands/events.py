"""``manage.py events``: inspect and operate the event publication registry.

    manage.py events                                # = events stats
    manage.py events stats                          # per module: events stored, publications by status
    manage.py events list --status dead [--module orders] [--type orders.OrderPlaced]
    manage.py events show orders:42                 # payload, error and traceback
    manage.py events resubmit orders:42 orders:43   # or --type T / --module M [--dead-only]
    manage.py events purge [--older-than 7d]        # delete completed publications
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from contracts.kernel.errors import UnknownName
from contracts.kernel.operations import (
    check_resubmittable,
    describe,
    event_stats,
    known_event_type,
    known_module,
    list_publications,
    purge_completed,
    resubmit,
    unsubscribed_events,
)

_DURATION = re.compile(r"^(\d+)([smhd])$")


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise CommandError(f"'{text}' is not a duration: use a number and s, m, h or d (e.g. 30m, 7d)")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]
    try:
        return timedelta(**{unit: int(match[1])})
    except OverflowError:
        raise CommandError(f"'{text}' is too long a duration (more than any date can be before now)") from None


def positive_int(text: str) -> int:
    """``--limit``: a whole number of at least 1 (argparse names the option on refusal)."""
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive whole number")
    return int(text)


class Command(BaseCommand):
    help = "Inspect and operate event publications: stats, list, show, resubmit, purge."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action")
        sub.add_parser("stats", help="per module: events stored, publications by status (the default)")
        listing = sub.add_parser("list", help="list publications, newest first")
        listing.add_argument("--status", help="pending, processing, failed, completed or dead")
        listing.add_argument("--module", help="publishing module")
        listing.add_argument("--type", dest="event_type", help="event type, e.g. orders.OrderPlaced")
        listing.add_argument("--limit", type=positive_int, default=50, help="at most this many (default 50)")
        show = sub.add_parser("show", help="everything about one publication")
        show.add_argument("ref", help="<module>:<id>")
        again = sub.add_parser("resubmit", help="deliver failed/dead publications again")
        again.add_argument("refs", nargs="*", help="<module>:<id> ...")
        again.add_argument("--type", dest="event_type")
        again.add_argument("--module", help="publishing or subscribing module")
        again.add_argument("--dead-only", action="store_true")
        purge = sub.add_parser("purge", help="delete completed publications")
        purge.add_argument("--older-than", default="0s", help="e.g. 30m, 12h, 7d (default: all)")

    def handle(self, *args: Any, action: str | None = None, **options: Any) -> None:
        try:
            getattr(self, f"do_{action or 'stats'}")(**options)
        except (UnknownName, ValueError) as exc:
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:  # e.g. a fresh clone's databases, not migrated yet: one line, no traceback
            raise CommandError(
                f"{type(exc).__name__}: {exc}. Are the module databases migrated and reachable? "
                "(manage.py migrate_modules, or make migrate)"
            ) from None

    def do_stats(self, **_: Any) -> None:
        stats = event_stats()  # read first: a database error then prints no header before it
        # Two kinds of count: events (one per publish()) and publications (one per event and
        # subscriber, each with its own status). The header says which column is which.
        self.stdout.write(f"{'':<16}{'':>8}  {'publications (one per event and subscriber)':<54}")
        self.stdout.write(
            f"{'module':<16}{'events':>8}  {'pending':>8}{'processing':>11}{'failed':>8}{'completed':>10}{'dead':>6}{'backlog':>9}"
        )
        for s in stats:
            self.stdout.write(
                f"{s.module:<16}{s.published:>8}  {s.pending:>8}{s.processing:>11}{s.failed:>8}{s.completed:>10}{s.dead:>6}{s.backlog:>9}"
            )

    def do_list(self, *, status: str | None, module: str | None, event_type: str | None, limit: int, **_: Any) -> None:
        if event_type:
            known_event_type(event_type)  # a misspelt type is an error, not "no publications match"
        rows = list_publications(status=status, module=module, event_type=event_type, limit=limit)
        unsubscribed = [] if status else unsubscribed_events(module=module, event_type=event_type)
        if not rows and not unsubscribed:
            self.stdout.write("no publications match")
        for alias, p in rows:
            error = f"  {p.last_error[:80]}" if p.last_error else ""
            self.stdout.write(f"{alias}:{p.pk:<8} {p.status:<10} {p.attempts:>2}x {p.event_type:<32} -> {p.subscriber}{error}")
        for alias, event_type_, count in unsubscribed:
            self.stdout.write(
                f"{alias}: {count} x {event_type_} stored with no publication: no module subscribes to it "
                f"(manage.py modules graph shows who handles what)"
            )

    def do_show(self, *, ref: str, **_: Any) -> None:
        from contracts.kernel.operations import parse_ref

        info = describe(*parse_ref(ref))
        traceback = info.pop("traceback")
        for name, value in info.items():
            shown = json.dumps(value, indent=2, default=str) if isinstance(value, dict) else value
            self.stdout.write(f"{name:>16}: {shown}")
        if traceback:
            self.stdout.write("       traceback:\n" + traceback)

    def do_resubmit(self, *, refs: list[str], event_type: str | None, module: str | None, dead_only: bool, **_: Any) -> None:
        # What resubmit() would quietly leave alone ("resubmitted 0") is refused here, before anything changes.
        check_resubmittable(refs, dead_only=dead_only)
        if module:
            known_module(module)
        if event_type:
            known_event_type(event_type)
        count = resubmit(refs=refs or None, event_type=event_type, module=module, dead_only=dead_only)
        self.stdout.write(f"resubmitted {count} publication(s)")

    def do_purge(self, *, older_than: str, **_: Any) -> None:
        try:
            count = purge_completed(parse_duration(older_than))
        except OverflowError:  # a valid timedelta, but now minus it is before year 1
            raise CommandError(f"'{older_than}' is too long a duration (more than any date can be before now)") from None
        self.stdout.write(f"purged {count} completed publication(s)")
