"""The whole boundary rule over a project's source, without Django: what ``lint-imports`` enforces.

``find_violations(root)`` builds the import graph of *every* top-level package beside
``manage.py`` (``sourcefacts.project_packages``: a ``shared/`` or ``utils.py`` added later is in
it the day it appears) with grimp, reads each module's manifest from its ``apps.py``, and reports:

* ``foreign-import``: a module imports project code that is neither its own nor ``contracts``
  (another module, ``app``, ``extraction``, a shared helper, a top-level ``utils.py``; absolute,
  relative, re-exported or lazy inside a function). Since every other import is refused, a chain
  to another module can only pass through ``contracts``, and that is refused too:
* ``contracts-import``: ``contracts`` imports project code outside ``contracts``; every module
  that reaches another module through it gets a ``foreign-import`` with the whole chain;
* ``kernel-import``: ``contracts.kernel`` imports a ``contracts.<module>`` declaration;
* ``undeclared-contract``: a module imports ``contracts.<x>`` although it consumes none of x's
  contracts and handles none of x's events;
* ``undeclared-use`` / ``undeclared-publish``: a ``use(X)`` of a contract the manifest does not
  consume, a ``publish(X(...))`` of an event it does not list in ``publishes``;
* ``call-cycle``: modules that consume each other's contracts (seams.E014 in ``manage.py check``);
* ``unreadable-manifest``: a manifest entry that is not a name imported from ``contracts``.

Every rule reads only direct imports (one pass over the graph's edges), so the cost grows with
the size of the code, not with the square of the number of modules; chains are traced only for
what is broken. It is grimp- and import-linter-based only here; ``importcontract`` wraps it as an
import-linter contract type.
"""

from __future__ import annotations

import ast
import os
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import grimp

from . import baseline
from .factcache import CALLS, FactCache, read_source, stamp_of
from .sourcefacts import (
    KNOWN_PACKAGES,
    NOT_PROJECT,
    FileFacts,
    StaticManifest,
    call_cycles,
    file_facts,
    leaving_level,
    manifest_of,
    mentions_calls,
    owner_of,
    project_packages,
    worth_reading,
)

COMMAND_HINT = "Of the project's own packages a module imports only 'contracts'"


@dataclass
class Violation:
    rule: str
    headline: str
    chain: list[str]
    fix: str
    module: str | None = None
    notes: list[str] = field(default_factory=list)
    #: How the baseline records it (only a module's own direct imports can be recorded).
    entry: baseline.Entry | None = None


@dataclass
class Project:
    """Everything the rules look at, built once."""

    root: Path
    modules_package: str
    contracts_package: str
    tops: dict[str, Path]
    graph: grimp.ImportGraph
    manifests: dict[str, StaticManifest]
    declarations: set[str]
    facts: FactCache = field(default_factory=lambda: FactCache(None))
    #: ``module_facts`` per module label, read once a run.
    module_facts: dict[str, dict[str, FileFacts]] = field(default_factory=dict)

    def module_of(self, name: str) -> str | None:
        parts = name.split(".")
        if len(parts) >= 2 and parts[0] == self.modules_package and parts[1] in self.manifests:
            return parts[1]
        return None

    def is_project(self, name: str) -> bool:
        return name.split(".")[0] in self.tops

    def imports_of(self, name: str) -> list[tuple[str, int | None]]:
        """Project names ``name`` imports directly, with a line number when known."""
        if name in self.graph.modules and not self.graph.is_module_squashed(name):
            return [(t, None) for t in sorted(self.graph.find_modules_directly_imported_by(name)) if self.is_project(t)]
        return [(t, line) for t, line in _loose_imports(self.tops.get(name)) if self.is_project(t)]

    def file_of(self, name: str) -> str:
        """The file of a dotted module, relative to the project (as the baseline records it)."""
        base = Path(*name.split("."))
        package = base / "__init__.py"
        return (package if (self.root / package).exists() else base.with_suffix(".py")).as_posix()

    def lines(self, importer: str, imported: str) -> str:
        if importer in self.graph.modules and not self.graph.is_module_squashed(importer):
            numbers = sorted({d["line_number"] for d in self.graph.get_import_details(importer=importer, imported=imported)})
        else:
            numbers = sorted({line for t, line in _loose_imports(self.tops.get(importer)) if t == imported and line})
        return ", ".join(f"l.{n}" for n in numbers) or "?"

    def edge(self, importer: str, imported: str) -> str:
        return f"{importer} -> {imported} ({self.lines(importer, imported)})"


