"""System checks that guard the module boundaries (``manage.py check``, ids ``seams.E0xx``).

Each check is a pure function over explicit inputs (so it is unit-testable) plus a thin wrapper
registered with Django that feeds it the installed project. ``docs/checks.md`` lists every id.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.apps import AppConfig, apps
from django.conf import settings
from django.core import checks
from django.db import models as django_models
from django.db.models import ForeignObjectRel
from django.utils.module_loading import import_string

from . import baseline
from .baseline import Entry
from .contract import Contract, declared_contracts
from .events import Event
from .factcache import FactCache
from .modules import ModuleConfig, module_configs
from .registry import Registry, get_registry
from .sourcefacts import (
    KNOWN_PACKAGES,
    FileFacts,
    Reference,
    call_cycles,
    leaving_level,
    project_packages,
    worth_reading,
)

TAG = "seams"


class BoundaryError(checks.Error):
    """A check error that can be recorded in the baseline (``contracts/kernel/baseline.py``)."""

    def __init__(self, *args: object, entry: Entry | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.entry = entry


def _modules() -> list[ModuleConfig]:
    return module_configs()


# --- E001: relations across modules -------------------------------------------------------------
def relation_errors(
    models: Iterable[type[django_models.Model]], module_labels: set[str], shared: set[str] = frozenset()
) -> list[checks.CheckMessage]:
    """seams.E001: a module's model relates (FK, M2M, O2O) to a model outside its module.

    ``shared`` (``settings.SEAMS_SHARED_MODELS``) names framework models every module may point at,
    ``"auth.User"`` or a whole app ``"auth"``: their tables must then be reachable from each module's
    database (see docs/adopting.md), which is why the list is explicit and short."""
    errors = []
    for model in models:
        label = model._meta.app_label
        if label not in module_labels:
            continue
        for field in model._meta.get_fields(include_hidden=False):
            # Forward relations only; a parent link (multi-table inheritance) is auto-created but
            # is a one-to-one all the same.
            if not field.is_relation or isinstance(field, ForeignObjectRel) or not (field.concrete or field.many_to_many):
                continue
            target = field.related_model
            if target is None or isinstance(target, str):
                target_label = str(field.remote_field.model).split(".")[0] if field.remote_field else label
            else:
                target_label = target._meta.app_label
            target_name = getattr(target, "__name__", str(target).rpartition(".")[2])
            is_shared = target_label in shared or f"{target_label}.{target_name}" in shared
            if target_label != label and target_label not in module_labels and is_shared:
                if getattr(field, "db_constraint", True):
                    errors.append(
                        checks.Error(
                            f"{model._meta.label}.{field.name} is a {type(field).__name__} to the shared model "
                            f"{target_label}.{target_name} with a database constraint.",
                            hint=(
                                f"{target_label}.{target_name} is listed in SEAMS_SHARED_MODELS, but its table lives in "
                                f"the 'default' database, not in module '{label}''s: declare the field with "
                                "db_constraint=False (the id is still checked by Django when assigned)."
                            ),
                            obj=model,
                            id="seams.E001",
                        )
                    )
                continue
            if target_label != label:
                errors.append(
                    BoundaryError(
                        f"{model._meta.label}.{field.name} is a {type(field).__name__} to "
                        f"{target_label}.{getattr(target, '__name__', target)}, a model of another module.",
                        hint=(
                            "Modules share no foreign keys or joins. Store the other side's id in a plain field "
                            "(e.g. models.CharField or models.BigIntegerField with db_index=True) and ask the "
                            "owning module through its contract."
                        ),
                        obj=model,
                        id="seams.E001",
                        entry=Entry("relation", label, f"{model._meta.label}.{field.name}", f"{target_label}.{target_name}"),
                    )
                )
    return errors


# --- E002 / E006 / E013 / E015 / E016: what a module's source code reaches for --------------------
def _python_files(module: ModuleConfig) -> Iterator[str]:
    """Every ``.py`` of the module but its migrations, in a stable order (``os.walk``, no ``Path`` a file)."""
    for directory, subdirectories, files in os.walk(module.path):
        subdirectories[:] = sorted(d for d in subdirectories if d != "migrations" and d != "__pycache__")
        for filename in sorted(files):
            if filename.endswith(".py"):
                yield os.path.join(directory, filename)


def source_errors(
    module: ModuleConfig,
    files: Iterable[Path | str],
    models_by_module: dict[str, set[str]],
    project_packages: set[str],
    *,
    cache: FactCache | None = None,
    allowed: set[str] | None = None,
) -> list[checks.CheckMessage]:
    """seams.E002 (model reached by name), E006 (undeclared contract import), E013 (forbidden
    import), E015 (``use()`` of a contract not consumed), E016 (``publish()`` of an event not in
    ``publishes``), all read from the source by ``sourcefacts.file_facts`` (the reader the
    ``seams`` import-linter contract uses too).

    A file is parsed only if ``sourcefacts.worth_reading`` shows it could hold one of those (it
    names project code, a contract file, a call or a model-like string), and at most once between
    this and ``lint-imports`` when both share ``cache`` (``factcache``). ``allowed``: the
    module's ``allowed_contract_modules()``, if the caller has worked it out already."""
    errors: list[checks.CheckMessage] = []
    if allowed is None:
        allowed = module.allowed_contract_modules()
    me = module.label
    cache = cache if cache is not None else FactCache(None)
    project = frozenset(project_packages)
    base = str(module.path).rstrip(os.sep) + os.sep
    own = module.name.split(".")
    for path in files:
        shown = str(path)
        dotted_name, is_package, recorded_as = _names_of(module, own, base, shown)
        leaving = leaving_level(dotted_name, is_package, module.name)
        screen = ("module", project, leaving, me)
        facts = cache.facts(
            os.path.abspath(shown),
            dotted_name,
            is_package=is_package,
            kernel="contracts.kernel",
            screen=screen,
            worth_parsing=lambda source, leaving=leaving: worth_reading(source, project=project, leaving=leaving, own=me),
            implied_by=lambda quiet, leaving=leaving: _covers(quiet, project, leaving, me),
        )
        if facts is None:
            continue
        if facts.syntax_error:
            errors.append(
                checks.Error(
                    f"{path}: cannot be parsed ({facts.syntax_error})",
                    hint="Fix the syntax error: the boundary checks read every Python file of the module.",
                    obj=module.label,
                    id="seams.E002",
                )
            )
            continue
        for imported, line in facts.imports:
            errors += _import_errors(module, imported, allowed, project_packages, f"{path}:{line}", file=recorded_as)
        for reference in facts.model_strings:
            label, _, model = reference.target.partition(".")
            if label != me and label in models_by_module and model.lower() in models_by_module[label]:
                errors.append(_model_reach_error(module, reference, f"{path}:{reference.line}", recorded_as))
        for reference in facts.model_lookups:
            label = reference.target.split(".")[0]
            if label != me and label in models_by_module:
                errors.append(_model_reach_error(module, reference, f"{path}:{reference.line}", recorded_as))
        errors += _call_errors(module, facts, f"{path}")
    return errors


