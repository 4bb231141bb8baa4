"""``render_lint_config``: one ``seams`` contract, the same text for every project (nothing to go stale)."""

from __future__ import annotations

from pathlib import Path

from importlinter.api import read_configuration

from contracts.kernel.lintconfig import COMMAND, CONTRACT_TYPE, DEFAULT_FILENAME, render_lint_config
from tests.support.processes import ROOT


def read(text: str, tmp_path: Path) -> dict:
    path = tmp_path / DEFAULT_FILENAME
    path.write_text(text)
    return read_configuration(str(path))


def test_import_linter_reads_one_contract_of_the_seams_type(tmp_path: Path) -> None:
    config = read(render_lint_config(), tmp_path)
    assert config["session_options"]["root_packages"] == ["contracts"]
    assert config["session_options"]["contract_types"] == [f"seams: {CONTRACT_TYPE}"]
    (contract,) = config["contracts_options"]
    assert contract["type"] == "seams"
    assert "a module imports only contracts" in contract["name"]


def test_the_contract_type_named_in_the_file_is_importable() -> None:
    from django.utils.module_loading import import_string
    from importlinter import Contract

    assert issubclass(import_string(CONTRACT_TYPE), Contract)


def test_the_header_says_what_writes_it_and_what_the_contract_checks() -> None:
    header = render_lint_config().split("[importlinter]")[0]
    assert COMMAND in header and f"lint-imports {DEFAULT_FILENAME}" in header
    assert "utils.py added later" in header and "publish" in header


def test_the_committed_file_is_the_rendered_one() -> None:
    assert (ROOT / DEFAULT_FILENAME).read_text(encoding="utf-8") == render_lint_config()