def _loose_imports(path: Path | None) -> list[tuple[str, int]]:
    """Imports of project code grimp does not analyse: a top-level ``utils.py`` or a namespace dir."""
    if path is None:
        return []
    files = [path] if path.is_file() else sorted(path.rglob("*.py"))
    found: list[tuple[str, int]] = []
    for file in files:
        try:
            source = file.read_text(encoding="utf-8")
        except OSError:
            continue
        found += file_facts(source, file.stem).imports
    return found


def _grimp_roots(tops: dict[str, Path]) -> list[str]:
    return [name for name, path in tops.items() if path.is_dir() and (path / "__init__.py").exists()]


def load_project(
    root: Path,
    *,
    modules_package: str = "modules",
    contracts_package: str = "contracts",
    exclude: Iterable[str] = (),
    cache_dir: str | None = None,
    facts: FactCache | None = None,
) -> Project:
    root = Path(root).resolve()
    tops = project_packages(root, NOT_PROJECT | set(exclude))
    roots = _grimp_roots(tops)
    graph = grimp.build_graph(*roots, include_external_packages=True, cache_dir=cache_dir)
    manifests: dict[str, StaticManifest] = {}
    modules_dir = root / modules_package
    if modules_dir.is_dir():
        for package in sorted(modules_dir.iterdir()):
            if (package / "__init__.py").exists() and not package.name.startswith("_"):
                name = f"{modules_package}.{package.name}"
                manifest = _manifest(package / "apps.py", name, contracts_package, facts) if (package / "apps.py").exists() else None
                manifests[package.name] = manifest or StaticManifest(label=package.name, name=name)
    contracts_dir = root / contracts_package
    declarations = {
        p.stem if p.is_file() else p.name
        for p in (contracts_dir.iterdir() if contracts_dir.is_dir() else [])
        if (p.suffix == ".py" or (p / "__init__.py").exists()) and p.stem != "kernel" and not p.name.startswith("_")
    }
    return Project(root, modules_package, contracts_package, tops, graph, manifests, declarations, facts or FactCache(None))


def _manifest(apps_py: Path, name: str, contracts_package: str, facts: FactCache | None) -> StaticManifest | None:
    """The static manifest of ``apps.py``; its source facts are kept from the same parse (``manage.py
    check`` reads every apps.py: it imports the contract files the module depends on)."""
    path = str(apps_py)
    try:
        stamp, read_at = stamp_of(path), time.time_ns()
        if facts is not None and (known := facts.manifest(path, name, stamp)) is not None:
            return known[0]
        source = read_source(path, stamp[0])
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError):
        return None
    manifest = manifest_of(tree, name)
    if facts is not None:
        kernel = f"{contracts_package}.kernel"
        facts.store(path, f"{name}.apps", stamp, read_at, file_facts(source, f"{name}.apps", kernel=kernel, tree=tree), manifest=(manifest,))
    return manifest


def _package_nodes(graph: grimp.ImportGraph, package: str) -> list[str]:
    if package not in graph.modules:
        return []
    return sorted({package, *graph.find_descendants(package)})


def _trace_to_other_module(project: Project, start: str, owner: str) -> list[str]:
    """The shortest chain from ``start`` to code of a module other than ``owner`` (empty if none)."""
    seen = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        other = project.module_of(node)
        if other is not None and other != owner:
            chain = []
            while seen[node] is not None:
                chain.append(project.edge(seen[node], node))
                node = seen[node]
            return list(reversed(chain))
        if other == owner and node != start:
            continue
        for target, _ in project.imports_of(node):
            if target not in seen:
                seen[target] = node
                queue.append(target)
    return []


def _foreign_fix(label: str) -> str:
    return (
        f"{COMMAND_HINT}. Call another module through its contract (use(Contract)) or react to its events "
        f"(@subscribe); move helper code into modules/{label}/ or, if it is published language, into contracts/."
    )


def _shown(project: Project, target: str) -> str:
    """How an imported name is named in a headline: ``modules.catalog`` or the top-level package."""
    other = project.module_of(target)
    return f"{project.modules_package}.{other}" if other else target.split(".")[0]


def _module_rules(project: Project) -> list[Violation]:
    violations: list[Violation] = []
    graph = project.graph
    contracts = project.contracts_package
    for label, manifest in sorted(project.manifests.items()):
        package = manifest.name
        allowed = allowed_declarations(manifest, project)
        for importer in _package_nodes(graph, package):
            for target in sorted(graph.find_modules_directly_imported_by(importer)):
                top = target.split(".")[0]
                if top not in project.tops or target == package or target.startswith(package + "."):
                    continue
                if top == contracts:
                    owner = owner_of(target, contracts)
                    if owner in project.declarations and owner not in allowed:
                        violations.append(
                            Violation(
                                "undeclared-contract",
                                f"{label} may import only the contracts it consumes or whose events it handles: "
                                f"{package} is not allowed to import {contracts}.{owner}",
                                [project.edge(importer, target)],
                                f"Declare the dependency in {package.replace('.', '/')}/apps.py (consumes, or a "
                                f"@subscribe handler for one of its events), or remove the import.",
                                module=label,
                            )
                        )
                    continue
                onward = _trace_to_other_module(project, target, label)
                if target == project.modules_package and not onward:
                    continue  # `import modules`, the bare parent package, re-exporting nothing of another module
                chain = [project.edge(importer, target), *onward]
                violations.append(
                    Violation(
                        "foreign-import",
                        f"{package} is not allowed to import {_shown(project, target)}",
                        chain,
                        _foreign_fix(label),
                        module=label,
                        entry=baseline.Entry("import", label, project.file_of(importer), baseline.reached(target, project.modules_package)),
                    )
                )
    return violations


