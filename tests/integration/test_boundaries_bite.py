"""The guard rails bite: break a module boundary in a throwaway copy of the project and watch
``lint-imports`` (with the committed ``importlinter.ini``) and ``manage.py check`` fail, naming
what broke and the chain that leads there. The unchanged copy passes both.

The leaks tried are the ones a team actually writes: a shared helper package added next to the
others, a ``utils.py`` beside ``manage.py``, a namespace directory, a re-export (through
``contracts`` or ``modules/__init__.py``), a relative import, a lazy import inside a function; and
the manifest drifting from the code (a ``publish()`` or ``use()`` the manifest does not declare, a
cycle of contract calls).

One copy serves every scenario: each writes its files and removes (or restores) them afterwards.
The modules involved are picked from the installed ones, so the test follows the project as it grows.
"""

from __future__ import annotations

import re
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
    assert f"contracts is not allowed to import modules.{victim}" in output  # the helper breaks its own package's rule too


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
    assert f"{importer} may import only the contracts it consumes" in output  # the broken rule
    assert f"Declare the dependency in modules/{importer}/apps.py" in output  # and its fix
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


# --- leaks through code the rules used not to know about -------------------------------------------
def assert_leak(output: str, importer: str, reached: str, *chain: str) -> None:
    assert f"modules.{importer} is not allowed to import {reached}" in output, output
    for link in chain:
        assert link in output, output
    assert "Of the project's own packages a module imports only 'contracts'" in output  # the fix


def test_a_shared_helper_package_added_later_is_covered_and_the_chain_shown(project: Path) -> None:
    importer, victim = two_modules()
    shared = project / "shared"
    shared.mkdir()
    try:
        with written(shared / "__init__.py", ""), written(shared / "money.py", f"from modules.{victim} import models  # noqa: F401\n"), written(
            project / "modules" / importer / "probe_shared.py", "from shared.money import models  # noqa: F401\n"
        ):
            code, output = lint_imports(project)
            check_code, check_output = manage_check(project)
    finally:
        shared.rmdir()
    assert code != 0
    assert_leak(output, importer, "shared", f"modules.{importer}.probe_shared -> shared.money (l.1)", f"shared.money -> modules.{victim}")
    assert check_code != 0 and "seams.E013" in check_output, check_output
    assert f"Module '{importer}' imports shared.money" in check_output


def test_a_utils_module_beside_manage_py_imported_lazily_is_covered(project: Path) -> None:
    importer, victim = two_modules()
    lazy = "def price():\n    from utils import helper  # noqa: F401\n"
    with written(project / "utils.py", f"import modules.{victim}.models  # noqa: F401\n\nhelper = 1\n"), written(
        project / "modules" / importer / "probe_utils.py", lazy
    ):
        code, output = lint_imports(project)
        check_code, check_output = manage_check(project)
    assert code != 0
    assert_leak(output, importer, "utils", f"modules.{importer}.probe_utils -> utils (l.2)", f"utils -> modules.{victim}.models (l.1)")
    assert check_code != 0 and f"Module '{importer}' imports utils" in check_output, check_output


def test_a_namespace_directory_without_init_is_covered(project: Path) -> None:
    importer, victim = two_modules()
    loose = project / "helpers_ns"
    loose.mkdir()
    try:
        with written(loose / "text.py", f"import modules.{victim}  # noqa: F401\n"), written(
            project / "modules" / importer / "probe_ns.py", "import helpers_ns.text  # noqa: F401\n"
        ):
            code, output = lint_imports(project)
    finally:
        loose.rmdir()
    assert code != 0
    assert_leak(output, importer, "helpers_ns", f"modules.{importer}.probe_ns -> helpers_ns (l.1)", f"helpers_ns -> modules.{victim} (l.1)")