def allowed_contract_modules(modules: Iterable[ModuleConfig], registry: Registry) -> dict[str, set[str]]:
    """``ModuleConfig.allowed_contract_modules()`` of every module, the subscribers grouped once
    (asking each module scans every subscriber: quadratic in the number of modules)."""
    handled: dict[str, set[type[Event]]] = {}
    for subscriber in registry.all_subscribers():
        handled.setdefault(subscriber.module, set()).add(subscriber.event)
    found = {}
    for module in modules:
        events = module.handles if module.handles is not None else handled.get(module.label, ())
        found[module.label] = {module.label, *(c.__seams_module__ for c in module.consumes), *(e.publisher for e in events)}
    return found


def _covers(quiet_under: object, project: frozenset[str], leaving: int, own: str) -> bool:
    """A file quiet under a screen for more packages (same depth, same module) is quiet under this one."""
    return (
        isinstance(quiet_under, tuple) and len(quiet_under) == 4 and quiet_under[0] == "module"
        and quiet_under[2] == leaving and quiet_under[3] == own and project <= quiet_under[1]
    )


def _names_of(module: ModuleConfig, own: list[str], base: str, path: str) -> tuple[str, bool, str]:
    """The dotted module a file of the module is (for relative imports), whether it is a package,
    and the file as the baseline records it (relative to the project, forward slashes)."""
    if not path.startswith(base):
        resolved = os.path.realpath(path)
        real_base = os.path.realpath(module.path) + os.sep
        if not resolved.startswith(real_base):
            stem = Path(path).stem
            return stem, False, Path(path).as_posix()
        path, base = resolved, real_base
    relative = path[len(base) : -3].split(os.sep)
    recorded = "/".join([*own, *relative]) + ".py"
    if relative[-1] == "__init__":
        return ".".join([*own, *relative[:-1]]), True, recorded
    return ".".join([*own, *relative]), False, recorded


