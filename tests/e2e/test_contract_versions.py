"""Versions side by side with real processes (docs/evolution.md, "Worked example").

A copy of the project is moved to v2 with the document's own blocks (``CatalogV2`` served beside
``Catalog``, ``StockReservedV2`` published with an upcaster and a downcaster, inventory and the
orders handler on v2); the project itself stays on v1. ``orders`` is extracted over HTTP (its
generated service: gunicorn and a Celery worker, the monolith hidden from its path) and the
monolith runs the other version, both ways round, on one PostgreSQL database:

* service on v1, monolith on v2: calls to ``Catalog`` v1 and events cross in both directions,
  the service's v1 handler gets the monolith's downcast, and v2 is served beside v1;
* service on v2, monolith on v1: the service's v2 handler gets the old publisher's v1, upcast;
* service on v1, monolith on v2 over Celery: the downcasts travel in the Celery message as well.

Every order ends confirmed or cancelled as the stock allows, with exactly one email each: no
event is lost or repeated across the version gap.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_extracted_services import MODULES, TIMEOUT, Shared, run_order_flow, running
from tests.support.identity import extracted_identity, service_headers
from tests.support.processes import ROOT, listening_socket, url_of
from tests.support.project_copy import copy_project, titled_code_blocks
from tests.support.services import (
    ISOLATION,
    service_env,
    wait_for,
    wait_for_worker,
    web_command,
    worker_command,
)
from tests.support.stack import PrivateRedis, Process, postgres_database

pytestmark = [pytest.mark.e2e, pytest.mark.own_stack]

#: The lines the worked example's table changes (path, v1 text, v2 text), applied after its blocks.
MOVES = [
    ("modules/catalog/apps.py", "from contracts.catalog import Catalog\n", "from contracts.catalog import Catalog, CatalogV2\n"),
    ("modules/catalog/apps.py", "provides = [Catalog]", "provides = [Catalog, CatalogV2]"),
    ("modules/inventory/apps.py", "from contracts.catalog import Catalog\n", "from contracts.catalog import CatalogV2\n"),
    ("modules/inventory/apps.py", "consumes = [Catalog]", "consumes = [CatalogV2]"),
    ("modules/inventory/apps.py", "StockReservationFailed, StockReserved\n", "StockReservationFailed, StockReservedV2\n"),
    ("modules/inventory/apps.py", "publishes = [StockReserved,", "publishes = [StockReservedV2,"),
    ("modules/inventory/services.py", "from contracts.catalog import Catalog\n", "from contracts.catalog import CatalogV2\n"),
    ("modules/inventory/services.py", "use(Catalog).get_product(sku)", "use(CatalogV2).get_product(sku)"),
    ("modules/inventory/handlers.py", "StockReservationFailed, StockReserved\n", "StockReservationFailed, StockReservedV2\n"),
    ("modules/inventory/handlers.py", "publish(StockReserved(order_id=event.order_id, lines=reserved))",
     "publish(StockReservedV2(order_id=event.order_id, items=reserved))"),
    ("modules/orders/handlers.py", "StockReservationFailed, StockReserved\n", "StockReservationFailed, StockReservedV2\n"),
    ("modules/orders/handlers.py", "@subscribe(StockReserved)\ndef confirm_order_when_stock_reserved(event: StockReserved)",
     "@subscribe(StockReservedV2)\ndef confirm_order_when_stock_reserved(event: StockReservedV2)"),
    ("modules/orders/apps.py", "StockReservationFailed, StockReserved\n", "StockReservationFailed, StockReservedV2\n"),
    ("modules/orders/apps.py", "handles = [StockReserved,", "handles = [StockReservedV2,"),
]


def move_to_v2(project: Path) -> None:
    """Apply docs/evolution.md's worked example to a copy of the project."""
    blocks = titled_code_blocks((ROOT / "docs" / "evolution.md").read_text())
    assert set(blocks) >= {"contracts/catalog.py", "modules/catalog/implementation.py", "contracts/inventory.py"}, blocks.keys()
    for relative, code in blocks.items():
        with open(project / relative, "a") as file:
            file.write(code)
    for relative, old, new in MOVES:
        target = project / relative
        text = target.read_text()
        assert old in text, f"{relative} no longer holds {old!r}: update MOVES and the worked example"
        target.write_text(text.replace(old, new))


