"""``manage.py contracts``: keep a reviewable snapshot of the published language and refuse
changes that would break a peer deployed separately.

    manage.py contracts snapshot                    # write contracts/snapshot.json (refuses a breaking change)
    manage.py contracts snapshot --accept-breaking  # record a break on purpose (nothing runs the old version)
    manage.py contracts check                       # make test: fail on a breaking change, name it and the fix
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from contracts.kernel.evolution import Change, compare, describe_published_language

DEFAULT_SNAPSHOT = Path("contracts") / "snapshot.json"

FIX = (
    "A caller, provider, publisher or subscriber deployed separately may still run the old version. Keep "
    "the old shape and add beside it: a new method or an optional parameter/field, a new contract version "
    "(class CatalogV2(Contract) with version = 2, both provided) or a new event version (class OrderPlacedV2(Event) "
    "with version = 2, and @converts up- and downcasters), and retire the old one once the snapshot records "
    "that nothing uses it (docs/evolution.md). If nothing runs the old version yet, record the "
    "break: manage.py contracts snapshot --accept-breaking"
)


def snapshot_path(option: str | None) -> Path:
    configured = option or getattr(settings, "SEAMS_CONTRACTS_SNAPSHOT", None)
    return Path(configured) if configured else Path(getattr(settings, "BASE_DIR", Path.cwd())) / DEFAULT_SNAPSHOT


def render(description: dict[str, Any]) -> str:
    return json.dumps(description, indent=2, sort_keys=True) + "\n"


class Command(BaseCommand):
    help = "Snapshot the published language (contracts, events, errors) or check the code against the snapshot."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="{snapshot,check}", required=True)
        snap = sub.add_parser("snapshot", help=f"write the snapshot ({DEFAULT_SNAPSHOT})")
        snap.add_argument("--accept-breaking", action="store_true", help="write it even over a breaking change")
        check = sub.add_parser("check", help="fail if the code breaks the snapshot; list additive changes")
        for p in (snap, check):
            p.add_argument("--file", default=None, help=f"the snapshot file (default: {DEFAULT_SNAPSHOT} beside manage.py)")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        path = snapshot_path(options.get("file"))
        current = describe_published_language()
        previous = self.read(path) if path.exists() else None
        changes = compare(previous, current) if previous is not None else []
        breaking = [c for c in changes if c.breaking]
        if action == "snapshot":
            if breaking and not options["accept_breaking"]:
                raise CommandError(self.report(breaking, "refusing to record") + "\n" + FIX)
            if previous is not None and render(previous) == render(current):
                self.stdout.write(f"{path.name} is up to date.")
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(current))
            self.stdout.write(self.style.SUCCESS(
                f"Wrote {path} ({len(current['contracts'])} contracts, {len(current['events'])} events, "
                f"{len(current['errors'])} errors; {len(changes)} change(s) recorded). Commit it."
            ))
            return
        if previous is None:
            raise CommandError(f"{path} does not exist. Run: manage.py contracts snapshot, and commit the file.")
        if breaking:
            raise CommandError(self.report(breaking, "breaks the snapshot") + "\n" + FIX)
        if changes:
            self.stdout.write(self.report(changes, "adds to the snapshot (compatible)"))
            self.stdout.write("Record them with: manage.py contracts snapshot")
        else:
            self.stdout.write(f"The published language matches {path.name}.")

    def read(self, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"{path} is not a readable snapshot ({exc}). Restore it from version control.") from None
        if not isinstance(data, dict) or data.get("format") != 1:
            raise CommandError(f"{path} is not a Seams contracts snapshot (format 1). Restore it from version control.")
        return data

    @staticmethod
    def report(changes: list[Change], verb: str) -> str:
        lines = [f"The published language {verb}: {len(changes)} change(s)"]
        lines += [f"  - {change}{'  [breaking]' if change.breaking else ''}" for change in changes]
        return "\n".join(lines)