def _object_at(dotted: str | None) -> object | None:
    """The object a resolved name points at (``contracts.catalog.Catalog``), if it can be imported."""
    if not dotted or "." not in dotted:
        return None
    try:
        return import_string(dotted)
    except ImportError:
        return None


def _call_errors(module: ModuleConfig, facts: FileFacts, where: str) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for reference in facts.uses:
        contract = _object_at(reference.target)
        if not (isinstance(contract, type) and issubclass(contract, Contract)) or contract is Contract:
            continue
        if contract.__seams_module__ != module.label and contract not in module.consumes:
            errors.append(
                checks.Error(
                    f"Module '{module.label}' calls use({reference.text}) ({where}:{reference.line}) but does not "
                    f"consume {contract.__seams_name__}.",
                    hint=(
                        f"Add {contract.__name__} (from contracts.{contract.__seams_module__}) to 'consumes' in "
                        f"{module.manifest_location()}; at run time this use() raises UndeclaredDependency."
                    ),
                    obj=module.label,
                    id="seams.E015",
                )
            )
    for reference in facts.publishes:
        event = _object_at(reference.target)
        if not (isinstance(event, type) and issubclass(event, Event)) or event is Event:
            continue
        if event not in module.publishes:
            if event.publisher == module.label:
                hint = f"Add {event.__name__} to 'publishes' in {module.manifest_location()}; at run time this publish() raises UndeclaredDependency."
            else:
                hint = (
                    f"{event.event_type} is declared for module '{event.publisher}': a module publishes only events "
                    f"declared in contracts/{module.label}.py. Declare an event of your own there."
                )
            errors.append(
                checks.Error(
                    f"Module '{module.label}' publishes {event.event_type} ({where}:{reference.line}) but does not list "
                    f"it in 'publishes'.",
                    hint=hint,
                    obj=module.label,
                    id="seams.E016",
                )
            )
    return errors


def _import_errors(
    module: ModuleConfig, name: str, allowed: set[str], project: set[str], where: str, *, file: str = ""
) -> list[checks.CheckMessage]:
    parts = name.split(".")
    if parts[0] == "contracts" and len(parts) > 1 and parts[1] != "kernel" and parts[1] not in allowed:
        if parts[1] not in {c.__seams_module__ for c in declared_contracts.values()} | _event_owners():
            return []  # `from contracts import kernel`-style or a name that is not a declaration module
        return [
            checks.Error(
                f"Module '{module.label}' imports contracts.{parts[1]} ({where}) but does not declare a dependency on it.",
                hint=(
                    f"Add the contract you call to 'consumes' (or subscribe to its events with @subscribe) in "
                    f"{module.manifest_location()}."
                ),
                obj=module.label,
                id="seams.E006",
            )
        ]
    own = module.name.split(".")
    if name == own[0]:
        return []  # `import modules`: the parent package itself; what it re-exports is named when used
    if parts[0] in project and parts[0] != "contracts" and parts[: len(own)] != own:
        shown = ".".join(parts[:2])
        return [
            BoundaryError(
                f"Module '{module.label}' imports {shown} ({where}).",
                hint=(
                    "Of the project's own packages a module imports only 'contracts'. Call another module "
                    "through its contract (use(Contract)) or react to its events (@subscribe); move helper code "
                    f"into {module.name.replace('.', '/')}/ or, if it is published language, into contracts/."
                ),
                obj=module.label,
                id="seams.E013",
                entry=Entry("import", module.label, file, baseline.reached(name, own[0])),
            )
        ]
    return []


def _event_owners() -> set[str]:
    from .events import declared_events

    return {e.publisher for e in declared_events.values()}


def _model_reach_error(module: ModuleConfig, reference: Reference, where: str, file: str) -> checks.CheckMessage:
    return BoundaryError(
        f"Module '{module.label}' reaches another module's model by name: {reference.text} at {where}.",
        hint="A module's models are private to it. Ask the owning module through its contract and refer to records by id.",
        obj=module.label,
        id="seams.E002",
        entry=Entry("model-reference", module.label, file, reference.target or ""),
    )


# --- E003: contract types that cannot cross the network -----------------------------------------
def contract_type_errors(contracts: Iterable[type[Contract]]) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"{contract.__seams_name__}: {problem}.",
            hint="Contract parameters and results must survive a trip over HTTP or Celery. Declare a Schema DTO in the contract file.",
            obj=contract.__seams_name__,
            id="seams.E003",
        )
        for contract in contracts
        for problem in contract.contract_problems()
    ]


