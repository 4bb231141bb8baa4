"""The kernel's management commands: ``modules`` (list, graph, lint-config) and ``migrate_modules``."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from contracts.kernel import module_configs

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_modules_lists_every_module_with_its_database_contracts_and_events() -> None:
    text = run("modules")
    assert text == run("modules", "list")
    for module in module_configs():
        block = text.split(f"{module.label}  ({module.name})\n", 1)[1].split("\n\n")[0]
        assert f"database   {module.database_alias} (" in block
        for contract in module.provides:
            assert contract.__seams_name__ in block.split("provides", 1)[1].split("\n")[0]
        for contract in module.consumes:
            assert contract.__seams_name__ in block.split("consumes", 1)[1].split("\n")[0]
        for event in module.publishes:
            assert event.event_type in block.split("publishes", 1)[1].split("\n")[0]
        for event in module.handled_events():
            assert event.event_type in block.split("handles", 1)[1].split("\n")[0]


def test_modules_graph_prints_a_mermaid_flowchart_of_the_installed_modules() -> None:
    lines = run("modules", "graph").splitlines()
    assert lines[0] == "flowchart LR"
    for module in module_configs():
        for contract in module.consumes:
            assert any(
                line.startswith(f"    {module.label} -->|")
                and contract.__name__ in line
                and line.endswith(f"| {contract.__seams_module__}")
                for line in lines
            ), f"no call edge {module.label} -> {contract.__seams_module__} in:\n" + "\n".join(lines)
        for event in module.handled_events():
            assert any(
                line.startswith(f"    {event.publisher} -.->|")
                and event.__name__ in line
                and line.endswith(f"| {module.label}")
                for line in lines
            ), f"no event edge {event.publisher} -.-> {module.label} in:\n" + "\n".join(lines)


def test_lint_config_writes_a_file_that_then_passes_check(tmp_path: Path) -> None:
    target = tmp_path / "importlinter.ini"
    assert "Wrote" in run("modules", "lint-config", "--output", str(target))
    text = target.read_text()
    assert text.startswith("# Written by") and "[importlinter]" in text
    assert "type = seams" in text and "contracts.kernel.importcontract.SeamsBoundaries" in text
    assert "is the one" in run("modules", "lint-config", "--check", "--output", str(target))
    assert "up to date" in run("modules", "lint-config", "--output", str(target))
    assert target.read_text() == text


def test_lint_config_check_fails_on_a_hand_edited_file_and_says_what_to_run(tmp_path: Path) -> None:
    target = tmp_path / "importlinter.ini"
    run("modules", "lint-config", "--output", str(target))
    target.write_text(target.read_text().replace("type = seams", "type = forbidden", 1))
    stale = target.read_text()
    with pytest.raises(CommandError, match=r"differs from the file.*manage\.py modules lint-config"):
        call_command("modules", "lint-config", check=True, output=str(target), stdout=StringIO(), stderr=StringIO())
    assert target.read_text() == stale  # --check never writes


def test_lint_config_check_fails_when_the_file_is_missing(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"does not exist.*manage\.py modules lint-config"):
        call_command("modules", "lint-config", "--check", "--output", str(tmp_path / "nope.ini"), stdout=StringIO())


def test_lint_config_check_exits_non_zero_from_the_command_line(tmp_path: Path) -> None:
    target = tmp_path / "importlinter.ini"
    target.write_text("[importlinter]\nroot_packages =\n    app\n")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SEAMS_MODULES", "DJANGO_SETTINGS_MODULE"}}
    env["SEAMS_VAR_DIR"] = str(tmp_path / "var")
    result = subprocess.run(
        [sys.executable, "manage.py", "modules", "lint-config", "--check", "--output", str(target)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "manage.py modules lint-config" in result.stderr
    assert "+[importlinter:contract:" in result.stderr  # the diff shows what is missing


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_migrate_modules_migrates_default_and_every_module_alias() -> None:
    text = run("migrate_modules")
    for alias in ["default", *[m.database_alias for m in module_configs()]]:
        assert f"Migrating database '{alias}'" in text
    assert f"Migrated {len(settings.DATABASES)} databases" in text
