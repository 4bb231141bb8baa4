"""``manage.py startmodule`` in a throwaway copy of the project: the module it writes passes the
boundary gate and its own test at once, and a bad or taken name writes nothing."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.support.processes import throwaway_database
from tests.support.project_copy import copy_env, copy_project, run_tool


def test_startmodule_writes_a_module_that_passes_every_gate(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    with throwaway_database(tmp_path) as db_env:
        env = copy_env(project, db_env)

        made = run_tool("manage.py", ["startmodule", "gift_cards"], project, env)
        assert made.returncode == 0, made.stdout + made.stderr
        for path in ("contracts/gift_cards.py", "modules/gift_cards/apps.py", "modules/gift_cards/models.py",
                     "modules/gift_cards/services.py", "modules/gift_cards/selectors.py",
                     "modules/gift_cards/implementation.py", "modules/gift_cards/handlers.py",
                     "modules/gift_cards/api.py", "modules/gift_cards/migrations/0001_initial.py",
                     "tests/modules/test_gift_cards.py"):
            assert (project / path).is_file(), path
        assert "class GiftCards(Contract)" in (project / "contracts/gift_cards.py").read_text()
        assert "type = seams" in (project / "importlinter.ini").read_text()  # unchanged: the seams contract finds the module itself

        for tool, args in (("ruff", ["check", "."]), ("lint-imports", []), ("manage.py", ["check", "--fail-level", "WARNING"]),
                           ("manage.py", ["modules", "lint-config", "--check"]), ("manage.py", ["migrate_modules"])):
            done = run_tool(tool, args, project, env)
            assert done.returncode == 0, f"{tool} {args}:\n{done.stdout}\n{done.stderr}"
        assert "gift_cards" in run_tool("manage.py", ["modules"], project, env).stdout

        tested = run_tool_python(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/modules/test_gift_cards.py"],
                                 project, env)
        assert tested.returncode == 0 and "3 passed" in tested.stdout, tested.stdout + tested.stderr

        again = run_tool("manage.py", ["startmodule", "gift_cards"], project, env)
        assert again.returncode != 0 and "already exists" in again.stderr and "nothing was written" in again.stderr


def test_generated_imports_stay_sorted_whatever_the_name(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    env = copy_env(project)
    for name in ("aardvark", "item_log", "zoo"):  # before, among and after the Item* names
        done = run_tool("manage.py", ["startmodule", name, "--no-migrations"], project, env)
        assert done.returncode == 0, done.stdout + done.stderr
    lint = run_tool("ruff", ["check", "."], project, env)
    assert lint.returncode == 0, lint.stdout


def test_startmodule_refuses_bad_names_before_writing(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    env = copy_env(project)
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    for name, expected in (("GiftCards", "not a valid module name"), ("2fa", "not a valid module name"),
                           ("class", "not a valid module name"), ("kernel", "reserved"),
                           ("orders", "already exists"), ("default", "already a database alias")):
        done = run_tool("manage.py", ["startmodule", name], project, env)
        assert done.returncode != 0 and expected in done.stderr, (name, done.stderr)
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before


def run_tool_python(args: list[str], cwd: Path, env: dict[str, str]):  # noqa: ANN201 - a CompletedProcess
    import subprocess

    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
