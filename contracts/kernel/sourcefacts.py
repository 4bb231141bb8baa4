"""What a project's source says about its boundaries, read without importing it (no Django needed).

Two readers share this module, so that they can never disagree about what a line of code means:

* ``manage.py check`` (``contracts/kernel/checks.py``), with the real, imported manifests;
* the ``seams`` import-linter contract (``contracts/kernel/importcontract.py``), which runs in
  ``lint-imports`` before Django is set up and so reads the manifests from ``apps.py`` statically.

``project_packages(root)`` answers "which top-level names are the project's own code": every
package, namespace directory and single ``.py`` file beside ``manage.py`` (a ``utils.py`` or a
``shared/`` added next year counts the day it appears), never a virtualenv or build output.

``file_facts(source, module_name, is_package)`` lists, for one file: every import (absolute,
relative ones resolved; lazy ones inside functions included), and every ``use(X)``,
``publish(X(...))``, ``@subscribe(X)`` and ``get_model(...)`` with ``X`` resolved through the
file's imports to the dotted path it came from (``contracts.catalog.Catalog``).
"""

from __future__ import annotations

import ast
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Directories beside manage.py that are never the project's code.
NOT_PROJECT = frozenset(
    {"venv", ".venv", "env", "build", "dist", "node_modules", "var", "site-packages", "htmlcov", "__pycache__"}
)

#: The top-level packages every Seams project has (or had): ``manage.py check`` counts them as the
#: project's even where the directory is missing (``SEAMS_PROJECT_PACKAGES`` overrides the list).
KNOWN_PACKAGES = frozenset({"app", "modules", "contracts", "extraction"})

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def project_packages(root: Path, exclude: frozenset[str] | set[str] = NOT_PROJECT) -> dict[str, Path]:
    """The project's own top-level importable names, each with its path (a directory or a ``.py``).

    A directory counts if its name is an identifier and it holds Python code (``__init__.py`` or
    any ``*.py`` directly inside: a namespace package imports all the same). A ``.py`` file counts
    if its stem is an identifier.
    """
    found: dict[str, Path] = {}
    for path in sorted(Path(root).iterdir()):
        name = path.stem if path.suffix == ".py" else path.name
        if name in exclude or name.startswith(".") or not _IDENTIFIER.match(name):
            continue
        if path.is_dir() and not (path / "pyvenv.cfg").exists() and any(path.glob("*.py")):
            found[name] = path
        elif path.is_file() and path.suffix == ".py":
            found[name] = path
    return found


@dataclass(frozen=True)
class Reference:
    """A name used at ``line``: ``target`` is where it came from (dotted), or None if unknown."""

    target: str | None
    text: str
    line: int


@dataclass
class FileFacts:
    """The boundary-relevant facts of one source file."""

    imports: list[tuple[str, int]] = field(default_factory=list)
    uses: list[Reference] = field(default_factory=list)
    publishes: list[Reference] = field(default_factory=list)
    subscribes: list[Reference] = field(default_factory=list)
    #: ``get_model('inventory', 'Stock')``: the app label asked for, and how it was written.
    model_lookups: list[Reference] = field(default_factory=list)
    #: String constants shaped like ``"app_label.Model"``.
    model_strings: list[Reference] = field(default_factory=list)
    syntax_error: str | None = None


def resolve_relative(package: str, level: int, module: str | None) -> str | None:
    """``from ..x import y`` inside ``package``: the absolute module it names (None if it leaves the root)."""
    parts = package.split(".") if package else []
    if level > len(parts):
        return None
    base = ".".join(parts[: len(parts) - level + 1])
    if module:
        return f"{base}.{module}" if base else module
    return base or None


def imported_names(node: ast.AST, package: str) -> list[str]:
    """The absolute dotted names an import statement reaches, one per thing imported.

    ``from modules import orders`` reaches ``modules.orders`` (a package of its own);
    ``from modules.orders.models import Order`` reaches ``modules.orders.models``.
    """
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    source = resolve_relative(package, node.level, node.module) if node.level else node.module
    if not source:
        return []
    if "." in source:
        return [source]
    return [source if alias.name == "*" else f"{source}.{alias.name}" for alias in node.names]


