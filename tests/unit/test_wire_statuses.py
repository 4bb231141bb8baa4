"""extraction/wire.py: the one map from contract error kind to HTTP status, and the other pieces
both transports share (``TransportUnavailable``, ``IDEMPOTENCY_PARAMETER``).

The map used to live three times (``app/api.py``, ``extraction/http/wire.py``, the generated
service's ``api.py``); these tests pin that every user reads the one in ``extraction.wire``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from contracts.catalog import ProductNotFound
from contracts.kernel import Conflict, ContractError, Invalid, NotFound, ServiceUnavailable
from extraction import wire

ROOT = Path(__file__).resolve().parents[2]


class Odd(ContractError):
    """A contract error of no kernel kind."""


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("x"), 404),
        (ProductNotFound("x"), 404),
        (Conflict("x"), 409),
        (Invalid("x", field="sku"), 422),
        (ServiceUnavailable("x"), 503),
        (wire.TransportUnavailable("x"), 503),
        (Odd("x"), 400),
    ],
)
def test_each_kind_has_one_status(error: ContractError, status: int) -> None:
    assert wire.status_for(error) == status


@pytest.mark.parametrize(("status", "kind"), [(404, NotFound), (409, Conflict), (422, Invalid), (503, ServiceUnavailable), (418, ContractError)])
def test_kind_for_status_inverts_the_map(status: int, kind: type[ContractError]) -> None:
    assert wire.kind_for_status(status) is kind


def test_transport_unavailable_is_a_service_unavailable_shared_by_both_transports() -> None:
    from extraction.celery import client as celery_client
    from extraction.celery import tasks as celery_tasks
    from extraction.http import TransportUnavailable as http_reexport
    from extraction.http import client as http_client

    assert issubclass(wire.TransportUnavailable, ServiceUnavailable)
    assert http_reexport is wire.TransportUnavailable
    assert celery_client.TransportUnavailable is wire.TransportUnavailable
    assert celery_tasks.TransportUnavailable is wire.TransportUnavailable
    assert http_client.TransportUnavailable is wire.TransportUnavailable
    assert ContractError.by_code[wire.TransportUnavailable.code] is wire.TransportUnavailable


def _names_defined_and_imports(source: str) -> tuple[set[str], set[str]]:
    tree = ast.parse(source)
    defined = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    } | {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    imported = {
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    return defined, imported


@pytest.mark.parametrize(
    "path",
    [
        "app/api.py",
        "extraction/toolkit/templates/service/api.py.tpl",
        "extraction/http/server.py",
        "extraction/http/wire.py",
        "extraction/http/client.py",
    ],
)
def test_nobody_keeps_a_copy_of_the_map(path: str) -> None:
    source = (ROOT / path).read_text()
    defined, imported = _names_defined_and_imports(source.replace("{{ label }}", "x"))
    assert not {"STATUS_BY_KIND", "_STATUS_BY_KIND", "status_for", "kind_for_status"} & defined, path
    if "status_for(" in source:
        assert "extraction.wire.status_for" in imported, path


@pytest.mark.parametrize("path", ["extraction/celery/client.py", "extraction/celery/tasks.py"])
def test_the_celery_transport_imports_nothing_from_the_http_package(path: str) -> None:
    _, imported = _names_defined_and_imports((ROOT / path).read_text())
    assert not [name for name in imported if name.startswith("extraction.http")], path