def _contracts_rules(project: Project) -> list[Violation]:
    graph = project.graph
    contracts = project.contracts_package
    kernel = f"{contracts}.kernel"
    violations: list[Violation] = []
    leaking: list[str] = []
    for importer in _package_nodes(graph, contracts):
        for target in sorted(graph.find_modules_directly_imported_by(importer)):
            top = target.split(".")[0]
            if top in project.tops and top != contracts:
                leaking.append(importer)
                violations.append(
                    Violation(
                        "contracts-import",
                        f"{contracts} is not allowed to import {_shown(project, target)}",
                        [project.edge(importer, target), *_trace_to_other_module(project, target, "")[1:]],
                        f"A declaration imports only {kernel} and other declarations: the published language "
                        f"must not depend on code behind it (every module may import {contracts}).",
                    )
                )
            elif (importer == kernel or importer.startswith(kernel + ".")) and owner_of(target, contracts) in project.declarations:
                violations.append(
                    Violation(
                        "kernel-import",
                        f"{kernel} is not allowed to import {contracts}.{owner_of(target, contracts)}",
                        [project.edge(importer, target)],
                        "The kernel stays at the bottom: look modules and contracts up at run time "
                        "(ModuleConfig, declared_contracts), never import a declaration.",
                    )
                )
    # Every module that reaches another module through the leaking declaration code.
    for leak in sorted(set(leaking)):
        for label, manifest in sorted(project.manifests.items()):
            route = graph.find_shortest_chain(importer=manifest.name, imported=leak, as_packages=True)
            if not route:
                continue
            onward = _trace_to_other_module(project, leak, label)
            if not onward:
                continue
            chain = [project.edge(a, b) for a, b in zip(route, route[1:], strict=False)] + onward
            violations.append(
                Violation(
                    "foreign-import",
                    f"{manifest.name} is not allowed to import {_shown(project, onward[-1].split(' -> ')[1].split(' ')[0])}",
                    chain,
                    _foreign_fix(label),
                    module=label,
                )
            )
    return violations


def allowed_declarations(manifest: StaticManifest, project: Project) -> set[str]:
    """Declaration files the module may import: its own, what it consumes, whose events it handles."""
    allowed = {manifest.label}
    for entry in [*manifest.consumes, *(manifest.handles or [])]:
        owner = owner_of(entry, project.contracts_package)
        if owner:
            allowed.add(owner)
    for facts in module_facts(project, manifest).values():
        for reference in facts.subscribes:
            owner = owner_of(reference.target, project.contracts_package)
            if owner:
                allowed.add(owner)
    return allowed


# --- source facts (kept between runs by factcache, shared with manage.py check) --------------------
def module_facts(project: Project, manifest: StaticManifest) -> dict[str, FileFacts]:
    """The facts of each of the module's files that could call use/publish/subscribe/get_model."""
    cached = project.module_facts
    if manifest.label in cached:
        return cached[manifest.label]
    found: dict[str, FileFacts] = {}
    root = str(project.root)
    base = os.path.join(root, *manifest.name.split("."))
    kernel = f"{project.contracts_package}.kernel"
    # manage.py check screens for more (any project code, contract files, model names); a file
    # read here and quiet under its screen too is recorded as such, so check need not read it again.
    check_project_words = frozenset(project.tops) | KNOWN_PACKAGES
    for directory, subdirectories, files in os.walk(base):
        subdirectories[:] = sorted(d for d in subdirectories if d != "migrations" and d != "__pycache__")
        relative = os.path.relpath(directory, root).split(os.sep)
        for filename in sorted(files):
            if not filename.endswith(".py"):
                continue
            is_package = filename == "__init__.py"
            dotted = ".".join(relative if is_package else [*relative, filename[:-3]])
            path = os.path.join(directory, filename)
            leaving = leaving_level(dotted, is_package, manifest.name)
            check_screen = ("module", check_project_words, leaving, manifest.label)
            facts = project.facts.facts(
                path, dotted, is_package=is_package, kernel=kernel, screen=CALLS, worth_parsing=mentions_calls,
                implied_by=_looks_for_calls,
                quiet_also=lambda source, screen=check_screen, leaving=leaving, label=manifest.label: (
                    None if worth_reading(source, project=check_project_words, leaving=leaving, own=label) else screen
                ),
            )
            if facts is not None:
                found[path] = facts
    cached[manifest.label] = found
    return found


