"""The boundary baseline: recorded violations pass, new ones fail, fixed ones fail as stale (seams.E017)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core import checks
from django.core.management import call_command

from contracts.kernel import baseline
from contracts.kernel.baseline import Entry
from contracts.kernel.checks import BoundaryError, apply_baseline

OLD = Entry("import", "invoicing", "modules/invoicing/services.py", "modules.crm")
NEW = Entry("import", "invoicing", "modules/invoicing/reports.py", "modules.crm")


def error(entry: Entry | None) -> checks.CheckMessage:
    return BoundaryError(f"violation {entry}", obj="invoicing", id="seams.E013", entry=entry)


def test_the_file_round_trips_sorted_one_entry_a_line(tmp_path: Path) -> None:
    path = tmp_path / baseline.FILENAME
    path.write_text(baseline.render([NEW, OLD, OLD]))
    assert baseline.load(path) == {OLD, NEW}
    lines = path.read_text().splitlines()
    assert [line for line in lines if '"kind"' in line] == sorted(line for line in lines if '"kind"' in line)
    assert baseline.load(tmp_path / "missing.json") == set()


def test_a_file_that_is_not_a_baseline_is_refused_naming_the_fix(tmp_path: Path) -> None:
    path = tmp_path / baseline.FILENAME
    path.write_text('{"violations": [{"kind": "import"}]}')
    with pytest.raises(ValueError, match="manage.py modules baseline"):
        baseline.load(path)


def test_recorded_violations_pass_new_ones_fail_fixed_ones_are_stale(tmp_path: Path) -> None:
    path = tmp_path / baseline.FILENAME
    other = checks.Error("not recordable", id="seams.E015")
    assert apply_baseline([error(OLD), error(NEW), other], {OLD}, path) == [error(NEW), other]
    (stale,) = apply_baseline([], {OLD}, path)
    assert stale.id == "seams.E017"
    assert "no longer occurs: import invoicing: modules/invoicing/services.py -> modules.crm" in stale.msg
    assert "manage.py modules baseline" in stale.hint
    assert apply_baseline([error(NEW)], set(), path) == [error(NEW)]  # no baseline: nothing changes


def test_imports_are_recorded_by_module_or_top_level_package() -> None:
    assert baseline.reached("modules.crm.models") == "modules.crm"
    assert baseline.reached("utils") == "utils"
    assert baseline.reached("app.settings") == "app"


def test_the_command_on_a_clean_project_records_nothing(tmp_path: Path, settings) -> None:
    settings.SEAMS_BASELINE = str(tmp_path / baseline.FILENAME)
    out = StringIO()
    call_command("modules", "baseline", stdout=out, stderr=StringIO())
    assert "Recorded 0 boundary violations" in out.getvalue()
    assert baseline.load(tmp_path / baseline.FILENAME) == set()
    out = StringIO()
    call_command("modules", "baseline", stdout=out, stderr=StringIO())
    assert "0 fixed violation(s) removed, 0 added, 0 recorded" in out.getvalue()


def test_the_command_removes_fixed_entries_and_never_adds_without_add(tmp_path: Path, settings) -> None:
    path = tmp_path / baseline.FILENAME
    settings.SEAMS_BASELINE = str(path)
    path.write_text(baseline.render([OLD]))  # a violation the shop does not have (any more)
    out = StringIO()
    call_command("modules", "baseline", stdout=out, stderr=StringIO())
    assert "1 fixed violation(s) removed" in out.getvalue()
    assert baseline.load(path) == set()