# --- E004 / E005 / E007: who implements what -----------------------------------------------------
def implementation_errors(modules: list[ModuleConfig], registry: Registry) -> list[checks.CheckMessage]:
    errors = []
    for module in modules:
        for contract in module.provides:
            found = registry.implementations.get(contract, [])
            if contract.__seams_module__ != module.label:
                errors.append(
                    checks.Error(
                        f"Module '{module.label}' provides {contract.__seams_name__}, which is declared for module "
                        f"'{contract.__seams_module__}'.",
                        hint=f"A module provides only contracts declared in contracts/{module.label}.py.",
                        obj=module.label,
                        id="seams.E007",
                    )
                )
            elif not found:
                errors.append(
                    checks.Error(
                        f"Module '{module.label}' provides {contract.__seams_name__} but registers no implementation.",
                        hint=(
                            f"In {module.name.replace('.', '/')}/implementation.py add: @implements({contract.__name__}) "
                            f"class {contract.__name__}Implementation({contract.__name__}): ..."
                        ),
                        obj=module.label,
                        id="seams.E004",
                    )
                )
            elif len(found) > 1:
                errors.append(
                    checks.Error(
                        f"{contract.__seams_name__} has {len(found)} implementations: "
                        + ", ".join(f"{i.__module__}.{i.__qualname__}" for i in found),
                        hint="Keep exactly one @implements per contract; use override_contract() in tests for fakes.",
                        obj=module.label,
                        id="seams.E005",
                    )
                )
    provided = {c for m in modules for c in m.provides}
    for contract, found in registry.implementations.items():
        if contract not in provided and found:
            owner = contract.__seams_module__
            errors.append(
                checks.Error(
                    f"{contract.__seams_name__} is implemented by {found[0].__module__}.{found[0].__qualname__} "
                    f"but no module lists it in 'provides'.",
                    hint=f"Add {contract.__name__} to 'provides' in the manifest of module '{owner}'.",
                    obj=contract.__seams_name__,
                    id="seams.E007",
                )
            )
    return errors


# --- E008 / E010 / E012: events ------------------------------------------------------------------
def event_errors(modules: list[ModuleConfig], registry: Registry) -> list[checks.CheckMessage]:
    errors = []
    for subscriber in registry.all_subscribers():
        if not subscriber.event.declared_in_contracts:
            errors.append(
                checks.Error(
                    f"{subscriber.name} subscribes to {subscriber.event.__module__}.{subscriber.event.__qualname__}, "
                    f"an event that no contract declares.",
                    hint="Declare events in contracts/<publishing module>.py so that every module sees the same type.",
                    obj=subscriber.name,
                    id="seams.E008",
                )
            )
    for module in modules:
        if module.handles is not None:
            declared = set(module.handles)
            derived = set(module.handled_events(registry))
            for event in sorted(derived - declared, key=lambda e: e.event_type):
                errors.append(_handles_error(module, f"has a @subscribe handler for {event.event_type}, which 'handles' does not list"))
            for event in sorted(declared - derived, key=lambda e: e.event_type):
                errors.append(_handles_error(module, f"lists {event.event_type} in 'handles' but no @subscribe handler takes it"))
        for event in module.publishes:
            if not (isinstance(event, type) and issubclass(event, Event)) or event.publisher != module.label:
                errors.append(
                    checks.Error(
                        f"Module '{module.label}' lists {getattr(event, 'event_type', event)} in 'publishes', "
                        f"but that event is declared for module '{getattr(event, 'publisher', '?')}'.",
                        hint=f"A module publishes only events declared in contracts/{module.label}.py.",
                        obj=module.label,
                        id="seams.E012",
                    )
                )
    return errors


# --- E018: event versions a subscriber cannot be given ----------------------------------------------
def conversion_errors(modules: list[ModuleConfig], registry: Registry) -> list[checks.CheckMessage]:
    """seams.E018: a handler declared one version of an event and its publisher (installed here)
    publishes another, with a converter missing on the way: it would fail at run time."""
    from .upcasting import missing_steps

    published = [(module, event) for module in modules for event in module.publishes if isinstance(event, type) and issubclass(event, Event)]
    errors = []
    for subscriber in registry.all_subscribers():
        wanted = subscriber.event
        for module, event in published:
            if event.event_type != wanted.event_type or event.version == wanted.version:
                continue
            for source, target in missing_steps(event.event_type, event.version, wanted.version):
                errors.append(
                    checks.Error(
                        f"{subscriber.name} takes {wanted.event_type} v{wanted.version}, module '{module.label}' publishes "
                        f"v{event.version}, and no converter turns v{source} into v{target}.",
                        hint=f"Add @converts(<v{source} class>, <v{target} class>) beside the event in "
                             f"contracts/{module.label}.py (from contracts.kernel import converts), or subscribe to v{event.version}.",
                        obj=subscriber.name,
                        id="seams.E018",
                    )
                )
    return errors


