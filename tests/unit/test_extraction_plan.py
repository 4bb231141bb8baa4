"""The extraction toolkit's parts: the plan (contract files, blockers), the renderer and the writer.

The blocker scenarios break a boundary in a throwaway copy of the project and run
``manage.py extract_module --dry-run`` there, like ``tests/integration/test_boundaries_bite.py``.
"""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core import checks

from contracts.kernel import get_module, module_configs
from extraction.toolkit.plan import (
    Blocker,
    ExtractionPlan,
    check_blockers,
    compute_plan,
    declaration_imports,
    module_lint_config,
    needed_declarations,
    parse_lint_report,
)
from extraction.toolkit.render import render_template
from extraction.toolkit.writer import CREATED, KEPT, MANIFEST, UNCHANGED, UPDATED, GeneratedFile, Writer, summary
from tests.support.processes import ROOT
from tests.support.project_copy import copy_env, copy_project

#: The reference shop: module -> the contracts/<x>.py files its service needs (besides the kernel).
EXPECTED_DECLARATIONS = {
    "catalog": ["catalog"],
    "inventory": ["catalog", "inventory", "orders"],  # consumes Catalog, handles OrderPlaced
    "orders": ["catalog", "inventory", "orders"],  # consumes Catalog, handles StockReserved/...Failed
    "notifications": ["notifications", "orders"],  # handles OrderConfirmed/OrderCancelled
}


def plan_for(label: str, **options: Any) -> ExtractionPlan:
    return compute_plan(get_module(label), root=ROOT, all_modules=module_configs(), **options)


# --- the contract declarations a service needs -----------------------------------------------------
@pytest.mark.parametrize("label", sorted(EXPECTED_DECLARATIONS))
def test_each_reference_module_needs_its_own_consumed_and_handled_declarations(label: str) -> None:
    plan = plan_for(label, run_checks=False, run_lint=False)
    assert plan.declarations == EXPECTED_DECLARATIONS[label]
    assert plan.contract_files == [
        "contracts/__init__.py",
        "contracts/kernel/",
        *(f"contracts/{x}.py" for x in EXPECTED_DECLARATIONS[label]),
    ]


def test_the_plan_names_what_the_service_calls_handles_and_the_monolith_change() -> None:
    plan = plan_for("orders", run_checks=False, run_lint=False)
    assert plan.consumes == {"catalog": ["Catalog"]}
    assert plan.consumed_modules == ["catalog"]
    assert plan.provides == ["orders.Orders"]
    assert plan.handles == ["inventory.StockReservationFailed", "inventory.StockReserved"]
    assert plan.has_api and plan.database_alias == "orders" and plan.service_name == "orders-service"
    assert plan.monolith_binding == ("SEAMS_BIND_ORDERS", "http://orders-service:8000")
    assert plan_for("orders", transport="celery", run_checks=False, run_lint=False).monolith_binding == (
        "SEAMS_BIND_ORDERS",
        "celery",
    )
    assert plan_for("notifications", run_checks=False, run_lint=False).consumes == {}


def test_the_handlers_of_its_events_that_stay_in_the_monolith_are_listed_and_their_modules_bound() -> None:
    plan = plan_for("orders", run_checks=False, run_lint=False)
    modules = {event: {s["module"] for s in subs} for event, subs in plan.remote_subscribers.items()}
    # tests.eventprobe also handles OrderPlaced here, but it is no module of the project: left out.
    assert modules == {
        "orders.OrderPlaced": {"inventory"},
        "orders.OrderConfirmed": {"notifications"},
        "orders.OrderCancelled": {"notifications"},
    }
    assert all(s["subscriber"].startswith(f"modules.{s['module']}.handlers.") for subs in plan.remote_subscribers.values() for s in subs)
    assert plan.monolith_modules == ["catalog", "inventory", "notifications"]
    inventory = plan_for("inventory", run_checks=False, run_lint=False)
    assert inventory.monolith_modules == ["catalog", "orders"]
    assert set(inventory.remote_subscribers) == {"inventory.StockReserved", "inventory.StockReservationFailed"}
    for label in ("catalog", "notifications"):
        other = plan_for(label, run_checks=False, run_lint=False)
        assert other.remote_subscribers == {} and other.monolith_modules == []


def test_an_unknown_transport_is_refused() -> None:
    with pytest.raises(ValueError, match="http, celery"):
        plan_for("orders", transport="smoke-signals", run_checks=False, run_lint=False)


