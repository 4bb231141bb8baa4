"""What extracting one module takes: an :class:`ExtractionPlan`.

The plan names the module, the contract declaration files the service needs (``contracts/kernel``,
the module's own ``contracts/<label>.py``, those of the contracts it consumes and of the events it
handles, and whatever declarations those import in turn), the modules it will reach over the
network, and what **blocks** the extraction:

* the Seams system checks (``seams.E0xx``) that concern the module: its own boundary errors, a
  relation or an import from another module into it, a contract it serves or calls whose types
  cannot cross the network;
* import-linter contracts written for this module only (the module imports no other module and no
  other module imports it, it imports neither ``app`` nor ``extraction``, it imports only the
  declarations it declares, and the declarations copied with it import no implementation).

Every blocker says what to fix. The functions that decide are pure (explicit inputs), so they are
unit-testable; :func:`compute_plan` feeds them the running project.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.core import checks
from django.db import models as django_models

from contracts.kernel import ModuleConfig
from contracts.kernel.lintconfig import ROOT_PACKAGES

#: The transports a service can be reached by (the value of ``SEAMS_BIND_<LABEL>`` in the monolith).
TRANSPORTS = ("http", "celery")

#: Port the generated service listens on (container and Kubernetes Service).
SERVICE_PORT = 8000


@dataclass(frozen=True)
class Blocker:
    """One reason the module cannot be extracted yet, and what to do about it."""

    source: str  # "seams.E013", "import-linter"
    problem: str
    fix: str
    details: str = ""

    def render(self) -> str:
        lines = [f"[{self.source}] {self.problem}", f"    fix: {self.fix}"]
        lines += [f"    {line}" if line else "" for line in self.details.strip("\n").splitlines()]
        return "\n".join(line.rstrip() for line in lines)


@dataclass
class ExtractionPlan:
    """Everything ``extract_module`` needs to know about one module."""

    label: str
    package: str  # modules.orders
    module_dir: Path
    root: Path  # the monolith's directory (beside manage.py)
    database_alias: str
    declarations: list[str]  # labels of the contracts/<x>.py files the service needs
    provides: list[str] = field(default_factory=list)
    consumes: dict[str, list[str]] = field(default_factory=dict)  # provider label -> contract names
    publishes: list[str] = field(default_factory=list)
    handles: list[str] = field(default_factory=list)
    #: Handlers in other modules (they stay in the monolith) of the events this module publishes:
    #: event type -> [{"subscriber": dotted name, "module": label}], the service's SEAMS_REMOTE_SUBSCRIBERS.
    remote_subscribers: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    #: Who may call each contract the module provides: the modules whose manifests consume it (the
    #: service cannot import their manifests; it is told at extraction time, SEAMS_ALLOWED_CALLERS).
    allowed_callers: dict[str, list[str]] = field(default_factory=dict)
    #: The modules the monolith keeps serving: those its service key may speak for (its trust entry).
    staying_modules: list[str] = field(default_factory=list)
    has_api: bool = False
    transport: str = "http"
    blockers: list[Blocker] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return bool(self.blockers)

    @property
    def service_name(self) -> str:
        return f"{self.label}-service"

    @property
    def contract_files(self) -> list[str]:
        """Paths (relative to the project) of the declaration files copied into the service."""
        return ["contracts/__init__.py", "contracts/kernel/", *(f"contracts/{x}.py" for x in self.declarations)]

    @property
    def consumed_modules(self) -> list[str]:
        """Modules whose contracts the service calls: served by the monolith, over the transport."""
        return sorted(self.consumes)

    @property
    def monolith_modules(self) -> list[str]:
        """Modules the service reaches in the monolith: those it calls and those that handle its
        events. The service binds each of them back to the monolith."""
        return sorted(set(self.consumes) | {s["module"] for subs in self.remote_subscribers.values() for s in subs})

    @property
    def monolith_binding(self) -> tuple[str, str]:
        """The one configuration change the monolith needs: (variable, value)."""
        value = "celery" if self.transport == "celery" else f"http://{self.service_name}:{SERVICE_PORT}"
        return bind_variable(self.label), value


def bind_variable(label: str) -> str:
    return f"SEAMS_BIND_{label.upper()}"


# --- contract declarations ------------------------------------------------------------------------
def declaration_imports(path: Path) -> set[str]:
    """Labels of the ``contracts.<x>`` declarations a Python file imports (``kernel`` excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] if "." in node.module else [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "contracts" and len(parts) > 1 and parts[1] != "kernel" and not parts[1].startswith("_"):
                found.add(parts[1])
    return found


def needed_declarations(allowed: Iterable[str], contracts_dir: Path) -> list[str]:
    """The declaration files a module needs: those it may import (its own, the contracts it consumes,
    the events it handles) that exist, plus every declaration those import, transitively."""
    pending = [label for label in allowed if (contracts_dir / f"{label}.py").is_file()]
    needed: set[str] = set()
    while pending:
        label = pending.pop()
        if label in needed:
            continue
        needed.add(label)
        for other in declaration_imports(contracts_dir / f"{label}.py"):
            if (contracts_dir / f"{other}.py").is_file() and other not in needed:
                pending.append(other)
    return sorted(needed)


# --- blockers from the system checks ---------------------------------------------------------------
def _contract_names(contracts: Iterable[object]) -> set[str]:
    return {getattr(c, "__seams_name__", str(c)) for c in contracts}


def concerns_module(message: checks.CheckMessage, module: ModuleConfig) -> bool:
    """Whether a system-check message is about this module or stands in the way of serving it apart."""
    obj = message.obj
    label = module.label
    if isinstance(obj, type) and issubclass(obj, django_models.Model):
        if obj._meta.app_label == label:
            return True
    elif isinstance(obj, str):
        if obj in {label, module.name} or obj.startswith(module.name + "."):
            return True
        # A contract it serves or calls must cross the network (E003) and be served exactly once.
        if obj in _contract_names([*module.provides, *module.consumes]):
            return True
    text = message.msg
    # Another module holding a relation to one of its models, or importing its package.
    return (message.id == "seams.E001" and f" to {label}." in text) or (
        message.id == "seams.E013" and (f"imports modules.{label} " in text or f"imports modules.{label}." in text)
    )


def check_blockers(messages: Iterable[checks.CheckMessage], module: ModuleConfig) -> tuple[list[Blocker], list[str]]:
    """Errors that concern the module become blockers; warnings become notes."""
    blockers, notes = [], []
    for message in messages:
        if not concerns_module(message, module):
            continue
        if message.level >= checks.ERROR:
            blockers.append(Blocker(message.id or "check", message.msg, message.hint or "see docs/checks.md"))
        elif message.level >= checks.WARNING:
            notes.append(f"{message.id}: {message.msg}")
    return blockers, notes


def seams_check_messages() -> list[checks.CheckMessage]:
    """Run the project's Seams system checks (``manage.py check --tag seams``)."""
    from django.core.checks.registry import registry

    return list(registry.run_checks(tags=["seams"]))


# --- blockers from import-linter -------------------------------------------------------------------
def _values(items: Iterable[str]) -> str:
    return "".join(f"\n    {item}" for item in items)


def _section(key: str, name: str, **fields: Sequence[str] | str) -> str:
    lines = [f"[importlinter:contract:{key}]", f"name = {name}", "type = forbidden"]
    for option, value in fields.items():
        lines.append(f"{option} = {value}" if isinstance(value, str) else f"{option} ={_values(value)}")
    return "\n".join(lines) + "\n"


def module_lint_config(
    module: ModuleConfig,
    other_packages: Sequence[str],
    declarations: Sequence[str],
    needed: Sequence[str],
    root_packages: Sequence[str] = ROOT_PACKAGES,
) -> str:
    """The import-linter configuration that must hold for ``module`` to leave the process.

    Each contract's name is what to fix when it breaks. ``declarations`` are every
    ``contracts/<x>.py`` label; ``needed`` those copied into the service.
    """
    label, package = module.label, module.name
    others = sorted(p for p in other_packages if p != package)
    sections = [f"[importlinter]\nroot_packages ={_values(root_packages)}\n"]
    if others:
        sections.append(
            _section(
                f"{label}-imports-no-module",
                f"{package} imports no other module, directly or through a helper (call it through use(Contract) "
                f"or react to its events with @subscribe)",
                source_modules=[package],
                forbidden_modules=others,
            )
        )
        sections.append(
            _section(
                f"no-module-imports-{label}",
                f"No other module imports {package}, directly or through a helper (it is leaving the process: "
                f"reach it through its contract or its events)",
                source_modules=others,
                forbidden_modules=[package],
            )
        )
    sections.append(
        _section(
            f"{label}-imports-no-app",
            f"{package} imports neither app nor extraction (the service has no app package; it gets what it "
            f"needs through settings)",
            source_modules=[package],
            forbidden_modules=[p for p in ("app", "extraction") if p in root_packages],
        )
    )
    allowed = module.allowed_contract_modules()
    forbidden = [f"contracts.{x}" for x in declarations if x not in allowed]
    if forbidden:
        sections.append(
            _section(
                f"{label}-declared-contracts",
                f"{package} imports only the declarations it consumes or whose events it handles (declare them "
                f"in {module.manifest_location()} consumes, or @subscribe to their events)",
                source_modules=[package],
                forbidden_modules=forbidden,
                allow_indirect_imports="true",
            )
        )
    sections.append(
        _section(
            f"{label}-declarations-import-no-implementation",
            "The contract declarations copied into the service import no module, app or extraction (a "
            "declaration imports only contracts.kernel and other declarations)",
            source_modules=["contracts.kernel", *(f"contracts.{x}" for x in needed)],
            forbidden_modules=[p for p in ("modules", "app", "extraction") if p in root_packages],
        )
    )
    return "\n".join(sections)


def parse_lint_report(output: str) -> dict[str, str]:
    """Broken contracts of an import-linter report: name -> the import chains that break it."""
    broken = [line[: -len(" BROKEN")] for line in output.splitlines() if line.endswith(" BROKEN")]
    tail = output.split("Broken contracts\n----------------\n", 1)[-1] if broken else ""
    details: dict[str, str] = {}
    for name in broken:
        header = f"{name}\n{'-' * len(name)}\n"
        start = tail.find(header)
        if start < 0:
            details[name] = ""
            continue
        body = tail[start + len(header) :]
        ends = [body.find(f"\n{other}\n{'-' * len(other)}\n") for other in broken if other != name]
        ends = [e for e in ends if e >= 0]
        details[name] = body[: min(ends)] if ends else body
    return {name: text.strip("\n") for name, text in details.items()}


def lint_imports_executable() -> str | None:
    candidate = Path(sys.executable).parent / "lint-imports"
    return str(candidate) if candidate.exists() else shutil.which("lint-imports")


def lint_blockers(config_text: str, root: Path) -> tuple[list[Blocker], list[str]]:
    """Run import-linter on ``root`` with ``config_text``; broken contracts become blockers."""
    executable = lint_imports_executable()
    if executable is None:
        return [], ["import-linter is not installed (pip install import-linter): boundary imports not verified"]
    with tempfile.TemporaryDirectory(prefix="seams-extract-") as tmp:
        config = Path(tmp) / "importlinter.ini"
        config.write_text(config_text, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        env["COLUMNS"] = "300"  # one import chain per line
        result = subprocess.run(
            [executable, str(config), "--no-cache", "--no-logo"],
            cwd=root, env=env, capture_output=True, text=True, timeout=600,
        )
    output = result.stdout + result.stderr
    if result.returncode == 0:
        return [], []
    broken = parse_lint_report(output)
    if not broken:  # import-linter itself failed (bad configuration, unimportable package)
        return [Blocker("import-linter", "lint-imports failed to run", "run it by hand and fix what it reports", output)], []
    blockers = []
    for name, chains in broken.items():
        problem, _, fix = name.partition(" (")  # each contract's name ends with what to do, in parentheses
        blockers.append(Blocker("import-linter", f"broken: {problem}", fix[:-1] if fix.endswith(")") else fix or name, chains))
    return blockers, []


# --- events that leave the service ---------------------------------------------------------------------
def remote_subscribers_of(module: ModuleConfig, all_modules: Sequence[ModuleConfig]) -> dict[str, list[dict[str, str]]]:
    """The other modules' handlers of the events ``module`` publishes (the service cannot import
    them; it forwards those events to the monolith). Only modules under ``modules/`` count."""
    from contracts.kernel.registry import get_registry

    project = {m.label for m in all_modules if m.name == f"modules.{m.label}" and m.label != module.label}
    found: dict[str, list[dict[str, str]]] = {}
    for event in module.publishes:
        subscribers = [s for s in get_registry().subscribers_for(event.event_type) if s.module in project]
        if subscribers:
            found[event.event_type] = [{"subscriber": s.name, "module": s.module} for s in sorted(subscribers, key=lambda s: s.name)]
    return found


# --- the plan ----------------------------------------------------------------------------------------
def contracts_dir() -> Path:
    import contracts

    return Path(contracts.__file__).resolve().parent


def compute_plan(
    module: ModuleConfig,
    *,
    root: Path,
    all_modules: Sequence[ModuleConfig],
    transport: str = "http",
    run_checks: bool = True,
    run_lint: bool = True,
) -> ExtractionPlan:
    """The plan for ``module`` in the running project (``root`` is the directory of manage.py)."""
    from contracts.kernel.lintconfig import declaration_labels

    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
    directory = contracts_dir()
    needed = needed_declarations(module.allowed_contract_modules(), directory)
    consumes: dict[str, list[str]] = {}
    for contract in module.consumes:
        if contract.__seams_module__ != module.label:
            consumes.setdefault(contract.__seams_module__, []).append(contract.__name__)
    handled = module.handles if module.handles is not None else module.handled_events()
    remote = remote_subscribers_of(module, all_modules)
    module_dir = Path(module.path)
    plan = ExtractionPlan(
        label=module.label,
        package=module.name,
        module_dir=module_dir,
        root=root,
        database_alias=module.database_alias,
        declarations=needed,
        provides=[c.__seams_name__ for c in module.provides],
        consumes={k: sorted(v) for k, v in sorted(consumes.items())},
        publishes=[e.event_type for e in module.publishes],
        handles=sorted(e.event_type for e in handled),
        remote_subscribers=remote,
        allowed_callers={
            c.__seams_name__: sorted(m.label for m in all_modules if m.label != module.label and c in tuple(m.consumes))
            for c in module.provides
        },
        staying_modules=sorted(m.label for m in all_modules if m.label != module.label),
        has_api=(module_dir / "api.py").is_file(),
        transport=transport,
    )
    if module.name != f"modules.{module.label}":
        plan.blockers.append(
            Blocker(
                "layout",
                f"{module.name} is not modules.{module.label}",
                "the toolkit copies modules/<label>/; keep the package name and the label the same",
            )
        )
    if run_checks:
        blockers, notes = check_blockers(seams_check_messages(), module)
        plan.blockers += blockers
        plan.notes += notes
    else:
        plan.notes.append("system checks skipped")
    if run_lint:
        packages = [p for p in ROOT_PACKAGES if (root / p).is_dir()]
        config = module_lint_config(
            module,
            [m.name for m in all_modules if m.name.split(".")[0] in packages],
            declaration_labels(),
            needed,
            root_packages=packages,
        )
        blockers, notes = lint_blockers(config, root)
        plan.blockers += blockers
        plan.notes += notes
    else:
        plan.notes.append("import-linter contracts skipped")
    return plan
