"""``manage.py modules``: what the modules are and how they connect.

    manage.py modules                       # each module: database, contracts, events
    manage.py modules graph                 # a Mermaid flowchart of contract calls and events
    manage.py modules lint-config           # write importlinter.ini (the same text for every project)
    manage.py modules lint-config --check   # fail if importlinter.ini was edited by hand (make lint runs this)
    manage.py modules baseline              # record today's violations in seams-baseline.json / drop fixed ones
    manage.py modules baseline --add        # ... and record new ones too (adopting Seams, step by step)
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from contracts.kernel.graph import render_mermaid, render_module_table
from contracts.kernel.lintconfig import COMMAND, DEFAULT_FILENAME, render_lint_config
from contracts.kernel.modules import module_configs


def default_lint_config_path() -> Path:
    return Path(getattr(settings, "BASE_DIR", Path.cwd())) / DEFAULT_FILENAME


class Command(BaseCommand):
    help = (
        "List the modules (default), draw their graph (graph), write importlinter.ini (lint-config) or record "
        "today's boundary violations (baseline)."
    )
    #: The boundary checks are what `baseline` records, so they must not stop the command from running.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="{list,graph,lint-config,baseline}")
        sub.add_parser("list", help="each module's database, contracts and events (the default)")
        sub.add_parser("graph", help="a Mermaid flowchart: contract calls (solid) and events (dotted)")
        lint = sub.add_parser("lint-config", help=f"write {DEFAULT_FILENAME} (one seams contract that reads the manifests itself)")
        lint.add_argument(
            "--output", default=None, help=f"the file to write or check (default: {DEFAULT_FILENAME} beside manage.py)"
        )
        lint.add_argument(
            "--check", action="store_true", help="write nothing; exit non-zero if the file differs from what lint-config writes"
        )

        record = sub.add_parser(
            "baseline", help="record today's boundary violations so only new ones fail (the file only shrinks)"
        )
        record.add_argument(
            "--add", action="store_true", help="also record violations that are not in the file yet (never by default)"
        )

    def handle(self, *args: Any, action: str | None = None, **options: Any) -> None:
        if action in (None, "list"):
            self.stdout.write(render_module_table(module_configs(), settings.DATABASES), ending="")
        elif action == "graph":
            self.stdout.write(render_mermaid(module_configs()), ending="")
        elif action == "baseline":
            self.baseline(add=bool(options.get("add")))
        elif action == "lint-config":
            self.lint_config(Path(options.get("output") or default_lint_config_path()), check=bool(options.get("check")))
        else:  # pragma: no cover - argparse refuses other choices
            raise CommandError(f"Unknown action {action!r}")

    def lint_config(self, path: Path, *, check: bool) -> None:
        text = render_lint_config()
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if check:
            if current == text:
                self.stdout.write(f"{path.name} is the one {COMMAND} writes.")
                return
            if current is None:
                raise CommandError(f"{path} does not exist. Run `{COMMAND}` to generate it, and commit it.")
            diff = difflib.unified_diff(
                current.splitlines(keepends=True), text.splitlines(keepends=True), f"{path.name} (on disk)", f"{path.name} (as {COMMAND} writes it)"
            )
            self.stderr.write("".join(diff), ending="")
            raise CommandError(
                f"{path} differs from the file {COMMAND} writes (edited by hand?). Run `{COMMAND}` and commit the result."
            )
        if current == text:
            self.stdout.write(f"{path} is up to date.")
            return
        path.write_text(text, encoding="utf-8")
        contracts = text.count("[importlinter:contract:")
        self.stdout.write(f"Wrote {path} ({contracts} import-linter contracts). Check with: lint-imports {path.name}")

    def baseline(self, *, add: bool) -> None:
        from contracts.kernel import baseline
        from contracts.kernel.checks import BoundaryError, baseline_path, boundary_errors

        path = baseline_path()
        current = {e.entry for e in boundary_errors() if isinstance(e, BoundaryError) and e.entry is not None}
        try:
            recorded = baseline.load(path)
        except ValueError:
            recorded = set()
        first = not path.exists()
        stale = recorded - current
        new = current - recorded
        kept = (recorded & current) | (new if add or first else set())
        path.write_text(baseline.render(kept), encoding="utf-8")
        if first:
            self.stdout.write(f"Recorded {len(kept)} boundary violation{'s' if len(kept) != 1 else ''} in {path}. Commit it.")
        else:
            added = len(new) if add else 0
            self.stdout.write(f"{path.name}: {len(stale)} fixed violation(s) removed, {added} added, {len(kept)} recorded.")
        if new and not (add or first):
            self.stderr.write(
                f"{len(new)} new violation(s) are not recorded: fix them (manage.py check names them), or record them "
                "deliberately with `manage.py modules baseline --add`."
            )
