"""One trace, metrics and JSON logs across a real extracted service, over HTTP and over Celery.

``inventory`` is extracted (``manage.py extract_module``) and served by its own gunicorn and Celery
worker; the monolith runs as gunicorn (and, over Celery, a worker for what the service sends back).
Every process exports its spans to one file (``SEAMS_TRACE_FILE``), logs JSON lines
(``SEAMS_LOG_FORMAT=json``) and counts in its own ``PROMETHEUS_MULTIPROC_DIR`` (the monolith's web
and worker share one, as on one host). One order then shows as one trace:

    POST /api/orders/ (monolith) -> catalog.Catalog.get_products -> publish orders.OrderPlaced
      -> handle orders.OrderPlaced -> forward orders.OrderPlaced          (monolith's outbox)
        -> handle orders.OrderPlaced -> publish inventory.StockReserved  (the inventory service)
          -> handle inventory.StockReserved -> forward inventory.StockReserved  (the service's outbox)
            -> handle inventory.StockReserved -> publish orders.OrderConfirmed  (monolith)
              -> handle orders.OrderConfirmed                            (notifications, monolith)

and the monolith's and the service's ``/metrics`` move by what the order did.
"""

from __future__ import annotations

import contextlib
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.identity import extracted_identity, service_headers
from tests.support.metrics import delta, parse
from tests.support.processes import appended_lines, listening_socket, url_of
from tests.support.services import (
    extract,
    monolith_env,
    service_env,
    wait_for,
    wait_for_worker,
    web_command,
    worker_command,
)
from tests.support.stack import PrivateRedis, Process, postgres_database, stop_all
from tests.support.tokens import customer, staff
from tests.support.tracing import TRACE_ID, TRACEPARENT, in_trace, wait_for_spans
from tests.support.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.own_stack]

MODULES = ("catalog", "inventory", "orders", "notifications")
TIMEOUT = "30"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """A migrated, seeded PostgreSQL database and a private Redis: ``(database URL, broker URL, dir)``."""
    root = tmp_path_factory.mktemp("observability")
    with postgres_database() as database_url:
        broker = PrivateRedis(root)
        broker.start()
        try:
            env = monolith_env({"DATABASE_URL": database_url, "SEAMS_VAR_DIR": str(root / "var")})
            for name, command in (("migrate", "migrate_modules"), ("seed", "seed_shop")):
                step = Process(name, [sys.executable, "manage.py", command], env, root)
                step.start()
                assert step.proc is not None and step.proc.wait(timeout=300) == 0, step.tail()
            yield database_url, broker.url, root
        finally:
            broker.stop()


@contextlib.contextmanager
def running(processes: list[Process]) -> Iterator[None]:
    try:
        for process in processes:
            process.start()
        yield
    finally:
        stop_all(processes)


def scrape(base: str) -> dict:
    answer = httpx.get(f"{base}/metrics", timeout=30)
    assert answer.status_code == 200, answer.text
    return parse(answer.text)


def wait_for_lines(log: Path, wanted: Callable[[dict], bool], within: float = 30) -> dict:
    """The first JSON line of ``log`` that is ``wanted`` (a process writes its log as it goes)."""
    try:
        found = eventually(f"a wanted JSON line in {log.name}", lambda: [line for line in json_lines(log) if wanted(line)], within, every=0.2)
    except AssertionError as failed:
        raise AssertionError(f"{failed}:\n{log.read_text(errors='replace')[-3000:]}") from None
    return found[0]


def json_lines(log: Path) -> list[dict]:
    """The JSON objects among a process's output lines (gunicorn's access log lines are not)."""
    found = []
    for line in appended_lines(log):  # a line still being written is read next time
        if line.startswith("{"):
            found.append(json.loads(line))  # every line that looks like JSON must be JSON
    return found


