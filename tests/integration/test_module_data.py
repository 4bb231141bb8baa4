"""``manage.py module_data``: one module's rows out to JSON lines and back in, on its own alias.

In process (the test databases, SQLite or PostgreSQL): export, wipe, import, export again gives the
same file; importing twice changes nothing; ids keep counting after an import; another module's
rows and unknown labels are refused. Between processes: the catalog moves from one set of database
files to a fresh one, as when a module moves to its own server.
"""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from app.management.commands.seed_shop import DEMO_PRODUCTS
from modules.orders.models import Order, OrderLine
from tests.support.processes import ROOT, project_env

from .shop import add_product, place_order

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def export(label: str, path: Path) -> str:
    out = StringIO()
    call_command("module_data", "export", label, "--out", str(path), stdout=out)
    return out.getvalue()


def load(label: str, path: Path) -> str:
    out = StringIO()
    call_command("module_data", "import", label, str(path), stdout=out)
    return out.getvalue()


@pytest.fixture
def orders_placed() -> list[int]:
    client = Client()
    add_product(client, "KB-101", 4999, stock=10)
    add_product(client, "MS-202", 2499, stock=10)
    ids = []
    for email, lines in [("ada@example.com", [("KB-101", 2), ("MS-202", 1)]), ("bob@example.com", [("MS-202", 3)])]:
        response = place_order(client, email, *lines)
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    return ids


def test_orders_round_trip_through_a_json_lines_file(orders_placed: list[int], tmp_path: Path) -> None:
    first = tmp_path / "orders.jsonl"
    message = export("orders", first)
    assert message.startswith("Exported 5 rows (orders.order: 2, orders.orderline: 3) of module 'orders'")
    rows = [json.loads(line) for line in first.read_text().splitlines()]
    assert {row["model"] for row in rows} == {"orders.order", "orders.orderline"}
    assert [row["model"] for row in rows].index("orders.orderline") > [row["model"] for row in rows].index("orders.order")
    before = {o.pk: (o.customer_email, o.status, o.total_cents, o.created_at) for o in Order.objects.all()}

    OrderLine.objects.all().delete()
    Order.objects.all().delete()
    assert load("orders", first) == f"Imported 5 rows (orders.order: 2, orders.orderline: 3) into module 'orders', database 'orders', from {first}.\n"
    after = {o.pk: (o.customer_email, o.status, o.total_cents, o.created_at) for o in Order.objects.all()}
    assert after == before
    assert sorted(Order.objects.get(pk=orders_placed[0]).lines.values_list("sku", "quantity")) == [("KB-101", 2), ("MS-202", 1)]

    second = tmp_path / "again.jsonl"
    export("orders", second)
    assert second.read_text() == first.read_text()

    load("orders", first)  # saved by primary key: a second import changes nothing
    assert Order.objects.count() == 2 and OrderLine.objects.count() == 3

    # The id sequence continues after the imported rows (PostgreSQL resets it).
    response = place_order(Client(), "cy@example.com", ("KB-101", 1))
    assert response.status_code == 201, response.content
    assert response.json()["id"] > max(orders_placed)


def test_export_to_standard_output_is_json_lines(orders_placed: list[int]) -> None:
    out, err = StringIO(), StringIO()
    call_command("module_data", "export", "orders", stdout=out, stderr=err)
    lines = out.getvalue().splitlines()
    assert len(lines) == 5 and all(json.loads(line)["model"].startswith("orders.") for line in lines)
    assert "Exported 5 rows" in err.getvalue()


def test_another_modules_rows_and_unknown_names_are_refused(orders_placed: list[int], tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.jsonl"
    export("catalog", catalog)
    with pytest.raises(CommandError, match=r"Row 1 \(catalog.product\) belongs to module 'catalog', not 'orders'"):
        load("orders", catalog)
    assert Order.objects.count() == 2
    with pytest.raises(CommandError, match="No module is labelled 'nope'"):
        export("nope", tmp_path / "x.jsonl")
    with pytest.raises(CommandError, match="does not exist"):
        load("orders", tmp_path / "missing.jsonl")
    with pytest.raises(CommandError, match="no database alias 'elsewhere'"):
        call_command("module_data", "export", "orders", "--database", "elsewhere", stdout=StringIO())


# --- moving a module's data to a new database, between processes ---------------------------------------
def manage(args: list[str], var: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=project_env({"SEAMS_VAR_DIR": str(var)}), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.django_db(databases=[])
def test_the_catalog_moves_to_a_fresh_database(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    manage(["migrate_modules"], old)
    manage(["seed_shop"], old)
    manage(["module_data", "export", "catalog", "--out", str(tmp_path / "catalog.jsonl")], old)
    manage(["migrate_modules"], new)
    result = manage(["module_data", "import", "catalog", str(tmp_path / "catalog.jsonl")], new)
    assert f"Imported {len(DEMO_PRODUCTS)} rows (catalog.product: {len(DEMO_PRODUCTS)}) into module 'catalog', database 'catalog'" in result.stdout
    assert (new / "catalog.sqlite3").stat().st_size > 0
    manage(["module_data", "export", "catalog", "--out", str(tmp_path / "moved.jsonl")], new)
    assert (tmp_path / "moved.jsonl").read_text() == (tmp_path / "catalog.jsonl").read_text()
