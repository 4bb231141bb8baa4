"""docs/adopting.md, followed step by step in a throwaway copy of the project.

Each ``## Step`` section's ```python title="path"``` blocks are written (``(add)`` ones appended),
then the step's expectations are checked with the real ``manage.py check``, ``lint-imports`` and
``manage.py modules baseline``, so the adoption tutorial cannot drift from what Seams does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.support.processes import ROOT
from tests.support.project_copy import copy_env, copy_project, run_tool

BLOCK = re.compile(r'```python title="(?P<title>[^"]+)"\n(?P<code>.*?)```', re.S)


def steps() -> dict[int, list[tuple[str, str]]]:
    text = (ROOT / "docs" / "adopting.md").read_text(encoding="utf-8")
    found: dict[int, list[tuple[str, str]]] = {}
    for section in re.split(r"(?m)^## Step ", text)[1:]:
        number = int(section.split(":", 1)[0])
        found[number] = [(m["title"], m["code"]) for m in BLOCK.finditer(section)]
    return found


def apply(project: Path, blocks: list[tuple[str, str]]) -> None:
    for title, code in blocks:
        relative, added = (title[: -len(" (add)")], True) if title.endswith(" (add)") else (title, False)
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((path.read_text() if added else "") + code)


def test_the_adoption_tutorial_works_step_by_step(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    env = copy_env(project)
    tutorial = steps()
    assert sorted(tutorial) == [1, 2, 3, 4, 5, 6, 7]

    def run(tool: str, *args: str) -> tuple[int, str]:
        done = run_tool(tool, list(args), project, env)
        return done.returncode, done.stdout + done.stderr

    def ok(tool: str, *args: str) -> str:
        code, output = run(tool, *args)
        assert code == 0, f"{tool} {' '.join(args)}:\n{output}"
        return output

    # Step 1-2: the legacy apps as modules; check names every crossing.
    apply(project, tutorial[1])
    code, output = run("manage.py", "check")
    assert code != 0
    for expected in (
        "crm.Customer.user is a ForeignKey to auth.User, a model of another module.",
        "invoicing.Invoice.customer is a ForeignKey to crm.Customer, a model of another module.",
        "reaches another module's model by name: get_model('crm', 'Customer')",
        "Module 'invoicing' imports modules.crm (",
    ):
        assert expected in output, output
    code, output = run("lint-imports", "--no-cache")
    assert code != 0 and "modules.invoicing.services -> modules.crm.models (l.1)" in output, output

    # Step 3: auth.User shared, without a database constraint.
    apply(project, tutorial[3])
    code, output = run("manage.py", "check")
    assert code != 0 and "auth.User" not in output, output

    # Step 4: the baseline records the rest; both gates pass.
    assert "Recorded" in ok("manage.py", "modules", "baseline")
    recorded = json.loads((project / "seams-baseline.json").read_text())["violations"]
    kinds = {(e["kind"], e["where"]) for e in recorded}
    assert ("import", "modules/invoicing/services.py") in kinds
    assert ("model-reference", "modules/invoicing/selectors.py") in kinds
    assert ("model-reference", "modules/invoicing/models.py") in kinds  # the "crm.Customer" string of the foreign key
    assert ("relation", "invoicing.Invoice.customer") in kinds
    ok("manage.py", "check")
    ok("lint-imports", "--no-cache")

    # Step 5: a new violation fails both, alone; the command does not record it.
    apply(project, tutorial[5])
    code, output = run("manage.py", "check")
    assert code != 0 and "modules/invoicing/reports.py:1" in output and "services.py" not in output, output
    code, output = run("lint-imports", "--no-cache")
    assert code != 0 and "modules.invoicing.reports -> modules.crm.models (l.1)" in output, output
    assert "services" not in output.split("Broken contracts")[-1], output
    code, output = run("manage.py", "modules", "baseline")
    assert "1 new violation(s) are not recorded" in output, output
    assert "reports.py" not in (project / "seams-baseline.json").read_text()
    (project / "modules/invoicing/reports.py").unlink()

    # Step 6: the import fixed through a contract: the entry is stale until removed.
    apply(project, tutorial[6])
    code, output = run("manage.py", "check")
    assert code != 0 and "seams.E017" in output, output
    assert "import invoicing: modules/invoicing/services.py -> modules.crm" in output
    assert "1 fixed violation(s) removed, 0 added" in ok("manage.py", "modules", "baseline")
    ok("manage.py", "check")
    ok("lint-imports", "--no-cache")

    # Step 7: the last three fixed; nothing recorded; both gates pass.
    apply(project, tutorial[7])
    assert "3 fixed violation(s) removed, 0 added, 0 recorded" in ok("manage.py", "modules", "baseline")
    assert json.loads((project / "seams-baseline.json").read_text())["violations"] == []
    ok("manage.py", "check", "--fail-level", "WARNING")
    ok("lint-imports", "--no-cache")