def _handles_error(module: ModuleConfig, what: str) -> checks.CheckMessage:
    return checks.Error(
        f"Module '{module.label}' {what}.",
        hint=f"Make 'handles' in {module.manifest_location()} match the module's @subscribe handlers, or remove it to derive it.",
        obj=module.label,
        id="seams.E010",
    )


# --- E009 / E011: modules and their databases ----------------------------------------------------
def app_errors(app_configs: Iterable[AppConfig], modules_package: str, databases: dict[str, object]) -> list[checks.CheckMessage]:
    errors = []
    for config in app_configs:
        in_modules = config.name.startswith(modules_package + ".")
        if in_modules and not isinstance(config, ModuleConfig):
            errors.append(
                checks.Error(
                    f"App '{config.name}' lives under {modules_package}/ but its AppConfig ({type(config).__name__}) is not a module.",
                    hint="Make its AppConfig subclass contracts.kernel.ModuleConfig and declare provides/consumes/publishes.",
                    obj=config.name,
                    id="seams.E009",
                )
            )
        if isinstance(config, ModuleConfig) and config.database_alias not in databases:
            errors.append(
                checks.Error(
                    f"Module '{config.label}' keeps its data in database alias '{config.database_alias}', which DATABASES lacks.",
                    hint="Build DATABASES with contracts.kernel.databases.module_databases() over every module label.",
                    obj=config.label,
                    id="seams.E011",
                )
            )
    return errors


# --- E014: cycles of contract calls -------------------------------------------------------------
def cycle_errors(modules: Iterable[ModuleConfig]) -> list[checks.CheckMessage]:
    """seams.E014: modules that consume each other's contracts, directly or round several modules.

    Events are not edges here: a module reacting to another's event while the other calls it is the
    normal way to break such a cycle."""
    calls = {m.label: {c.__seams_module__ for c in m.consumes} for m in modules}
    return [
        checks.Error(
            f"Modules call each other's contracts in a cycle: {' -> '.join(cycle)}.",
            hint=(
                "Once one of them is extracted, a call that calls back waits on itself across the network (a "
                "distributed deadlock and a chatty seam). Break the cycle: let one side react to the other's events "
                "(@subscribe) instead of calling it, or move the piece both need into one module. Each module's "
                "'consumes' is in modules/<name>/apps.py."
            ),
            obj=cycle[0],
            id="seams.E014",
        )
        for cycle in call_cycles(calls)
    ]


# --- registration with Django --------------------------------------------------------------------
def _project_packages() -> set[str]:
    """Every top-level package and ``.py`` beside manage.py (``BASE_DIR``), plus SEAMS_PROJECT_PACKAGES."""
    found = set(getattr(settings, "SEAMS_PROJECT_PACKAGES", KNOWN_PACKAGES))
    base = getattr(settings, "BASE_DIR", None)
    if base is not None and Path(base).is_dir():
        found |= set(project_packages(Path(base)))
    return found


def facts_cache_dir() -> Path | None:
    """Where the parsed source facts are kept between runs: ``settings.SEAMS_FACTS_CACHE``, by default
    ``.import_linter_cache/`` beside manage.py, the directory ``lint-imports`` keeps them in (so one
    of the two parses each file). ``SEAMS_FACTS_CACHE = None`` keeps nothing between runs."""
    if hasattr(settings, "SEAMS_FACTS_CACHE"):
        configured = settings.SEAMS_FACTS_CACHE
        return Path(configured) if configured else None
    base = getattr(settings, "BASE_DIR", None)
    return Path(base) / ".import_linter_cache" if base is not None else None


@checks.register(TAG)
def check_boundaries(app_configs: list[AppConfig] | None = None, **kwargs: object) -> list[checks.CheckMessage]:
    path = baseline_path()
    try:
        recorded = baseline.load(path)
    except ValueError as exc:
        return [*boundary_errors(), checks.Error(str(exc), hint="Rewrite it with 'manage.py modules baseline'.", obj=path.name, id="seams.E017")]
    return apply_baseline(boundary_errors(), recorded, path)