def test_declarations_imported_by_needed_declarations_are_needed_too(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from contracts.kernel import Schema\nfrom contracts.b import Shared\n")
    (tmp_path / "b.py").write_text("from contracts import c\nimport contracts._private\n")
    (tmp_path / "c.py").write_text('"""No imports."""\n')
    (tmp_path / "d.py").write_text("import contracts.a\n")
    assert declaration_imports(tmp_path / "a.py") == {"b"}
    assert declaration_imports(tmp_path / "b.py") == {"c"}
    assert needed_declarations(["a", "missing"], tmp_path) == ["a", "b", "c"]
    assert needed_declarations(["c"], tmp_path) == ["c"]


@pytest.mark.parametrize("label", sorted(EXPECTED_DECLARATIONS))
def test_nothing_blocks_the_reference_modules(label: str) -> None:
    plan = plan_for(label)
    assert plan.blockers == [], "\n".join(b.render() for b in plan.blockers)
    assert not plan.blocked


# --- blockers from system-check messages -------------------------------------------------------------
def error(id: str, msg: str, obj: object, level: int = checks.ERROR) -> checks.CheckMessage:
    return checks.CheckMessage(level, msg, hint=f"hint for {id}", obj=obj, id=id)


def test_check_messages_about_the_module_or_in_its_way_block_it_and_others_do_not() -> None:
    orders = get_module("orders")
    from modules.orders.models import Order

    messages = [
        error("seams.E013", "Module 'orders' imports modules.catalog (x.py:1).", "orders"),
        error("seams.E001", "orders.OrderLine.x is a ForeignKey to catalog.Product, a model of another module.", Order),
        error("seams.E013", "Module 'inventory' imports modules.orders (modules/inventory/x.py:3).", "inventory"),
        error("seams.E001", "inventory.Thing.order is a ForeignKey to orders.Order, a model of another module.", object),
        error("seams.E003", "catalog.Catalog: get_product returns a set.", "catalog.Catalog"),  # orders calls it
        error("seams.E008", "modules.orders.handlers.x subscribes to ...", "modules.orders.handlers.x"),
        error("seams.E006", "Module 'notifications' imports contracts.catalog ...", "notifications"),
        error("seams.E013", "Module 'inventory' imports modules.ordersx (y.py:1).", "inventory"),
        error("seams.E003", "inventory.Inventory: ...", "inventory.Inventory"),  # orders does not call it
        error("seams.W001", "Module 'orders' has a warning.", "orders", level=checks.WARNING),
    ]
    blockers, notes = check_blockers(messages, orders)
    assert [b.source for b in blockers] == ["seams.E013", "seams.E001", "seams.E013", "seams.E001", "seams.E003", "seams.E008"]
    assert blockers[0] == Blocker("seams.E013", "Module 'orders' imports modules.catalog (x.py:1).", "hint for seams.E013")
    assert notes == ["seams.W001: Module 'orders' has a warning."]
    # For catalog: a module importing its package, a relation to its model, its own contract's types.
    catalog_blockers, _ = check_blockers(messages, get_module("catalog"))
    assert [b.problem for b in catalog_blockers] == [
        messages[0].msg,
        messages[1].msg,
        "catalog.Catalog: get_product returns a set.",
    ]


def test_a_blocker_renders_its_problem_its_fix_and_the_details() -> None:
    text = Blocker("import-linter", "broken: x", "do y", "\n- a -> b (l.1)\n").render()
    assert text == "[import-linter] broken: x\n    fix: do y\n    - a -> b (l.1)"


# --- import-linter contracts for one module ----------------------------------------------------------
def test_the_module_lint_config_forbids_what_would_break_the_service() -> None:
    orders = get_module("orders")
    text = module_lint_config(
        orders,
        ["modules.catalog", "modules.inventory", "modules.notifications", "modules.orders"],
        ["catalog", "inventory", "notifications", "orders"],
        ["catalog", "inventory", "orders"],
    )
    config = configparser.ConfigParser()
    config.read_string(text)

    def values(section: str, option: str) -> list[str]:
        return config[f"importlinter:contract:{section}"][option].split()

    assert values("orders-imports-no-module", "source_modules") == ["modules.orders"]
    assert values("orders-imports-no-module", "forbidden_modules") == [
        "modules.catalog", "modules.inventory", "modules.notifications"
    ]
    assert values("no-module-imports-orders", "forbidden_modules") == ["modules.orders"]
    assert values("orders-imports-no-app", "forbidden_modules") == ["app", "extraction"]
    assert values("orders-declared-contracts", "forbidden_modules") == ["contracts.notifications"]
    assert values("orders-declarations-import-no-implementation", "source_modules") == [
        "contracts.kernel", "contracts.catalog", "contracts.inventory", "contracts.orders"
    ]
    for section in config.sections():
        if section.startswith("importlinter:contract:"):
            assert config[section]["name"].endswith(")"), "each contract's name ends with what to fix"


def test_a_lint_report_gives_each_broken_contract_its_chains() -> None:
    report = (
        "Contracts\n---------\n\nfirst rule (fix one) BROKEN\nsecond rule (fix two) KEPT\nthird rule (fix three) BROKEN\n\n"
        "Contracts: 1 kept, 2 broken.\n\n\n----------------\nBroken contracts\n----------------\n\n"
        "first rule (fix one)\n--------------------\n\nmodules.a is not allowed to import modules.b:\n\n-   modules.a.x -> modules.b (l.1)\n\n\n"
        "third rule (fix three)\n----------------------\n\nmodules.c is not allowed to import app:\n\n-   modules.c -> app (l.2)\n"
    )
    broken = parse_lint_report(report)
    assert list(broken) == ["first rule (fix one)", "third rule (fix three)"]
    assert broken["first rule (fix one)"] == "modules.a is not allowed to import modules.b:\n\n-   modules.a.x -> modules.b (l.1)"
    assert "modules.c -> app (l.2)" in broken["third rule (fix three)"]
    assert parse_lint_report("Contracts: 3 kept, 0 broken.") == {}


# --- blockers in a broken copy of the project --------------------------------------------------------
@pytest.fixture(scope="module")
def broken_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project in which inventory imports the orders module directly."""
    project = copy_project(tmp_path_factory.mktemp("extract-blocked") / "project")
    (project / "modules" / "inventory" / "probe_reach.py").write_text("import modules.orders  # noqa: F401\n")
    return project


def extract(project: Path, label: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "extract_module", label, "--dry-run", "--out", str(out)],
        cwd=project, env=copy_env(project), capture_output=True, text=True, timeout=600,
    )


def test_a_module_with_a_forbidden_import_is_blocked_and_told_what_to_fix(broken_copy: Path) -> None:
    out = broken_copy.parent / "out"
    result = extract(broken_copy, "inventory", out)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "'inventory' cannot be extracted yet" in output
    assert "[seams.E013] Module 'inventory' imports modules.orders" in output
    assert "[import-linter] broken: modules.inventory imports no other module, directly or through a helper" in output
    assert "fix: call it through use(Contract) or react to its events with @subscribe" in output
    assert "modules.inventory.probe_reach -> modules.orders (l.1)" in output
    assert "Nothing was written" in output
    assert not out.exists()


def test_the_module_imported_is_blocked_too_and_an_uninvolved_one_is_not(broken_copy: Path) -> None:
    out = broken_copy.parent / "out"
    result = extract(broken_copy, "orders", out)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "[seams.E013] Module 'inventory' imports modules.orders" in output
    assert "[import-linter] broken: No other module imports modules.orders" in output

    result = extract(broken_copy, "catalog", out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok: nothing blocks the extraction" in result.stdout
    assert not out.exists()  # a dry run


# --- rendering -----------------------------------------------------------------------------------------
def test_a_line_holding_only_a_template_tag_leaves_no_blank_line(tmp_path: Path) -> None:
    from extraction.toolkit import render

    template = tmp_path / "t.tpl"
    template.write_text("a\n{% for x in xs %}\n- {{ x }}\n{% endfor %}\nb <{{ y }}>\n")
    original = render.TEMPLATES
    render.TEMPLATES = tmp_path
    try:
        assert render_template("t.tpl", {"xs": [1, 2], "y": "<&>"}) == "a\n- 1\n- 2\nb <<&>>\n"
    finally:
        render.TEMPLATES = original


# --- the writer ----------------------------------------------------------------------------------------
def test_the_writer_creates_leaves_updates_and_keeps_files_and_never_deletes(tmp_path: Path) -> None:
    lines: list[str] = []
    root = tmp_path / "svc"
    first = [GeneratedFile("a.txt", b"one"), GeneratedFile("bin/run", b"#!/bin/sh\n", executable=True)]
    counts = Writer(root, echo=lines.append).write_all(first)
    assert counts == {CREATED: 2}
    assert (root / "a.txt").read_bytes() == b"one" and (root / "bin/run").stat().st_mode & 0o111
    assert lines[0] == "  [1/2] created      a.txt"
    assert (root / MANIFEST).is_file()

    assert Writer(root, echo=lines.append).write_all(first) == {UNCHANGED: 2}

    (root / "user.txt").write_text("mine")
    assert Writer(root, echo=lines.append).write_all([GeneratedFile("a.txt", b"two")]) == {UPDATED: 1}
    assert (root / "a.txt").read_bytes() == b"two"
    assert (root / "user.txt").read_text() == "mine" and (root / "bin/run").exists()  # nothing deleted

    (root / "a.txt").write_bytes(b"edited by hand")
    lines.clear()
    assert Writer(root, echo=lines.append).write_all([GeneratedFile("a.txt", b"three")]) == {KEPT: 1}
    assert (root / "a.txt").read_bytes() == b"edited by hand"
    assert "not overwritten" in lines[0]
    (root / "user.txt").write_text("mine")
    assert Writer(root, echo=lines.append).write_all([GeneratedFile("user.txt", b"generated")]) == {KEPT: 1}

    assert Writer(root, force=True, echo=lines.append).write_all([GeneratedFile("a.txt", b"three")]) == {UPDATED: 1}
    assert (root / "a.txt").read_bytes() == b"three"


def test_a_dry_run_writes_nothing_and_says_what_it_would_do(tmp_path: Path) -> None:
    lines: list[str] = []
    counts = Writer(tmp_path / "svc", dry_run=True, echo=lines.append).write_all([GeneratedFile("a.txt", b"x")])
    assert counts == {CREATED: 1}
    assert lines == ["  [1/1] would create a.txt"]
    assert not (tmp_path / "svc").exists()
    assert summary(counts, dry_run=True) == "1 files: 1 would create, 0 would update, 0 unchanged, 0 would keep"
