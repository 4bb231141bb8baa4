"""``manage.py events`` on bad input: a clear error and a non-zero exit, never a traceback nor a
quiet "resubmitted 0" (found by the audit of issue 7, tried as a new user would).

``call_command`` raising ``CommandError`` is what ``manage.py`` prints as one ``CommandError: ...``
line with exit code 1; anything else it raises is a traceback. The last test runs the real
``manage.py`` on databases that were never migrated.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from contracts.kernel.models import Publication, PublicationStatus
from tests.integration.shop import place_order
from tests.support.outbox_rows import raw_publication
from tests.support.processes import manage, project_env

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("events", *args, stdout=out)
    return out.getvalue()


def test_resubmitting_a_publication_that_does_not_exist_is_an_error(shop: Client) -> None:
    with pytest.raises(CommandError, match="No publication orders:999999"):
        run("resubmit", "orders:999999")


def test_resubmitting_a_completed_publication_says_so_and_changes_nothing(shop: Client) -> None:
    place_order(shop, "ada@example.com", ("KB-101", 1))
    from contracts.kernel.testing import write_completions

    write_completions()
    done = Publication.objects.using("orders").filter(status=PublicationStatus.COMPLETED).first()
    assert done is not None
    with pytest.raises(CommandError, match=rf"orders:{done.pk} is completed: only dead or failed"):
        run("resubmit", f"orders:{done.pk}", "orders:999999")
    done.refresh_from_db()
    assert done.status == PublicationStatus.COMPLETED


def test_resubmitting_for_an_unknown_module_or_event_type_is_an_error(shop: Client) -> None:
    with pytest.raises(CommandError, match="Unknown module 'nosuch'; modules: catalog, inventory"):
        run("resubmit", "--module", "nosuch")
    with pytest.raises(CommandError, match="Unknown event type 'orders.OrderLost'"):
        run("resubmit", "--type", "orders.OrderLost")
    with pytest.raises(CommandError, match="Unknown event type 'orders.OrderLost'"):
        run("list", "--type", "orders.OrderLost")
    assert "resubmitted 0" in run("resubmit", "--type", "orders.OrderPlaced")  # known, nothing to resubmit


def test_a_module_only_an_outbox_names_is_known(shop: Client) -> None:
    """A generated service's remote subscribers' modules are not installed in it, yet its outbox
    holds their publications: ``--module`` must reach them."""
    dead = raw_publication("orders", "orders.OrderPlaced", {"order_id": 1}, "elsewhere.handlers.on_placed", "elsewhere", key="1")
    Publication.objects.using("orders").filter(pk=dead.pk).update(status=PublicationStatus.DEAD)
    assert "resubmitted 1" in run("resubmit", "--module", "elsewhere")


@pytest.mark.parametrize("ref", ["orders:\u00b2", "orders:-1", "orders:1:2", " orders:1"])
def test_a_malformed_reference_names_the_form(shop: Client, ref: str) -> None:
    with pytest.raises(CommandError, match="is not a publication reference; use <module>:<id>"):
        run("show", ref)


@pytest.mark.parametrize("limit", ["-1", "0", "many"])
def test_a_limit_that_is_not_a_positive_number_is_refused(shop: Client, limit: str) -> None:
    with pytest.raises(CommandError, match="a positive whole number"):
        run("list", "--limit", limit)


@pytest.mark.parametrize("duration", ["9999999d", "99999999999999999999d"])
def test_a_purge_age_beyond_any_date_is_refused(shop: Client, duration: str) -> None:
    with pytest.raises(CommandError, match="too long"):
        run("purge", "--older-than", duration)


@pytest.mark.parametrize("command", [["relay_events", "--interval", "0"], ["serve", "--relay-interval=-1", "--noreload"]])
def test_a_relay_interval_that_is_not_positive_is_refused_before_anything_starts(command: list[str]) -> None:
    with pytest.raises(CommandError, match="positive number of seconds"):
        call_command(*command)


def test_events_before_the_databases_are_migrated_is_one_clear_line(tmp_path: Path) -> None:
    env = project_env({"SEAMS_VAR_DIR": str(tmp_path / "var"), "DEBUG": "true"})
    done = manage(["events"], env, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert "manage.py migrate_modules" in done.stderr
    assert done.stdout == ""  # no table header before the error
