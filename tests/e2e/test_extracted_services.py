"""Extract a module for real and run the shop through the monolith with the module served by its
generated service, then take it back by configuration.

For each (module, transport): ``manage.py extract_module`` writes the service into a temporary
directory; its gunicorn (``service.wsgi``) and Celery worker run from there on loopback, on the
monolith's PostgreSQL database and a private Redis, without the monolith on their path. The
monolith (``app.wsgi``) gets ``SEAMS_BIND_<MODULE>`` (and, for a Celery-bound module with a public
API, ``SEAMS_GATEWAY_<MODULE>``) and the whole order flow runs through its public API: a product,
its stock, an order that is confirmed, one that is cancelled for lack of stock, one email each.
The service's own logs show that the module's work was done there. Then the service is stopped,
the monolith restarted without the variable, and the same flow works again, in-process.
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support import waiting
from tests.support.identity import extracted_identity
from tests.support.processes import listening_socket, url_of
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

pytestmark = [pytest.mark.e2e, pytest.mark.own_stack]

MODULES = ("catalog", "inventory", "orders", "notifications")
#: Each attempt of a call or forward across the cut may wait this long: the machine may be loaded.
TIMEOUT = "30"
#: Events cross processes asynchronously: how long an outcome may take to show.
PATIENCE = 60.0


@dataclass
class Shared:
    """What every case shares: one database (migrated and seeded once) and one private Redis."""

    database_url: str
    broker_url: str
    log_dir: Path

    def monolith_env(self, **extra: str) -> dict[str, str]:
        return monolith_env(
            {
                "DATABASE_URL": self.database_url,
                "CELERY_BROKER_URL": self.broker_url,
                "CELERY_RESULT_BACKEND": self.broker_url,
                "SEAMS_EVENT_DISPATCH": "inline",
                "SEAMS_VAR_DIR": str(self.log_dir / "var"),
                "DEBUG": "false",
                "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
                "SEAMS_GATEWAY_TIMEOUT": "90",
                **extra,
            }
        )


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    log_dir = tmp_path_factory.mktemp("extracted-services")
    with postgres_database() as database_url:
        broker = PrivateRedis(log_dir)
        broker.start()
        try:
            state = Shared(database_url, broker.url, log_dir)
            migrate = Process("migrate", [sys.executable, "manage.py", "migrate_modules"], state.monolith_env(), log_dir)
            seed = Process("seed", [sys.executable, "manage.py", "seed_shop"], state.monolith_env(), log_dir)
            for step in (migrate, seed):
                step.start()
                assert step.proc is not None and step.proc.wait(timeout=300) == 0, step.tail()
            yield state
        finally:
            broker.stop()


@contextlib.contextmanager
def running(processes: list[Process]) -> Iterator[None]:
    """Stop every process started in the block, whatever happens."""
    try:
        yield
    finally:
        stop_all(processes)


# --- the flow, through the monolith's public API -----------------------------------------------------
def eventually(what: str, probe: Callable[[], object], patience: float = PATIENCE) -> object:
    """``tests.support.waiting.eventually``, with this file's patience and a poll every half second."""
    return waiting.eventually(what, probe, patience, every=0.5)