@pytest.mark.parametrize("transport", ["http", "celery"])
def test_one_order_is_one_trace_across_the_extracted_inventory_service(stack: tuple[str, str, Path], transport: str) -> None:
    database_url, broker_url, root = stack
    case = root / transport
    case.mkdir()
    spans_file = case / "spans.jsonl"
    # Each server's socket listens from here on and is handed over when it starts: no port to lose.
    monolith_socket, service_socket = listening_socket(), listening_socket()
    monolith_url, service_url = url_of(monolith_socket), url_of(service_socket)
    common = {
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": broker_url,
        "SEAMS_EVENT_DISPATCH": "inline",
        "DEBUG": "false",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "SEAMS_TRACE_FILE": str(spans_file),
        "SEAMS_LOG_FORMAT": "json",
        # The workers' per-task lines (off by default) are among the JSON lines checked below.
        "SEAMS_CELERY_TASK_LOG_LEVEL": "INFO",
        **{f"SEAMS_BIND_{m.upper()}_TIMEOUT": TIMEOUT for m in MODULES},
    }
    for name in ("monolith-metrics", "service-metrics"):
        (case / name).mkdir()

    service = extract("inventory", transport, case / "out", monolith_env({"DATABASE_URL": database_url}))
    isolation = case / "isolation"
    isolation.mkdir()
    service_identity, monolith_identity = extracted_identity("inventory", list(MODULES))
    svc_env = service_env(
        service,
        isolation,
        {**common, **service_identity, "MONOLITH_URL": monolith_url, "OTEL_SERVICE_NAME": "inventory-service",
         "PROMETHEUS_MULTIPROC_DIR": str(case / "service-metrics")},
    )
    bound = monolith_env(
        {
            **common,
            **monolith_identity,
            "SEAMS_VAR_DIR": str(root / "var"),
            "SEAMS_BIND_INVENTORY": service_url if transport == "http" else "celery",
            "SEAMS_GATEWAY_INVENTORY": service_url,
            "OTEL_SERVICE_NAME": "monolith",
            "PROMETHEUS_MULTIPROC_DIR": str(case / "monolith-metrics"),
        }
    )
    svc_web = Process("service-web", web_command("service.wsgi", service_socket), svc_env, case, cwd=service,
                      listeners=[service_socket])  # fmt: skip
    svc_worker = Process(
        "service-worker", worker_command("service", "seams.inventory,seams.rpc.inventory", "inventory-service"),
        svc_env, case, cwd=service,
    )
    web = Process("monolith-web", web_command("app.wsgi", monolith_socket), bound, case, listeners=[monolith_socket])
    processes: list[Process] = [svc_web, web]
    if transport == "celery":
        rpc = ",".join(f"seams.rpc.{m}" for m in MODULES if m != "inventory")
        processes += [svc_worker, Process("monolith-worker", worker_command("app", rpc, "monolith", 2), bound, case)]

    with running(processes):
        wait_for(f"{service_url}/health/live", svc_web)
        wait_for(f"{monolith_url}/health/live", web)
        for process in processes:
            if "worker" in process.name:
                wait_for_worker(process)
        sku = f"TR-{uuid.uuid4().hex[:6]}"
        with httpx.Client(base_url=monolith_url, timeout=120) as http:
            assert http.post("/api/catalog/products/", json={"sku": sku, "name": "Lamp", "price_cents": 1500}, headers=staff()).status_code == 201
            assert http.put(f"/api/inventory/stock/{sku}", json={"quantity": 3}, headers=staff()).status_code == 200
            monolith_before, service_before = scrape(monolith_url), scrape(service_url)
            buyer = customer("trace@example.com")
            placed = http.post("/api/orders/", json={"lines": [{"sku": sku, "quantity": 1}]}, headers=buyer)
            assert placed.status_code == 201, placed.text
            order_id = placed.json()["id"]
            decided = eventually(f"order {order_id} decided", lambda: http.get(f"/api/orders/{order_id}", headers=buyer).json()["status"] != "pending", 90, every=0.5)
            assert decided and http.get(f"/api/orders/{order_id}", headers=buyer).json()["status"] == "confirmed"
            with in_trace():  # through the gateway, in a trace of the test's own
                assert http.get(f"/api/inventory/stock/{sku}", headers=staff()).json()["reserved"] == 1

        # --- the trace ------------------------------------------------------------------------------
        def complete(found: list[dict]) -> bool:
            return any(s["name"] == "handle orders.OrderConfirmed" for s in found)

        everything = wait_for_spans(spans_file, complete, within=60)
        (request,) = [
            s for s in everything
            if s["service"] == "monolith" and s["kind"] == "SERVER" and s["attributes"].get("http.route") == "api/orders/"
            and s["attributes"].get("http.request.method", s["attributes"].get("http.method")) == "POST"
        ]
        trace = [s for s in everything if s["trace_id"] == request["trace_id"]]
        by_id = {s["span_id"]: s for s in trace}

        def one(name: str, service_name: str, kind: str) -> dict:
            matching = [s for s in trace if s["name"] == name and s["service"] == service_name and s["kind"] == kind]
            assert len(matching) == 1, (name, service_name, kind, sorted((s["service"], s["name"]) for s in trace))
            return matching[0]

        def descends(span: dict, ancestor: dict) -> bool:
            parent = span["parent_id"]
            while parent is not None and parent in by_id:
                if parent == ancestor["span_id"]:
                    return True
                parent = by_id[parent]["parent_id"]
            return False

        chain = [
            request,
            one("catalog.Catalog.get_products", "monolith", "INTERNAL"),
            one("publish orders.OrderPlaced", "monolith", "PRODUCER"),
            one("handle orders.OrderPlaced", "monolith", "CONSUMER"),
            one("forward orders.OrderPlaced", "monolith", "CLIENT"),
            one("handle orders.OrderPlaced", "inventory-service", "CONSUMER"),
            one("publish inventory.StockReserved", "inventory-service", "PRODUCER"),
            one("handle inventory.StockReserved", "inventory-service", "CONSUMER"),
            one("forward inventory.StockReserved", "inventory-service", "CLIENT"),
            one("handle inventory.StockReserved", "monolith", "CONSUMER"),
            one("publish orders.OrderConfirmed", "monolith", "PRODUCER"),
            one("handle orders.OrderConfirmed", "monolith", "CONSUMER"),
        ]
        assert descends(chain[1], request)
        for earlier, later in zip(chain[2:], chain[3:], strict=False):
            assert descends(later, earlier), f"{later['service']}: {later['name']} is not under {earlier['name']}"
        # Nothing of the order is left in another trace.
        assert not [s for s in everything if s["name"].startswith(("handle", "forward")) and s["trace_id"] != request["trace_id"]
                    and s["attributes"].get("seams.event_type", "").startswith(("orders.", "inventory."))
                    and "trace@example.com" in json.dumps(s)]

        # The gateway forwards the caller's trace: its span in the monolith, the service's under it.
        def gatewayed(found: list[dict]) -> list[dict]:
            return [s for s in found if s["trace_id"] == TRACE_ID and s["service"] == "inventory-service" and s["kind"] == "SERVER"]

        gateway_trace = [s for s in wait_for_spans(spans_file, gatewayed, within=30) if s["trace_id"] == TRACE_ID]
        (gateway,) = [s for s in gateway_trace if s["name"] == "gateway inventory"]
        assert gateway["service"] == "monolith" and gateway["attributes"]["seams.status"] == 200
        assert gatewayed(gateway_trace), sorted((s["service"], s["name"]) for s in gateway_trace)

        # --- the metrics ----------------------------------------------------------------------------
        monolith_change = delta(monolith_before, scrape(monolith_url))
        service_change = delta(service_before, scrape(service_url))
        assert monolith_change("seams_events_published_total", event_type="orders.OrderPlaced") == 1
        assert monolith_change("seams_events_published_total", event_type="orders.OrderConfirmed") == 1
        assert monolith_change("seams_events_delivered_total", event_type="orders.OrderPlaced",
                               subscriber="modules.inventory.handlers.reserve_stock_for_placed_order") == 1
        assert monolith_change("seams_contract_calls_total", contract="catalog.Catalog", method="get_products",
                               transport="inprocess", outcome="ok") == 1
        assert monolith_change("seams_http_requests_total", route="api/orders/", method="POST", status="201") == 1
        assert monolith_change("seams_http_requests_total", route="gateway:inventory", method="GET", status="200") == 1
        assert service_change("seams_events_published_total", event_type="inventory.StockReserved") == 1
        assert service_change("seams_events_delivered_total", event_type="inventory.StockReserved",
                              subscriber="modules.orders.handlers.confirm_order_when_stock_reserved") == 1

        # --- the logs: JSON lines that carry the trace of the request they are about ---------------
        with in_trace():  # this process's httpx instrumentation sends a child of TRACEPARENT
            refused = httpx.post(
                f"{service_url}/internal/inventory/events/", json={"subscriber": "nobody", "envelope": {}},
                headers={"traceparent": TRACEPARENT, **service_headers("orders", "inventory")}, timeout=30,
            )
        assert refused.status_code == 422, refused.text
        logged = wait_for_lines(svc_web.log, lambda line: line.get("trace_id") == TRACE_ID)
        assert logged["level"] == "WARNING" and logged["module"] == "inventory", logged
        assert logged["logger"] == "seams.http" and "Refused a forwarded event" in logged["message"]

    for process in processes:
        assert all({"time", "level", "logger", "message"} <= set(line) for line in json_lines(process.log))
    if transport == "celery":  # the workers' own lines (task received, succeeded) are JSON too
        assert any("seams.receive_event" in line["message"] for line in json_lines(svc_worker.log))