def _bindings(tree: ast.Module, package: str, module_name: str, imports: list[ast.AST] | None = None) -> dict[str, str]:
    """Local names bound by imports anywhere in the file (lazy ones too), and top-level classes."""
    bound: dict[str, str] = {}
    nodes = imports if imports is not None else [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    bound.setdefault(top, top)
        elif isinstance(node, ast.ImportFrom):
            source = resolve_relative(package, node.level, node.module) if node.level else node.module
            if source:
                for alias in node.names:
                    if alias.name != "*":
                        bound[alias.asname or alias.name] = f"{source}.{alias.name}"
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bound.setdefault(node.name, f"{module_name}.{node.name}")
    return bound


def dotted(expression: ast.AST, bound: dict[str, str]) -> str | None:
    """``Catalog`` or ``contracts.catalog.Catalog`` or ``c.Catalog``: where the name comes from."""
    attributes: list[str] = []
    while isinstance(expression, ast.Attribute):
        attributes.append(expression.attr)
        expression = expression.value
    if not isinstance(expression, ast.Name):
        return None
    origin = bound.get(expression.id)
    if origin is None:
        return None
    return ".".join([origin, *reversed(attributes)])


def _callee(node: ast.Call) -> str | None:
    return node.func.id if isinstance(node.func, ast.Name) else node.func.attr if isinstance(node.func, ast.Attribute) else None


def _from_kernel(name: str, bound: dict[str, str], kernel: str) -> bool:
    """``use``/``publish``/``subscribe`` as imported from the kernel (not some other ``use``)."""
    origin = bound.get(name)
    return origin is not None and (origin == f"{kernel}.{name}" or origin.startswith(f"{kernel}.") and origin.endswith(f".{name}"))


_MODEL_REF = re.compile(r"^([a-z_][a-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$")


# --- screening: which files can hold a fact at all (parsing is the expensive part) ----------------
# Each pattern over-approximates what ``file_facts`` reads, so a file none of them matches has no
# fact that any rule looks at, and is not parsed. Python folds non-ASCII identifiers (NFKC), so a
# file with any non-ASCII character is always parsed.

#: ``use(X)``, ``publish(...)``, ``@subscribe(X)``, ``get_model(...)``: ``file_facts`` reads a call
#: only under these names, so the word must be in the text (a space before the bracket included).
_CALL_WORDS = re.compile(r"\b(?:use|publish|subscribe|get_model)\b")
#: A string literal piece that could be (part of) ``"label.Model"``: a quote, lowercase label
#: characters, then the dot or an escape (which might spell the dot). Implicit concatenation
#: (``"inventory" ".Stock"``) still has one piece of this shape.
_MODEL_STRING = re.compile(r"[\"'][a-z0-9_]*[.\\]")
#: ``contracts`` and the name after its dot, if any: ``contracts.kernel`` and the module's own
#: declarations are always allowed; ``from contracts import x`` or ``contracts.other`` may not be.
_DECLARATION_WORD = r"\bcontracts\b(?:[\s\\]*\.[\s\\]*(?P<declaration>\w+))?"


def mentions_calls(source: str) -> bool:
    """Could ``file_facts(source)`` find a ``use``/``publish``/``subscribe``/``get_model`` call?"""
    return not source.isascii() or _CALL_WORDS.search(source) is not None


def _words(names: frozenset[str]) -> str:
    return "|".join(sorted(re.escape(n) for n in names))


_SCREENS: dict[tuple[frozenset[str], int], re.Pattern[str]] = {}


def _screen(project: frozenset[str], leaving_level: int) -> re.Pattern[str]:
    key = (project, leaving_level)
    pattern = _SCREENS.get(key)
    if pattern is None:
        others = project - {"contracts"}
        alternatives = [_CALL_WORDS.pattern, _MODEL_STRING.pattern]
        if others:
            alternatives.append(rf"\b(?:{_words(others)})\b")
        # A relative import of ``leaving_level`` dots or more leaves the module's package.
        alternatives.append(rf"\bfrom[\s\\]*(?:\.[\s\\]*){{{max(leaving_level, 1)},}}")
        alternatives.append(f"(?P<contracts>{_DECLARATION_WORD})")
        pattern = _SCREENS[key] = re.compile("|".join(f"(?:{a})" for a in alternatives))
    return pattern


def leaving_level(module_name: str, is_package: bool, module: str) -> int:
    """How many dots a relative import in file ``module_name`` needs to leave package ``module``.

    ``modules.orders.services`` (package ``modules.orders``) leaves ``modules.orders`` with ``..``;
    ``modules.orders.api.views`` needs ``...``.
    """
    package = module_name if is_package else module_name.rpartition(".")[0]
    return package.count(".") - module.count(".") + 2


def worth_reading(source: str, *, project: frozenset[str], leaving: int, own: str | None = None) -> bool:
    """Could this file of a module hold anything ``manage.py check`` reports?

    That is an import of project code (a word naming a top-level package in ``project``, or a
    relative import of ``leaving`` dots or more: see ``leaving_level``), a ``contracts.<x>``
    import other than ``contracts.kernel`` and ``contracts.<own>`` (the module's own label), a call
    ``file_facts`` reads, or a string that could name a model. Anything else (most of a module's
    files: models, selectors, domain code, its implementation) cannot cross a boundary and is not parsed.
    """
    if not source.isascii():
        return True
    for match in _screen(project, leaving).finditer(source):
        if match.group("contracts") is None:
            return True  # a call, a model-like string, a project package, a relative import leaving the module
        declaration = match.group("declaration")
        if declaration != "kernel" and (own is None or declaration != own):
            return True  # contracts.<another module's file>, or `from contracts import ...`
    return False


def _walk(tree: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk``'s nodes in ``ast.walk``'s order (breadth first), a fifth faster: no generator per node."""
    todo = deque([tree])
    take, extend, append, node_type = todo.popleft, todo.extend, todo.append, ast.AST
    while todo:
        node = take()
        yield node
        for name in node._fields:
            value = getattr(node, name, None)
            if value.__class__ is list:
                extend([item for item in value if isinstance(item, node_type)])
            elif isinstance(value, node_type):
                append(value)


def file_facts(
    source: str, module_name: str, *, is_package: bool = False, kernel: str = "contracts.kernel", tree: ast.Module | None = None
) -> FileFacts:
    """The facts of one file whose dotted name is ``module_name`` (``modules.orders.services``).

    ``tree``: the file already parsed (``lint-imports`` parses ``apps.py`` for the manifest anyway)."""
    facts = FileFacts()
    if tree is None:
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            facts.syntax_error = f"{exc.msg} (line {exc.lineno})"
            return facts
    package = module_name if is_package else module_name.rpartition(".")[0]
    # One pass over the tree (the expensive part); the names are resolved afterwards.
    imports: list[ast.AST] = []
    calls: list[ast.Call] = []
    # Names assigned an instance (``event = OrderPlaced(...)``), anywhere in the file.
    constructed: dict[str, ast.AST] = {}
    for node in _walk(tree):
        kind = type(node)
        if kind is ast.Import or kind is ast.ImportFrom:
            imports.append(node)
        elif kind is ast.Call:
            calls.append(node)  # type: ignore[arg-type]
        elif kind is ast.Constant:
            if isinstance(node.value, str) and _MODEL_REF.match(node.value):  # type: ignore[attr-defined]
                facts.model_strings.append(Reference(node.value, repr(node.value), node.lineno))  # type: ignore[attr-defined]
        elif kind is ast.Assign and isinstance(node.value, ast.Call) and len(node.targets) == 1:  # type: ignore[attr-defined]
            target = node.targets[0]  # type: ignore[attr-defined]
            if isinstance(target, ast.Name):
                constructed[target.id] = node.value.func  # type: ignore[attr-defined]
    bound = _bindings(tree, package, module_name, imports)
    for node in imports:
        for name in imported_names(node, package):
            facts.imports.append((name, node.lineno))
    for node in calls:
        callee = _callee(node)
        if callee == "use" and isinstance(node.func, ast.Name) and _from_kernel("use", bound, kernel) and node.args:
            facts.uses.append(Reference(dotted(node.args[0], bound), ast.unparse(node.args[0]), node.lineno))
        elif callee == "publish" and isinstance(node.func, ast.Name) and _from_kernel("publish", bound, kernel) and node.args:
            argument = node.args[0]
            if isinstance(argument, ast.Name) and argument.id in constructed:
                made = constructed[argument.id]
                facts.publishes.append(Reference(dotted(made, bound), ast.unparse(made), node.lineno))
            elif isinstance(argument, ast.Call):
                facts.publishes.append(Reference(dotted(argument.func, bound), ast.unparse(argument.func), node.lineno))
            else:
                facts.publishes.append(Reference(None, ast.unparse(argument), node.lineno))
        elif callee == "subscribe" and _from_kernel("subscribe", bound, kernel) and node.args:
            facts.subscribes.append(Reference(dotted(node.args[0], bound), ast.unparse(node.args[0]), node.lineno))
        elif callee == "get_model":
            given = [*node.args, *(k.value for k in node.keywords if k.arg in ("app_label", "model_name"))]
            args = [a.value for a in given if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if args:
                label = args[0].split(".")[0]
                model = args[0].split(".")[1] if "." in args[0] else (args[1] if len(args) > 1 else "")
                facts.model_lookups.append(Reference(f"{label}.{model}", f"get_model({', '.join(map(repr, args))})", node.lineno))
    return facts


# --- manifests read from apps.py ------------------------------------------------------------------
MANIFEST_LISTS = ("provides", "consumes", "publishes", "handles")


@dataclass
class StaticManifest:
    """A module's manifest as written in its ``apps.py`` (names resolved through its imports)."""

    label: str
    name: str
    provides: list[str] = field(default_factory=list)
    consumes: list[str] = field(default_factory=list)
    publishes: list[str] = field(default_factory=list)
    handles: list[str] | None = None
    #: Entries that are not plain names imported from somewhere (a computed list, a call).
    unreadable: list[str] = field(default_factory=list)


def read_manifest(apps_py: Path, package: str) -> StaticManifest | None:
    """The manifest class of ``apps.py`` (the class that sets ``name`` to ``package``, or the first
    class assigning any manifest list), or None if the file declares none."""
    try:
        tree = ast.parse(apps_py.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None
    return manifest_of(tree, package)


def manifest_of(tree: ast.Module, package: str) -> StaticManifest | None:
    """``read_manifest`` of an ``apps.py`` already parsed."""
    bound = _bindings(tree, package, f"{package}.apps")
    candidates = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        values: dict[str, ast.AST] = {}
        for statement in node.body:
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target] if isinstance(statement, ast.AnnAssign) and statement.value else []
            for target in targets:
                if isinstance(target, ast.Name):
                    values[target.id] = statement.value
        if "name" in values or any(key in values for key in MANIFEST_LISTS):
            candidates.append(values)
    if not candidates:
        return None
    chosen = next(
        (v for v in candidates if isinstance(v.get("name"), ast.Constant) and v["name"].value == package), candidates[0]
    )
    label_node = chosen.get("label")
    label = label_node.value if isinstance(label_node, ast.Constant) else package.rpartition(".")[2]
    manifest = StaticManifest(label=label, name=package)
    for key in MANIFEST_LISTS:
        value = chosen.get(key)
        if value is None or (key == "handles" and isinstance(value, ast.Constant) and value.value is None):
            continue
        entries: list[str] = []
        if isinstance(value, (ast.List, ast.Tuple)):
            for element in value.elts:
                origin = dotted(element, bound)
                if origin is None:
                    manifest.unreadable.append(f"{key}: {ast.unparse(element)}")
                else:
                    entries.append(origin)
        else:
            manifest.unreadable.append(f"{key} = {ast.unparse(value)}")
        setattr(manifest, key, entries)
    return manifest


def owner_of(dotted_name: str | None, contracts_package: str = "contracts") -> str | None:
    """``contracts.catalog.Catalog`` -> ``catalog``: the declaration file a name comes from."""
    if not dotted_name:
        return None
    parts = dotted_name.split(".")
    if len(parts) >= 2 and parts[0] == contracts_package and parts[1] != "kernel":
        return parts[1]
    return None


# --- cycles of contract calls ---------------------------------------------------------------------
def call_cycles(calls: dict[str, set[str]]) -> list[list[str]]:
    """Cycles of modules that call each other round, within each strongly connected group.

    ``calls`` maps a module to the modules whose contracts it consumes. For each module of a group
    the shortest cycle through it is reported once, spelled from its alphabetically first module
    back to it: ``["catalog", "orders", "catalog"]``. A module consuming its own contract is no cycle.
    """
    graph = {node: {t for t in targets if t != node} for node, targets in calls.items()}
    for targets in list(graph.values()):
        for target in targets:
            graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's algorithm; module graphs are small enough to recurse
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    cycles: list[list[str]] = []
    for group in sorted(groups):
        members = set(group)
        for start in group:
            cycle = _shortest_cycle(graph, start, members)
            turn = cycle.index(min(cycle[:-1]))  # spell it from its first module, so rotations compare equal
            spelled = [*cycle[turn:-1], *cycle[:turn], cycle[turn]]
            if spelled not in cycles:
                cycles.append(spelled)
    return cycles


def _shortest_cycle(graph: dict[str, set[str]], start: str, members: set[str]) -> list[str]:
    parents: dict[str, str | None] = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & members):
            if target == start:
                path = [node]
                while parents[path[-1]] is not None:
                    path.append(parents[path[-1]])  # type: ignore[arg-type]
                return [*reversed(path), start]
            if target not in parents:
                parents[target] = node
                queue.append(target)
    return [start, start]  # not reached: every member of a strongly connected group is on a cycle