@dataclass
class Trees:
    """The two versions of the project: v1 (this checkout) and v2 (a copy moved by the document)."""

    v1: Path
    v2: Path
    isolation: Path


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> Trees:
    v2 = copy_project(tmp_path_factory.mktemp("v2") / "project")
    move_to_v2(v2)
    isolation = tmp_path_factory.mktemp("isolation")
    (isolation / "sitecustomize.py").write_text(ISOLATION)  # the editable install points at v1: hide it
    return Trees(v1=ROOT, v2=v2, isolation=isolation)


def tree_env(trees: Trees, tree: Path, env: dict[str, str]) -> dict[str, str]:
    """``env`` for a process of ``tree``: that tree's packages, never the other's."""
    path = str(tree) if tree == trees.v1 else f"{trees.isolation}:{tree}"
    return {**env, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}


def manage(tree: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=tree, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, trees: Trees) -> Iterator[Shared]:
    log_dir = tmp_path_factory.mktemp("contract-versions")
    with postgres_database() as database_url:
        broker = PrivateRedis(log_dir)
        broker.start()
        try:
            state = Shared(database_url, broker.url, log_dir)
            for step in ("migrate_modules", "seed_shop"):
                done = manage(trees.v1, state.monolith_env(), step)
                assert done.returncode == 0, done.stdout + done.stderr
            yield state
        finally:
            broker.stop()


def test_the_v2_tree_passes_the_checks_and_its_changes_are_additive(trees: Trees, shared: Shared) -> None:
    env = tree_env(trees, trees.v2, shared.monolith_env())
    checked = manage(trees.v2, env, "check", "--fail-level", "WARNING")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    compatible = manage(trees.v2, env, "contracts", "check")
    assert compatible.returncode == 0, compatible.stdout + compatible.stderr
    for change in ("catalog.CatalogV2: contract added", "inventory.StockReserved@v2: event added",
                   "catalog.Catalog: consumer inventory gone", "inventory.StockReserved@v1: subscriber orders gone"):
        assert change in compatible.stdout, compatible.stdout


@dataclass
class Deployment:
    """orders' service from one tree, the monolith from the other, running."""

    monolith: Process
    service: Process
    service_worker: Process
    monolith_url: str


@pytest.fixture
def deploy(trees: Trees, shared: Shared) -> Iterator[Callable[..., Deployment]]:
    """Start orders' service from one tree and the monolith from the other; stopped after the test."""
    stack: list[Process] = []

    def start(service_tree: Path, monolith_tree: Path, case: str, transport: str = "http") -> Deployment:
        log_dir = shared.log_dir / case
        log_dir.mkdir()
        # Each server's socket listens from here on and is handed over when it starts: no port to lose.
        monolith_socket, service_socket = listening_socket(), listening_socket()
        monolith_url, service_url = url_of(monolith_socket), url_of(service_socket)
        extracted = manage(service_tree, tree_env(trees, service_tree, shared.monolith_env()),
                           "extract_module", "orders", "--transport", transport, "--out", str(log_dir / "out"))
        assert extracted.returncode == 0, extracted.stdout + extracted.stderr
        service = log_dir / "out" / "orders-service"
        isolation = log_dir / "isolation"
        isolation.mkdir()
        service_identity, monolith_identity = extracted_identity("orders", list(MODULES))
        svc_env = service_env(service, isolation, {
            **service_identity,
            "DATABASE_URL": shared.database_url,
            "CELERY_BROKER_URL": shared.broker_url,
            "CELERY_RESULT_BACKEND": shared.broker_url,
            "MONOLITH_URL": monolith_url,
            "SEAMS_EVENT_DISPATCH": "inline",
            "DEBUG": "false",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "SEAMS_CELERY_TASK_LOG_LEVEL": "INFO",  # the worker's per-task lines: the evidence read below
            **{f"SEAMS_BIND_{m.upper()}_TIMEOUT": TIMEOUT for m in MODULES},
        })
        svc_web = Process("service-web", web_command("service.wsgi", service_socket), svc_env, log_dir, cwd=service,
                          listeners=[service_socket])
        svc_worker = Process("service-worker", worker_command("service", "seams.orders,seams.rpc.orders", "orders-service"),
                                svc_env, log_dir, cwd=service)
        over_celery = {"SEAMS_GATEWAY_ORDERS": service_url} if transport == "celery" else {}
        bound = tree_env(trees, monolith_tree, shared.monolith_env(
            **monolith_identity, SEAMS_BIND_ORDERS=service_url if transport == "http" else "celery",
            SEAMS_BIND_ORDERS_TIMEOUT=TIMEOUT, **over_celery))
        web = Process("monolith-web", web_command("app.wsgi", monolith_socket), bound, log_dir, cwd=monolith_tree,
                      listeners=[monolith_socket])
        processes: list[Process] = [svc_web, svc_worker, web]
        if transport == "celery":  # the monolith's RPC workers: what the service calls or forwards back
            rpc = ",".join(f"seams.rpc.{m}" for m in MODULES if m != "orders")
            processes.append(Process("monolith-worker", worker_command("app", rpc, "monolith", 2), bound, log_dir, cwd=monolith_tree))
        stack.extend(processes)
        for process in processes:
            process.start()
        wait_for(f"{service_url}/health/live", svc_web)
        wait_for(f"{monolith_url}/health/live", web)
        for process in processes:
            if "worker" in process.name:
                wait_for_worker(process)
        return Deployment(web, svc_web, svc_worker, monolith_url)

    with running(stack):
        yield start