def test_a_re_export_through_modules_init_is_covered(project: Path) -> None:
    importer, victim = two_modules()
    init = project / "modules" / "__init__.py"
    with written(init, f"from modules.{victim} import apps  # noqa: F401\n", append=True), written(
        project / "modules" / importer / "probe_reexport.py", "from modules import apps  # noqa: F401\n"
    ):
        code, output = lint_imports(project)
    assert code != 0
    assert_leak(output, importer, "modules", f"modules.{importer}.probe_reexport -> modules (l.1)", f"modules -> modules.{victim}.apps")


def test_a_relative_import_of_another_module_inside_a_function_is_covered(project: Path) -> None:
    importer, victim = two_modules()
    source = f"def later():\n    from ..{victim} import apps  # noqa: F401\n"
    with written(project / "modules" / importer / "probe_relative.py", source):
        code, output = lint_imports(project)
        check_code, check_output = manage_check(project)
    assert code != 0
    assert_leak(output, importer, f"modules.{victim}", f"modules.{importer}.probe_relative -> modules.{victim}.apps (l.2)")
    assert check_code != 0 and f"Module '{importer}' imports modules.{victim}" in check_output, check_output


# --- the manifest drifting from the code -------------------------------------------------------------
def publishing_module() -> tuple[ModuleConfig, type]:
    module = next(m for m in project_modules() if m.publishes)
    return module, module.publishes[0]


def test_publish_of_an_event_missing_from_publishes_fails_both_before_anything_runs(project: Path) -> None:
    module, event = publishing_module()
    apps_py = project / "modules" / module.label / "apps.py"
    text = apps_py.read_text()
    # What a new user tried: the manifest loses its 'publishes', the code still publishes.
    trimmed, found = re.subn(r"(?m)^    publishes = \[[^\]]*\]", "    publishes = []", text)
    assert found == 1, text
    with written(apps_py, trimmed):
        code, output = lint_imports(project)
        check_code, check_output = manage_check(project)
    assert code != 0
    assert f"{module.label} publishes {event.__name__} but does not list it in 'publishes'" in output, output
    assert f"Add {event.__name__} to 'publishes' in modules/{module.label}/apps.py" in output
    assert check_code != 0 and "seams.E016" in check_output, check_output
    assert f"Module '{module.label}' publishes {event.event_type}" in check_output


def test_use_of_a_contract_not_consumed_fails_both(project: Path) -> None:
    consumer = next(m for m in project_modules() if m.consumes)
    contract = consumer.consumes[0]
    other = next(m for m in project_modules() if m.label not in (consumer.label, contract.__seams_module__))
    source = (
        f"from contracts.kernel import use\nfrom contracts.{contract.__seams_module__} import {contract.__name__}\n\n\n"
        f"def ask():\n    return use({contract.__name__})\n"
    )
    with written(project / "modules" / other.label / "probe_use.py", source):
        code, output = lint_imports(project)
        check_code, check_output = manage_check(project)
    assert code != 0
    assert f"{other.label} calls use({contract.__name__}) but does not consume it" in output, output
    assert check_code != 0 and "seams.E015" in check_output, check_output
    assert f"Add {contract.__name__} (from contracts.{contract.__seams_module__}) to 'consumes'" in check_output


def test_a_cycle_of_contract_calls_is_spelled_out(project: Path) -> None:
    consumer = next(m for m in project_modules() if m.consumes)
    provider = next(m for m in project_modules() if m.label == consumer.consumes[0].__seams_module__)
    back = consumer.provides[0]
    apps_py = project / "modules" / provider.label / "apps.py"
    text = apps_py.read_text()
    assert "    consumes = " not in text, "the provider already consumes something; pick another pair"
    cyclic = text.replace("    provides = [", f"    consumes = [{back.__name__}]\n    provides = [", 1)
    cyclic = f"from contracts.{consumer.label} import {back.__name__}\n" + cyclic
    with written(apps_py, cyclic):
        code, output = lint_imports(project)
        check_code, check_output = manage_check(project)
    first, second = sorted([consumer.label, provider.label])
    spelled = f"{first} -> {second} -> {first}"
    assert code != 0 and spelled in output, output
    assert check_code != 0 and "seams.E014" in check_output and spelled in check_output, check_output
