"""The shop served out of process, once per test session: a real Celery worker consuming the RPC
queues and a real gunicorn serving ``app.wsgi`` (public API and internal HTTP endpoints), sharing
one fresh database (SQLite files in a temporary directory, or a throwaway PostgreSQL database when
``DATABASE_URL`` is set).

The worker's queues carry a per-session suffix (``seams.rpc.catalog.<token>``): other test runs on
the same machine share the Redis on 6379, and a worker of theirs (with another database) must never
take our calls. They are deleted from the broker at the end.

Both this package's parity tests and ``tests/integration/test_celery_transport.py`` use the one
instance (``acquire``/``release``), so the processes start once per session.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path
from typing import Any, Protocol

import httpx
import redis
from django.conf import settings
from django.test import Client

from contracts.catalog import Catalog, ProductNotFound
from extraction.wire import TransportUnavailable
from tests.support.identity import TEST_CALLERS
from tests.support.processes import BIN, free_port, migrated_database, project_env
from tests.support.stack import Process, stop_all
from tests.support.tokens import customer, staff

#: The modules whose contracts the parity suite calls remotely.
LABELS = ("catalog", "inventory", "orders")
#: Generous: the machine runs other suites at the same time.
CALL_TIMEOUT = "30"
START_TIMEOUT = 120.0


class Shop(Protocol):
    """Sets up data where the contracts under test are served (never through the contracts)."""

    def add_product(self, sku: str, price_cents: int, stock: int | None = None, name: str | None = None) -> None: ...

    def place_order(self, email: str, *lines: tuple[str, int]) -> dict[str, Any]: ...


class ApiShop:
    """Seeds through the public REST API, with Django's test client (in-process) or httpx (remote)."""

    def __init__(self, client: Client | httpx.Client) -> None:
        self.client = client

    def _send(self, method: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        if isinstance(self.client, httpx.Client):
            response = self.client.request(method, path, json=body, headers=headers)
            return response.status_code, response.text, response.json
        response = getattr(self.client, method.lower())(path, body, content_type="application/json", headers=headers)
        return response.status_code, response.content.decode(), response.json

    def add_product(self, sku: str, price_cents: int, stock: int | None = None, name: str | None = None) -> None:
        status, text, _ = self._send("POST", "/api/catalog/products/", {"sku": sku, "name": name or f"Product {sku}", "price_cents": price_cents}, staff())
        assert status == 201, text
        if stock is not None:
            status, text, _ = self._send("PUT", f"/api/inventory/stock/{sku}", {"quantity": stock}, staff())
            assert status == 200, text

    def place_order(self, email: str, *lines: tuple[str, int]) -> dict[str, Any]:
        body = {"lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines]}
        status, text, as_json = self._send("POST", "/api/orders/", body, customer(email))
        assert status == 201, text
        return as_json()  # type: ignore[no-any-return]


def forget_queues(broker_url: str, queues: list[str], worker: str | None = None) -> None:
    """Delete queues (and kombu's bindings of them) from a Redis broker, and the remote-control
    binding of ``worker`` (a node name prefix) that a killed worker leaves behind."""
    keys = [key for q in queues for key in (q, f"_kombu.binding.{q}", f"_kombu.binding_permanent.{q}")]
    with contextlib.suppress(redis.RedisError), redis.Redis.from_url(broker_url) as client:
        client.delete(*keys)
        if worker:
            pidbox = "_kombu.binding.celery.pidbox"
            stale = [m for m in client.sscan_iter(pidbox) if f"{worker}@".encode() in m]
            if stale:
                client.srem(pidbox, *stale)


class ServedShop:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.token = uuid.uuid4().hex[:8]
        #: The worker's queues: the contract-providing modules', and notifications' (forwarded events).
        self.queues = {label: f"seams.rpc.{label}.{self.token}" for label in (*LABELS, "notifications")}
        self.broker_url: str = settings.CELERY_BROKER_URL
        self._resources = contextlib.ExitStack()
        self._worker: Process | None = None
        self._web: Process | None = None
        self._base_url = ""
        self._http: httpx.Client | None = None
        self.env: dict[str, str] = {}

    # --- life cycle ---------------------------------------------------------------------------
    def prepare(self) -> None:
        """A migrated database and the environment of the processes using it."""
        db_env = self._resources.enter_context(migrated_database(self.root))
        env = project_env(
            {
                **db_env,
                "DEBUG": "false",
                "SEAMS_INTERNAL": "all",  # the test process calls every module's endpoints
                "SEAMS_EVENT_DISPATCH": "inline",
                "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
                # The test process' broker and result backend, whatever the environment says.
                "CELERY_BROKER_URL": self.broker_url,
                "CELERY_RESULT_BACKEND": str(settings.CELERY_RESULT_BACKEND),
            }
        )
        # The served processes serve their modules in-process (a binding here would loop).
        self.env = {k: v for k, v in env.items() if not k.startswith("SEAMS_BIND_")}

    def start(self) -> None:
        """Start the worker and gunicorn side by side, then wait until both answer."""
        if self._worker is not None:
            return
        command = [
            str(BIN / "celery"), "-A", "app", "worker", "-Q", ",".join(self.queues.values()), "-c", "1",
            "-n", f"rpc-{self.token}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--loglevel", "INFO",
        ]
        self._worker = Process("worker", command, self.env, self.root).start()
        port = free_port()
        command = [str(BIN / "gunicorn"), "app.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--timeout", "60"]
        self._web = Process("web", command, self.env, self.root).start()
        self._base_url = f"http://127.0.0.1:{port}"
        self._wait_for_web()
        self._wait_for_worker()

    def _wait_for_worker(self) -> None:
        from extraction.celery.client import CeleryTransport

        probe = CeleryTransport(contract=Catalog, binding={"QUEUE": self.queues["catalog"], "TIMEOUT": "3", "CALLER": "orders"})
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self._worker is not None and self._worker.running, f"the worker exited:\n{self.tail()}"
            try:
                probe.get_product("warm-up")
            except ProductNotFound:
                return  # it answered
            except TransportUnavailable:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the worker did not answer within {START_TIMEOUT:g} s:\n{self.tail()}") from None

    def _wait_for_web(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self._web is not None and self._web.running, f"gunicorn exited:\n{self.tail()}"
            try:
                if httpx.get(f"{self._base_url}/api/openapi.json", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not answer within {START_TIMEOUT:g} s:\n{self.tail()}")
            time.sleep(0.2)

    def web(self) -> str:
        """The base URL of gunicorn serving app.wsgi (public API and internal endpoints)."""
        self.start()
        return self._base_url

    def stop(self) -> None:
        stop_all([p for p in (self._worker, self._web) if p is not None], timeout=15)  # SIGTERM, then SIGKILL
        if self._http is not None:
            self._http.close()
        forget_queues(self.broker_url, list(self.queues.values()), worker=f"rpc-{self.token}")
        self._resources.close()

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail(30)}" for p in (self._worker, self._web) if p is not None)

    # --- what tests use -----------------------------------------------------------------------
    @property
    def shop(self) -> ApiShop:
        """Seeds the served database through the public API of the gunicorn process."""
        if self._http is None:
            self._http = httpx.Client(base_url=self.web(), timeout=60)
        return ApiShop(self._http)

    def bindings(self, transport: str) -> dict[str, dict[str, str]]:
        """SEAMS_BINDINGS that send every call of the remote modules to these processes."""
        self.start()
        if transport == "celery":
            return {
                label: {"TRANSPORT": "celery", "QUEUE": self.queues[label], "TIMEOUT": CALL_TIMEOUT, "CALLER": TEST_CALLERS[label]}
                for label in LABELS
            }
        if transport == "http":
            return {
                label: {"TRANSPORT": "http", "URL": self._base_url, "TIMEOUT": CALL_TIMEOUT, "CALLER": TEST_CALLERS[label]}
                for label in LABELS
            }
        raise ValueError(transport)


_instance: ServedShop | None = None
_users = 0


def acquire(tmp_path_factory: Any) -> ServedShop:
    """The session's served shop (created on first use; processes start when first needed)."""
    global _instance, _users
    if _instance is None:
        served = ServedShop(tmp_path_factory.mktemp("served-shop"))
        served.prepare()
        _instance = served
    _users += 1
    return _instance


def release() -> None:
    """Stop the processes once the last user is done."""
    global _instance, _users
    _users -= 1
    if _users <= 0 and _instance is not None:
        served, _instance = _instance, None
        served.stop()