def served_paths(log: Path) -> str:
    return log.read_text(errors="replace")


def test_service_on_v1_and_monolith_on_v2_over_celery(trees: Trees, shared: Shared, deploy: Callable[..., Deployment]) -> None:
    """The same over Celery: the downcasts travel in the seams.receive_event message."""
    deployment = deploy(trees.v1, trees.v2, "service-v1-celery", "celery")
    run_order_flow(deployment.monolith_url, uuid.uuid4().hex[:6], shared.database_url)
    worker_log = served_paths(deployment.service_worker.log)
    assert worker_log.count("{'outcome': 'completed'}") >= 2, worker_log[-3000:]


def test_service_on_v1_and_monolith_on_v2(trees: Trees, shared: Shared, deploy: Callable[..., Deployment]) -> None:
    deployment = deploy(trees.v1, trees.v2, "service-v1")
    run_order_flow(deployment.monolith_url, uuid.uuid4().hex[:6], shared.database_url)

    monolith_log, service_log = served_paths(deployment.monolith.log), served_paths(deployment.service.log)
    # The v1 service priced its orders with Catalog v1, served by the v2 monolith...
    assert '"POST /internal/catalog/v1/catalog/get_products HTTP/1.1" 200' in monolith_log, monolith_log[-3000:]
    # ...and its v1 handler took the monolith's StockReservedV2, downcast by the publisher.
    assert service_log.count('"POST /internal/orders/events/ HTTP/1.1" 200') >= 2, service_log[-3000:]

    # Beside v1, the monolith serves v2, to the modules whose manifest consumes v2 (inventory) only.
    with httpx.Client(base_url=deployment.monolith_url, timeout=60) as http:
        v1 = http.post("/internal/catalog/v1/catalog/get_product", json={"sku": "KB-101"}, headers=service_headers("orders", "catalog"))
        v2 = http.post("/internal/catalog/v2/catalog/get_product", json={"sku": "KB-101"}, headers=service_headers("inventory", "catalog"))
        refused = http.post("/internal/catalog/v2/catalog/get_product", json={"sku": "KB-101"}, headers=service_headers("orders", "catalog"))
    assert v1.status_code == 200 and set(v1.json()) == {"sku", "name", "price_cents"}, v1.text
    assert v2.status_code == 200 and v2.json()["price"] == {"cents": v1.json()["price_cents"], "currency": "EUR"}, v2.text
    assert refused.status_code == 403 and "does not consume catalog.CatalogV2" in refused.text, refused.text


def test_service_on_v2_and_monolith_on_v1(trees: Trees, shared: Shared, deploy: Callable[..., Deployment]) -> None:
    deployment = deploy(trees.v2, trees.v1, "service-v2")
    run_order_flow(deployment.monolith_url, uuid.uuid4().hex[:6], shared.database_url)

    monolith_log, service_log = served_paths(deployment.monolith.log), served_paths(deployment.service.log)
    # The v2 service still calls Catalog v1 (orders has not moved), which the v1 monolith serves...
    assert '"POST /internal/catalog/v1/catalog/get_products HTTP/1.1" 200' in monolith_log, monolith_log[-3000:]
    # ...and its v2 handler took the v1 monolith's StockReserved, upcast on arrival.
    assert service_log.count('"POST /internal/orders/events/ HTTP/1.1" 200') >= 2, service_log[-3000:]
    # The v1 monolith has never heard of v2.
    with httpx.Client(base_url=deployment.monolith_url, timeout=60) as http:
        absent = http.post("/internal/catalog/v2/catalog/get_product", json={"sku": "KB-101"}, headers=service_headers("inventory", "catalog"))
    assert absent.status_code == 404, absent.text
