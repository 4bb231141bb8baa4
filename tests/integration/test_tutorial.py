"""The README tutorial, followed to the letter in a throwaway copy of the project.

Its files are the README's ```python title="..."``` blocks and its commands are run as written,
so the tutorial cannot drift from what Seams does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.processes import ROOT, project_env, throwaway_database
from tests.support.project_copy import copy_project, run_tool, titled_code_blocks

FLOW = """
from django.test import Client
from contracts.kernel.public import issue_token
ada = issue_token("ada@example.com", scopes=["shop:customer"], email="ada@example.com")
c = Client(headers={"Authorization": f"Bearer {ada}"})
r = c.post("/api/orders/", {"lines": [{"sku": "KB-101", "quantity": 2}]}, content_type="application/json")
assert r.status_code == 201 and r.json()["status"] == "confirmed", r.content
points = c.get("/api/loyalty/").json()["points"]
print("POINTS", points, r.json()["total_cents"] // 100)
r = c.post("/api/loyalty/redeem", {"points": points + 1}, content_type="application/json")
assert r.status_code == 409 and r.json()["code"] == "loyalty.NotEnoughPoints", r.content
r = c.post("/api/loyalty/redeem", {"points": 1}, content_type="application/json")
assert r.status_code == 200 and r.json()["points"] == points - 1, r.content
print("REDEEMED")
"""


def test_readme_tutorial_adds_a_working_module(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    blocks = titled_code_blocks((ROOT / "README.md").read_text())
    assert set(blocks) >= {"contracts/loyalty.py", "modules/loyalty/apps.py", "modules/loyalty/handlers.py",
                           "modules/loyalty/implementation.py", "modules/loyalty/api.py",
                           "tests/modules/test_loyalty.py"}
    for relative, code in blocks.items():
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        (project / relative).write_text(code)
    (project / "modules/loyalty/migrations").mkdir()
    (project / "modules/loyalty/migrations/__init__.py").touch()

    with throwaway_database(tmp_path) as db_env:
        env = project_env(db_env, cwd=project)

        def ok(tool: str, *args: str) -> str:
            result = run_tool(tool, list(args), project, env)
            assert result.returncode == 0, f"{tool} {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
            return result.stdout

        ok("manage.py", "makemigrations", "loyalty")
        ok("manage.py", "migrate_modules")
        ok("manage.py", "modules", "lint-config", "--check")  # a new module needs no new boundary config
        ok("lint-imports")
        ok("manage.py", "check")
        assert "loyalty" in ok("manage.py", "modules")

        ok("manage.py", "seed_shop", "--if-empty")
        flow = ok("manage.py", "shell", "-c", FLOW)
        points = flow.split("POINTS", 1)[1].split()
        assert int(points[0]) == int(points[1]) > 0 and "REDEEMED" in flow

        # "Test it alone": the module's own test, isolated by @pytest.mark.seams_module.
        tested = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/modules/test_loyalty.py"],
                                cwd=project, env=env, capture_output=True, text=True, timeout=300)
        assert tested.returncode == 0 and "1 passed" in tested.stdout, tested.stdout + tested.stderr

        # Step 7: the guard rails.
        intruder = project / "modules/loyalty/intruder.py"
        intruder.write_text("from modules.orders.models import Order  # noqa: F401\n")
        lint = run_tool("lint-imports", [], project, env)
        assert lint.returncode != 0
        assert "modules.loyalty" in lint.stdout and "modules.orders" in lint.stdout
        check = run_tool("manage.py", ["check"], project, env)
        assert check.returncode != 0 and "seams.E013" in check.stderr
        intruder.unlink()

        models = project / "modules/loyalty/models.py"
        models.write_text(models.read_text() + '    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE)\n')
        check = run_tool("manage.py", ["check"], project, env)
        assert check.returncode != 0 and "seams.E001" in check.stderr