#: Settings that name a class by dotted path, imported only when first used (a bad one was a 500 at
#: the first e-mail): id, setting, what the class must be, whether ``found`` is one.
BACKENDS = (
    ("seams.E019", "EMAIL_BACKEND", "a Django e-mail backend (a class with send_messages())",
     lambda found: isinstance(found, type) and callable(getattr(found, "send_messages", None))),
    ("seams.E020", "SEAMS_EVENT_BACKEND", "a subclass of contracts.kernel.bus.EventBackend",
     lambda found: isinstance(found, type) and issubclass(found, _event_backend_class())),
)


def _event_backend_class() -> type:
    from .bus import EventBackend

    return EventBackend


def backend_errors(configured: dict[str, object]) -> list[checks.CheckMessage]:
    """seams.E019 (``EMAIL_BACKEND``), seams.E020 (``SEAMS_EVENT_BACKEND``): the dotted path does not
    import, or names something that is not a backend. ``configured``: setting -> its value (a
    setting left out is not checked)."""
    errors: list[checks.CheckMessage] = []
    for id_, name, expected, is_backend in BACKENDS:
        if name not in configured:
            continue
        dotted = configured[name]
        try:
            found = import_string(str(dotted))
        except Exception as exc:  # an ImportError, or whatever the module raises as it is imported
            problem = f"{name}={dotted!r} does not import: {type(exc).__name__}: {exc}."
        else:
            if is_backend(found):
                continue
            problem = f"{name}={dotted!r} is not {expected}."
        errors.append(
            checks.Error(
                problem,
                hint=f"Set {name} to the dotted path of {expected}, or unset it for the default. It is "
                "imported only when first used: unchecked, that first use fails.",
                obj=name,
                id=id_,
            )
        )
    return errors


@checks.register(TAG)
def check_backends(app_configs: list[AppConfig] | None = None, **kwargs: object) -> list[checks.CheckMessage]:
    return backend_errors({name: getattr(settings, name) for _, name, _, _ in BACKENDS if hasattr(settings, name)})


def boundary_errors() -> list[checks.CheckMessage]:
    """Every boundary error of the installed project, before the baseline leaves any out."""
    modules = _modules()
    registry = get_registry()
    labels = {m.label for m in modules}
    errors = app_errors(apps.get_app_configs(), getattr(settings, "SEAMS_MODULES_PACKAGE", "modules"), settings.DATABASES)
    errors += relation_errors(apps.get_models(), labels, shared=set(getattr(settings, "SEAMS_SHARED_MODELS", ())))
    models_by_module = {m.label: {model._meta.model_name for model in m.get_models()} for m in modules}
    project = _project_packages()
    cache = FactCache(facts_cache_dir())
    allowed = allowed_contract_modules(modules, registry)
    for module in modules:
        errors += source_errors(module, _python_files(module), models_by_module, project, cache=cache, allowed=allowed[module.label])
    cache.save()
    errors += contract_type_errors(declared_contracts.values())
    errors += implementation_errors(modules, registry)
    errors += event_errors(modules, registry)
    errors += conversion_errors(modules, registry)
    errors += cycle_errors(modules)
    return errors


# --- E017: the baseline (adopting Seams in an existing project) ----------------------------------
def baseline_path() -> Path:
    """``settings.SEAMS_BASELINE``, or ``seams-baseline.json`` beside manage.py (``BASE_DIR``)."""
    configured = getattr(settings, "SEAMS_BASELINE", None)
    if configured:
        return Path(configured)
    return Path(getattr(settings, "BASE_DIR", Path.cwd())) / baseline.FILENAME


def apply_baseline(errors: list[checks.CheckMessage], recorded: set[Entry], path: Path) -> list[checks.CheckMessage]:
    """Leave out the recorded violations; report each recorded one that no longer occurs (seams.E017)."""
    if not recorded:
        return errors
    seen = {e.entry for e in errors if isinstance(e, BoundaryError) and e.entry is not None}
    kept = [e for e in errors if not (isinstance(e, BoundaryError) and e.entry in recorded)]
    for entry in sorted(recorded - seen):
        kept.append(
            checks.Error(
                f"The baseline records a violation that no longer occurs: {entry.describe()}.",
                hint=(
                    f"Well done. Remove it from {path.name} so it cannot come back unnoticed: run "
                    "'manage.py modules baseline' (it only removes entries) and commit the file."
                ),
                obj=entry.module,
                id="seams.E017",
            )
        )
    return kept
