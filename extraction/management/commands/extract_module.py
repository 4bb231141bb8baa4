"""``manage.py extract_module <name>``: write one module out as a self-contained service.

    manage.py extract_module orders                      # into build/orders-service/
    manage.py extract_module orders --out ../services    # into ../services/orders-service/
    manage.py extract_module orders --transport celery   # the monolith reaches it over Celery
    manage.py extract_module orders --dry-run            # the plan only; nothing is written

First it checks that the module can leave the process (its Seams system checks and import-linter
contracts written for it) and, if not, says what blocks it and how to fix it. Then it writes the
service, reporting each file (created, updated, unchanged, kept), and prints the one configuration
change the monolith needs. Running it again is safe: see ``extraction/toolkit/writer.py``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from contracts.kernel.errors import UnknownName
from contracts.kernel.graph import describe_database
from contracts.kernel.modules import get_module, module_configs
from extraction.toolkit.plan import TRANSPORTS, ExtractionPlan, compute_plan, contracts_dir
from extraction.toolkit.render import Options, monolith_data, service_files
from extraction.toolkit.writer import Writer, summary

STEPS = 3


class Command(BaseCommand):
    help = "Check that a module can be extracted, then write it out as a service (settings, Docker, Kubernetes)."
    # The boundary checks are part of the plan: they must not stop the command before it explains them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the module's label (manage.py modules lists them)")
        parser.add_argument(
            "--transport", choices=TRANSPORTS, default="http", help="how the monolith reaches the service (default http)"
        )
        parser.add_argument("--out", default=None, help="directory to write <name>-service/ into (default: build/)")
        parser.add_argument("--dry-run", action="store_true", help="print the plan; write nothing")
        parser.add_argument("--image", default=None, help="container image in the manifests (default <name>-service:latest)")
        parser.add_argument(
            "--monolith-url", default="http://monolith:8000", help="where the service reaches the monolith (MONOLITH_URL)"
        )
        parser.add_argument("--force", action="store_true", help="also overwrite files changed by hand since generated")

    def say(self, text: str = "") -> None:
        self.stdout.write(text)

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        try:
            module = get_module(name)
        except UnknownName as exc:
            raise CommandError(str(exc)) from None
        root = Path(getattr(settings, "BASE_DIR", Path.cwd()))
        out = Path(options["out"]) if options["out"] else root / "build"
        dry_run = bool(options["dry_run"])
        target = out.resolve() / f"{module.label}-service"

        self.say(f"Step 1/{STEPS}  Checking that '{module.label}' can be extracted "
                 "(its Seams system checks and import-linter contracts)")
        plan = compute_plan(module, root=root, all_modules=module_configs(), transport=options["transport"])
        self.print_plan(plan, target)
        if plan.blocked:
            self.say("")
            self.say(self.style.ERROR(f"'{module.label}' cannot be extracted yet: {len(plan.blockers)} blocker(s)."))
            for blocker in plan.blockers:
                self.say(blocker.render())
            raise CommandError(
                f"Fix the blocker(s) above, check with `manage.py check` and `lint-imports`, then run "
                f"`manage.py extract_module {module.label}` again. Nothing was written."
            )
        self.say("  ok: nothing blocks the extraction")

        image = options["image"] or f"{plan.service_name}:latest"
        data = monolith_data(dict(settings.DATABASES.get(module.database_alias, {})))
        service_dir = os.path.relpath(target, root) if target.is_relative_to(root.resolve()) else str(target)
        files = service_files(
            plan,
            Options(image=image, monolith_url=options["monolith_url"], data=data, service_dir=service_dir),
            contracts_dir(),
        )
        self.say(f"          The service will use the module's data where the monolith has it: {data.describe()}")
        verb = "Would write" if dry_run else "Writing"
        self.say(f"Step 2/{STEPS}  {verb} {len(files)} files to {target}")
        writer = Writer(target, dry_run=dry_run, force=bool(options["force"]), echo=self.say)
        counts = writer.write_all(files)
        self.say(f"Step 3/{STEPS}  {'Dry run, nothing written' if dry_run else 'Done'}: {summary(counts, dry_run=dry_run)}")

        variable, value = plan.monolith_binding
        self.say("")
        self.say("The monolith needs one configuration change:")
        self.say(f"  {variable}={value}")
        if not plan.provides:
            self.say(f"  ({plan.label} provides no contract, so the binding routes no call: it is reached by its events)")
        if plan.transport == "http":
            self.say(f"  (in Kubernetes; running the service locally on port 8001: {variable}=http://127.0.0.1:8001)")
        elif plan.has_api:
            gateway = f"SEAMS_GATEWAY_{plan.label.upper()}"
            self.say(f"  {gateway}=http://{plan.service_name}:8000")
            self.say(f"  (Celery carries {plan.label}'s contract calls and events; its public paths /api/{plan.label}/ are HTTP:")
            self.say("   the service's web process must run too, and the monolith's gateway forwards them to "
                     f"{gateway}; locally: {gateway}=http://127.0.0.1:8001. Without it they answer 503.)")
        else:
            self.say(f"  ({plan.label} has no public API: the service's Celery worker and beat are all that must run)")
        self.say(f"Take it back by unsetting {variable}. How to run the service: {target / 'README.md'}")

    def print_plan(self, plan: ExtractionPlan, target: Path) -> None:
        def row(key: str, value: str) -> None:
            self.say(f"  {key:<11} {value}")

        self.say(f"Extraction plan for module '{plan.label}' ({plan.package})")
        row("service", f"{target}")
        row("transport", f"{plan.transport} (the monolith reaches the service by {plan.monolith_binding[0]})")
        row("database", f"{describe_database(plan.database_alias, settings.DATABASES)}: shared, nothing copied")
        row("contracts", ", ".join(plan.contract_files))
        row("provides", ", ".join(plan.provides) or "-")
        consumes = [f"{label} ({', '.join(names)})" for label, names in plan.consumes.items()]
        row("consumes", ", ".join(consumes) + " - served by the monolith" if consumes else "-")
        row("publishes", ", ".join(plan.publishes) or "-")
        row("handles", ", ".join(plan.handles) or "-")
        forwarded = [
            f"{event} -> {', '.join(sorted({s['module'] for s in subscribers}))}"
            for event, subscribers in plan.remote_subscribers.items()
        ]
        row("forwards", "; ".join(forwarded) + " (handlers in the monolith)" if forwarded else "-")
        row("public API", f"modules/{plan.label}/api.py at /api/{plan.label}/" if plan.has_api else "-")
        for note in plan.notes:
            row("note", note)
