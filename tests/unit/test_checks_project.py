"""The boundary checks on the real project: `manage.py check` passes."""

from django.core import checks
from django.core.management import call_command

from contracts.kernel.checks import TAG, check_boundaries


def test_the_seams_checks_are_registered_under_their_tag() -> None:
    assert TAG == "seams"
    assert check_boundaries in checks.registry.registry.get_checks()
    assert TAG in checks.registry.registry.tags_available()


def test_the_project_has_no_boundary_errors() -> None:
    assert checks.run_checks(tags=[TAG]) == []


def test_manage_py_check_passes() -> None:
    call_command("check", fail_level="WARNING")
