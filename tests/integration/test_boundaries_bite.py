"""The guard rails bite: break a module boundary in a throwaway copy of the project and watch
``lint-imports`` (with the committed ``importlinter.ini``) and ``manage.py check`` fail, naming
what broke. The unchanged copy passes both.

One copy serves every scenario: each writes its files and removes (or restores) them afterwards.
The modules involved are picked from the installed ones, so the test follows the project as it grows.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from contracts.kernel import ModuleConfig, module_configs
from contracts.kernel.lintconfig import DEFAULT_FILENAME, declaration_labels
from tests.support.processes import BIN
from tests.support.project_copy import copy_env, copy_project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(tmp_path_factory.mktemp("boundaries") / "project")


def environment(project: Path) -> dict[str, str]:
    return copy_env(project)


def lint_imports(project: Path) -> tuple[int, str]:
    result = subprocess.run(
        [str(BIN / "lint-imports"), DEFAULT_FILENAME, "--no-cache", "--no-logo"],
        cwd=project, env=environment(project), capture_output=True, text=True, timeout=300,
    )
    return result.returncode, result.stdout + result.stderr


def manage_check(project: Path) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=project, env=environment(project), capture_output=True, text=True, timeout=300,
    )
    return result.returncode, result.stdout + result.stderr


@contextmanager
def written(path: Path, text: str, *, append: bool = False) -> Iterator[Path]:
    """Write (or append to) ``path`` for the duration of the block, then put things back as they were."""
    before = path.read_text() if path.exists() else None
    path.write_text((before or "") + text if append else text)
    try:
        yield path
    finally:
        if before is None:
            path.unlink()
        else:
            path.write_text(before)


def project_modules() -> list[ModuleConfig]:
    """The modules under modules/ (the copy runs app.settings: no test-only module is installed there)."""
    return sorted((m for m in module_configs() if m.name == f"modules.{m.label}"), key=lambda m: m.label)


def two_modules() -> tuple[str, str]:
    labels = [m.label for m in project_modules()]
    assert len(labels) >= 2, f"these scenarios need two modules; installed: {labels}"
    return labels[0], labels[1]


def test_the_unchanged_copy_passes_both(project: Path) -> None:
    code, output = lint_imports(project)
    assert code == 0, output
    assert " 0 broken" in output
    code, output = manage_check(project)
    assert code == 0, output
    assert "no issues" in output


def test_a_module_importing_another_module_fails_lint_imports(project: Path) -> None:
    importer, victim = two_modules()
    with written(project / "modules" / importer / "probe_direct.py", f"import modules.{victim}  # noqa: F401\n"):
        code, output = lint_imports(project)
    assert code != 0, output
    assert f"modules.{importer} is not allowed to import modules.{victim}" in output
    assert f"modules.{importer}.probe_direct -> modules.{victim} (l.1)" in output


def test_an_import_through_a_helper_in_another_package_fails_and_shows_the_chain(project: Path) -> None:
    importer, victim = two_modules()
    helper = project / "contracts" / "_probe_helper.py"
    with written(helper, f"import modules.{victim}  # noqa: F401\n"), written(
        project / "modules" / importer / "probe_indirect.py", "import contracts._probe_helper  # noqa: F401\n"
    ):
        code, output = lint_imports(project)
    assert code != 0, output
    assert f"modules.{importer} is not allowed to import modules.{victim}" in output
    assert f"modules.{importer}.probe_indirect -> contracts._probe_helper (l.1)" in output
    assert f"contracts._probe_helper -> modules.{victim} (l.1)" in output
    assert "contracts is not allowed to import modules" in output  # the helper breaks its own package's rule too


def test_a_module_importing_a_declaration_it_does_not_consume_fails_lint_imports(project: Path) -> None:
    declarations = declaration_labels()
    pairs = [
        (module.label, label)
        for module in project_modules()
        for label in declarations
        if label not in module.allowed_contract_modules()
    ]
    assert pairs, "every module may import every declaration: nothing to forbid"
    importer, declaration = pairs[0]
    with written(project / "modules" / importer / "probe_contract.py", f"import contracts.{declaration}  # noqa: F401\n"):
        code, output = lint_imports(project)
    assert code != 0, output
    assert f"{importer} may import only the contracts it consumes" in output  # the broken contract, with its fix
    assert f"modules.{importer}.probe_contract -> contracts.{declaration} (l.1)" in output


def test_a_foreign_key_to_another_modules_model_fails_manage_check(project: Path) -> None:
    with_models = [m for m in project_modules() if list(m.get_models())]
    assert with_models, "no module has a model to point at"
    target = with_models[0]
    model = sorted(target.get_models(), key=lambda m: m.__name__)[0]
    owner = next(m for m in project_modules() if m.label != target.label)
    link = (
        "\n\nfrom django.db import models as probe_models  # noqa: E402\n\n\n"
        "class ProbeCrossModuleLink(probe_models.Model):\n"
        f'    other = probe_models.ForeignKey("{target.label}.{model.__name__}", on_delete=probe_models.CASCADE)\n'
    )
    with written(project / "modules" / owner.label / "models.py", link, append=True):
        code, output = manage_check(project)
    assert code != 0, output
    assert "seams.E001" in output
    assert f"{owner.label}.ProbeCrossModuleLink.other is a ForeignKey to {target.label}.{model.__name__}" in output