def _looks_for_calls(screen: object) -> bool:
    """Every screen of ``manage.py check`` parses at least the files that could call use/publish."""
    return isinstance(screen, tuple) and len(screen) == 4 and screen[0] == "module"


def _declared(target: str, entries: list[str]) -> bool:
    """Is ``target`` (``contracts.catalog.Catalog``) one of the manifest entries (same name, same file)?"""
    return target in entries or any(e.rpartition(".")[2] == target.rpartition(".")[2] and owner_of(e) == owner_of(target) for e in entries)


def _source_rules(project: Project) -> list[Violation]:
    violations: list[Violation] = []
    contracts = project.contracts_package
    for label, manifest in sorted(project.manifests.items()):
        location = f"{manifest.name.replace('.', '/')}/apps.py"
        for entry in manifest.unreadable:
            violations.append(
                Violation(
                    "unreadable-manifest",
                    f"{label}: the manifest entry '{entry}' cannot be read without running the code",
                    [location],
                    "Write provides/consumes/publishes/handles as lists of names imported from contracts.<module>.",
                    module=label,
                )
            )
        for path, facts in sorted(module_facts(project, manifest).items()):
            shown = os.path.relpath(path, project.root)
            for reference in facts.uses:
                owner = owner_of(reference.target, contracts)
                if owner and owner != label and not _declared(reference.target, manifest.consumes):
                    violations.append(
                        Violation(
                            "undeclared-use",
                            f"{label} calls use({reference.text}) but does not consume it",
                            [f"{shown}:{reference.line}"],
                            f"Add {reference.text} (from {contracts}.{owner}) to 'consumes' in {location}.",
                            module=label,
                        )
                    )
            for reference in facts.publishes:
                if reference.target is None or not owner_of(reference.target, contracts):
                    continue
                if not _declared(reference.target, manifest.publishes):
                    owner = owner_of(reference.target, contracts)
                    fix = (
                        f"Add {reference.text} to 'publishes' in {location}."
                        if owner == label
                        else f"A module publishes only events declared in {contracts}/{label}.py; {reference.text} is {owner}'s."
                    )
                    violations.append(
                        Violation(
                            "undeclared-publish",
                            f"{label} publishes {reference.text} but does not list it in 'publishes'",
                            [f"{shown}:{reference.line}"],
                            fix,
                            module=label,
                        )
                    )
    return violations


def _cycle_rules(project: Project) -> list[Violation]:
    calls = {
        label: {owner for entry in manifest.consumes if (owner := owner_of(entry, project.contracts_package))}
        for label, manifest in project.manifests.items()
    }
    return [
        Violation(
            "call-cycle",
            f"modules call each other's contracts in a cycle: {' -> '.join(cycle)}",
            [f"{project.modules_package}/{label}/apps.py consumes" for label in cycle[:-1]],
            "Let one side react to the other's events (@subscribe) instead of calling it, or move the piece both "
            "need into one module (manage.py check reports this as seams.E014).",
            module=cycle[0],
        )
        for cycle in call_cycles(calls)
    ]


def find_violations(project: Project) -> list[Violation]:
    return [*_module_rules(project), *_contracts_rules(project), *_source_rules(project), *_cycle_rules(project)]


def check_project(
    root: Path,
    *,
    modules_package: str = "modules",
    contracts_package: str = "contracts",
    exclude: Iterable[str] = (),
    cache_dir: str | None = None,
    baseline_file: str = baseline.FILENAME,
    facts_cache: FactCache | None = None,
) -> list[Violation]:
    """Load the project at ``root`` and return every violation not recorded in the baseline.

    ``cache_dir`` (relative to ``root``) keeps grimp's graph and the source facts between runs;
    ``manage.py check`` reads the same facts (``factcache``)."""
    facts = facts_cache or FactCache(None if cache_dir is None else Path(root).resolve() / cache_dir)
    project = load_project(
        root, modules_package=modules_package, contracts_package=contracts_package, exclude=exclude, cache_dir=cache_dir,
        facts=facts,
    )
    violations = find_violations(project)
    project.facts.save()
    try:
        recorded = baseline.load(project.root / baseline_file)
    except ValueError as exc:
        return [*violations, Violation("baseline", str(exc), [baseline_file], "Rewrite it with `manage.py modules baseline`.")]
    return [v for v in violations if v.entry is None or v.entry not in recorded]