def outbox_settled(database_url: str) -> bool:
    """No publication open (pending, processing or failed) in any module's outbox of the shared
    database: nothing is left that could deliver (or deliver again) anything."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return not any(
            conn.execute(f"SELECT 1 FROM {schema}.seams_publication WHERE status IN ('pending', 'processing', 'failed') LIMIT 1").fetchone()
            for schema in MODULES
        )


def run_order_flow(base: str, tag: str, database_url: str) -> dict[str, int]:
    """Product, stock, a confirmed order, a cancelled one, one email each; returns the order ids."""
    sku, ada, bob = f"XS-{tag}", f"ada-{tag}@example.com", f"bob-{tag}@example.com"
    with httpx.Client(base_url=base, timeout=120) as http:
        created = http.post("/api/catalog/products/", json={"sku": sku, "name": f"Lamp {tag}", "price_cents": 1500}, headers=staff())
        assert created.status_code == 201, created.text
        stocked = http.put(f"/api/inventory/stock/{sku}", json={"quantity": 3}, headers=staff())
        assert stocked.status_code == 200, stocked.text

        def place(email: str) -> int:
            placed = http.post("/api/orders/", json={"lines": [{"sku": sku, "quantity": 2}]}, headers=customer(email))
            assert placed.status_code == 201, placed.text
            assert placed.json()["total_cents"] == 3000
            return int(placed.json()["id"])

        def outcome(order_id: int, email: str) -> str:
            answer = http.get(f"/api/orders/{order_id}", headers=customer(email))
            assert answer.status_code == 200, answer.text
            status = str(answer.json()["status"])
            return "" if status == "pending" else status

        def emails(email: str) -> list[dict[str, object]]:
            answer = http.get("/api/notifications/", headers=customer(email))
            assert answer.status_code == 200, answer.text
            return answer.json()  # type: ignore[no-any-return]

        confirmed = place(ada)
        assert eventually(f"order {confirmed} decided", lambda: outcome(confirmed, ada)) == "confirmed"
        cancelled = place(bob)  # 2 more of the 3, with 2 reserved: refused
        assert eventually(f"order {cancelled} decided", lambda: outcome(cancelled, bob)) == "cancelled"

        stock = http.get(f"/api/inventory/stock/{sku}").json()
        assert (stock["on_hand"], stock["reserved"], stock["available"]) == (3, 2, 1), stock

        ada_mail = eventually(f"the email to {ada}", lambda: emails(ada))
        bob_mail = eventually(f"the email to {bob}", lambda: emails(bob))
        assert [m["subject"] for m in ada_mail] == [f"Your order #{confirmed} is confirmed"]  # type: ignore[union-attr]
        assert [m["subject"] for m in bob_mail] == [f"Your order #{cancelled} was cancelled"]  # type: ignore[union-attr]
        # Still exactly one each once everything has settled (no duplicate from a repeated forward):
        # waited for until no publication is open, instead of a fixed second.
        eventually("every publication of the flow finished", lambda: outbox_settled(database_url))
        assert len(emails(ada)) == 1 and len(emails(bob)) == 1
    return {"confirmed": confirmed, "cancelled": cancelled}


# --- the cases -----------------------------------------------------------------------------------------
#: What the service's logs must show, and how many times at least: the module's work was done
#: there, not in the monolith. By log: "web" is gunicorn's access log, "worker" Celery's.
EVIDENCE: dict[tuple[str, str], dict[str, dict[str, int]]] = {
    # Both orders were placed through the gateway; inventory's answers were forwarded as events.
    ("orders", "http"): {
        "web": {'"POST /api/orders/ HTTP/1.1" 201': 2, '"POST /internal/orders/events/ HTTP/1.1" 200': 2},
    },
    # Both emails were sent by the service's worker, from events forwarded over Celery; the
    # monolith's gateway answered the public listing from the service.
    ("notifications", "celery"): {
        "worker": {"seams.receive_event[": 2, "{'outcome': 'completed'}": 2},
        "web": {'"GET /api/notifications/ HTTP/1.1" 200': 2},
    },
    # Both OrderPlaced were handled by the service's worker (its answers forwarded back over
    # Celery); the stock was set and read through the gateway.
    ("inventory", "celery"): {
        "worker": {"seams.receive_event[": 2, "{'outcome': 'completed'}": 2},
        "web": {'"PUT /api/inventory/stock/': 1, '"GET /api/inventory/stock/': 1},
    },
}


#: A public path of each extracted module, answered by its service through the monolith's gateway.
PUBLIC_PATH = {
    "orders": "/api/orders/1",
    "notifications": "/api/notifications/",
    "inventory": "/api/inventory/stock/KB-101",
}


@pytest.mark.parametrize(("label", "transport"), list(EVIDENCE), ids=[f"{m}-{t}" for m, t in EVIDENCE])
def test_the_order_flow_runs_with_the_module_extracted_then_reinlined(
    shared: Shared, label: str, transport: str
) -> None:
    case = f"{label}-{transport}"
    log_dir = shared.log_dir / case
    log_dir.mkdir()
    # Each server's socket listens from here on and is handed over when it starts: no port to lose.
    monolith_socket, service_socket = listening_socket(), listening_socket()
    monolith_url, service_url = url_of(monolith_socket), url_of(service_socket)

    service = extract(label, transport, log_dir / "out", shared.monolith_env())
    isolation = log_dir / "isolation"
    isolation.mkdir()
    # Each side its own key pair, each trusting the other: what an operator sets up (docs/security.md).
    service_identity, monolith_identity = extracted_identity(label, list(MODULES))
    svc_env = service_env(
        service,
        isolation,
        {
            **service_identity,
            "DATABASE_URL": shared.database_url,
            "CELERY_BROKER_URL": shared.broker_url,
            "CELERY_RESULT_BACKEND": shared.broker_url,
            "MONOLITH_URL": monolith_url,
            "SEAMS_EVENT_DISPATCH": "inline",
            "DEBUG": "false",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            # The evidence below counts the worker's per-task lines, off by default since 1174ea3.
            "SEAMS_CELERY_TASK_LOG_LEVEL": "INFO",
            **{f"SEAMS_BIND_{m.upper()}_TIMEOUT": TIMEOUT for m in MODULES},
        },
    )
    queues = f"seams.{label},seams.rpc.{label}"
    svc_web = Process("service-web", web_command("service.wsgi", service_socket), svc_env, log_dir,
                      cwd=service, listeners=[service_socket])  # fmt: skip
    svc_worker = Process(
        "service-worker", worker_command("service", queues, f"{label}-service"), svc_env, log_dir, cwd=service
    )

    binding = service_url if transport == "http" else "celery"
    bound_env = shared.monolith_env(
        **monolith_identity,
        **{f"SEAMS_BIND_{label.upper()}": binding, f"SEAMS_BIND_{label.upper()}_TIMEOUT": TIMEOUT},
        **({f"SEAMS_GATEWAY_{label.upper()}": service_url} if transport == "celery" else {}),
    )
    web = Process("monolith-web", web_command("app.wsgi", monolith_socket), bound_env, log_dir, listeners=[monolith_socket])
    processes: list[Process] = [svc_web, svc_worker, web]
    if transport == "celery":
        # The monolith's own RPC workers: what the service calls or forwards back over Celery.
        rpc = ",".join(f"seams.rpc.{m}" for m in MODULES if m != label)
        processes.append(Process("monolith-worker", worker_command("app", rpc, "monolith", 2), bound_env, log_dir))

    tag = uuid.uuid4().hex[:6]
    with running(processes):
        for process in processes:
            process.start()
        wait_for(f"{service_url}/health/live", svc_web)
        wait_for(f"{monolith_url}/health/live", web)
        for process in processes:
            if "worker" in process.name:
                wait_for_worker(process)
        ready = httpx.get(f"{service_url}/health/ready", timeout=30)
        assert ready.status_code == 200, ready.text

        extracted = run_order_flow(monolith_url, f"{tag}x", shared.database_url)

        for which, expected in EVIDENCE[(label, transport)].items():
            # Waited for, not read once: gunicorn writes a request's access line after it has sent
            # the response, and Celery its "succeeded" line after the task's effects are visible.
            source = svc_web if which == "web" else svc_worker
            with contextlib.suppress(AssertionError):
                eventually(f"the service's {which} log", lambda s=source, e=expected: all(
                    s.log.read_text(errors="replace").count(text) >= times for text, times in e.items()))
            log = source.log.read_text(errors="replace")
            for text, times in expected.items():
                assert log.count(text) >= times, f"the service's {which} log lacks {text!r} x{times}:\n{log[-3000:]}"

        # The service stops: the monolith, still bound to it, cannot answer the module's paths.
        stop_all([svc_web, svc_worker])
        down = httpx.get(f"{monolith_url}{PUBLIC_PATH[label]}", timeout=60)
        assert down.status_code == 503, down.text
        assert down.headers.get("Retry-After")

    # Taken back: the service is gone, the monolith restarts without SEAMS_BIND_<MODULE>.
    assert not svc_web.running and not svc_worker.running
    listener = listening_socket()
    inlined_url = url_of(listener)
    inlined = Process("monolith-inlined", web_command("app.wsgi", listener), shared.monolith_env(), log_dir, listeners=[listener])
    with running([inlined]):
        inlined.start()
        wait_for(f"{inlined_url}/health/live", inlined)
        again = run_order_flow(inlined_url, f"{tag}i", shared.database_url)
        paths = httpx.get(f"{inlined_url}/api/openapi.json", timeout=30).json()["paths"]
        assert any(p.startswith(f"/api/{label}/") for p in paths)
    assert again["confirmed"] > extracted["cancelled"]  # the same data, taken back as it was
