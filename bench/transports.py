"""What does a Seams transport cost next to the code it replaces?

Run ``python -m bench.transports [--quick] [--database-url postgres://...]`` (or ``make
bench-transports``). Side by side, in one run, calls alternating between the compared variants (and
which goes first) so that other load on the machine weighs on both alike:

1. in-process: ``impl.get_product(sku)`` (the catalog implementation, called directly) vs
   ``use(Catalog).get_product(sku)`` with ``SEAMS_VALIDATE_CONTRACTS`` off (the production default),
   and, as an extra line, on;
2. HTTP: a pooled ``httpx.Client`` POST to a hand-written django-ninja endpoint
   (``bench/baseline/api.py``) vs the HTTP transport, both served by one real gunicorn;
3. Celery: ``raw_task.apply_async(...).get()`` (``bench/baseline/tasks.py``) vs the Celery transport,
   both served by one real ``celery worker`` process;
4. events: publish-to-handled latency and drain throughput in each dispatch mode (inline; celery,
   delivered by that worker).

Every call does the same work (one ORM query for the product, a ``ProductDTO`` in the caller's hand),
so a ratio isolates what the transport adds. It also times, without any network, the parts each
transport adds on the client and on the server, to say where a difference comes from. It uses a
throwaway database (SQLite files in a temporary directory, or a new PostgreSQL database with
``--database-url``) and Redis database 7 (``--redis-url``), prints progress, writes
``bench/RESULTS.md`` and stops every process it started, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
DEFAULT_REDIS = "redis://127.0.0.1:6379/7"
SKU = "BENCH-1"
RPC_QUEUE = "seams.rpc.catalog"
EVENTS_QUEUE = "seams.notifications"
#: transport / baseline, on p50 and on the mean.
TARGETS = {"inprocess": 1.05, "http": 1.10, "celery": 1.05}
GUNICORN_WORKERS = 2
POLL = 0.0005  # seconds between two looks at the outbox while waiting for a delivery


@dataclass(frozen=True)
class Sizes:
    """How many calls at most, and how many seconds at most (a slow or busy machine stops at the
    budget, at the end of a round, so every variant still has as many calls as the others)."""

    inprocess: int  # calls per variant
    lookups: int  # use() lookups, in batches of 10,000
    http: int  # calls per variant
    celery: int
    events: int  # latency probes per dispatch mode
    drain: int  # events per dispatch mode, drained in two halves
    parts: int  # calls per variant in the "where it goes" micro-timings
    budget_inprocess: float
    budget_http: float
    budget_celery: float
    budget_events: float
    budget_part: float


FULL = Sizes(30_000, 200_000, 5_000, 5_000, 400, 100, 3_000, 30, 65, 95, 25, 5)
QUICK = Sizes(5_000, 50_000, 500, 500, 60, 40, 500, 6, 8, 10, 8, 1.5)

START = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - START:6.1f}s] {message}", flush=True)


# --- statistics ----------------------------------------------------------------------------------
def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


@dataclass
class Stats:
    name: str
    samples: list[float]  # seconds per call

    @property
    def calls(self) -> int:
        return len(self.samples)

    @property
    def p50(self) -> float:
        return percentile(self.samples, 50)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 99)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples)

    @property
    def per_second(self) -> float:
        return 1 / self.mean


@dataclass
class Comparison:
    key: str  # inprocess | http | celery
    title: str
    what: str
    baseline: Stats
    transport: Stats
    extras: list[Stats] = field(default_factory=list)  # other lines, compared to the baseline, no target
    unit: str = "ms"
    #: What the server saw of the same calls: (what, baseline, transport); gunicorn's request time or the
    #: worker's task_prerun -> task_postrun.
    server: tuple[str, Stats, Stats] | None = None

    @property
    def target(self) -> float:
        return TARGETS[self.key]

    def ratio(self, stats: Stats, what: str = "p50") -> float:
        return getattr(stats, what) / getattr(self.baseline, what)

    def met(self, what: str) -> bool:
        return self.ratio(self.transport, what) <= self.target


@dataclass
class Part:
    """One piece of work a transport adds (or replaces), timed in process without the network."""

    side: str
    baseline: str
    transport: str
    a: Stats
    b: Stats

    @property
    def extra(self) -> float:
        return self.b.p50 - self.a.p50


# --- timing --------------------------------------------------------------------------------------
Check = Callable[[object], bool]


def alternate(
    label: str,
    variants: dict[str, Callable[[], object]],
    calls: int,
    check: Check,
    budget: float,
    warmup: int = 50,
) -> dict[str, Stats]:
    """Time each variant ``calls`` times (fewer if ``budget`` seconds run out), one call of each per
    round, the order reversed every round."""
    names = list(variants)
    deadline = time.monotonic() + budget
    for _ in range(warmup):
        for name in names:
            variants[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    perf = time.perf_counter
    step = max(calls // 4, 1)
    for r in range(calls):
        for name in names if r % 2 == 0 else names[::-1]:
            call = variants[name]
            t0 = perf()
            result = call()
            samples[name].append(perf() - t0)
            if not check(result):
                raise SystemExit(f"{label}: {name} returned {result!r}: the bench's set-up is wrong")
        if (r + 1) % step == 0 and r + 1 < calls:
            say(
                f"  {label}: {r + 1:,}/{calls:,} rounds; p50 so far "
                + ", ".join(f"{name} {percentile(s, 50) * 1e3:.3f} ms" for name, s in samples.items())
            )
        if r >= 20 and time.monotonic() > deadline:
            say(f"  {label}: time budget of {budget:.0f} s spent after {r + 1:,} rounds")
            break
    return {name: Stats(name, s) for name, s in samples.items()}


# --- processes -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A child in its own session (so the terminal's Ctrl-C does not reach it: we stop it), output to a log."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.command, self.env = name, command, env
        self.log = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        else:  # the leader is gone; its group may not be
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""

    def errors(self) -> list[str]:
        if not self.log.exists():
            return []
        return [
            line for line in self.log.read_text(errors="replace").splitlines() if "ERROR" in line or "Traceback" in line
        ]


#: The module the bench calls as: orders consumes Catalog, so the service lets it in (docs/security.md).
CALLER = "modules.orders.bench"


def process_env(base: dict[str, str], **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SEAMS_BIND_", "SEAMS_EVENT", "CELERY_")) and k not in {"DATABASE_URL", "SEAMS_MODULES"}
    }
    from bench.security import api_env

    env.update(api_env())  # SECRET_KEY and token keys: the processes run with DEBUG off
    env.update(base)
    env.update(extra)
    return env


# --- redis ---------------------------------------------------------------------------------------
#: Keys this bench creates in its Redis database (queues, results, kombu bookkeeping).
REDIS_PATTERNS = ("celery-task-meta-*", "_kombu.*", "unacked*", "bench.raw*", "seams.*", "celery")


def redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url)


def redis_foreign_keys(url: str) -> list[str]:
    """Keys in the bench's Redis database that this bench would not have created."""
    import fnmatch

    client = redis_client(url)
    keys = [k.decode(errors="replace") for k in client.scan_iter(count=1000)]
    return [k for k in keys if not any(fnmatch.fnmatch(k, p) for p in REDIS_PATTERNS)]


def redis_cleanup(url: str) -> int:
    client = redis_client(url)
    removed = 0
    for pattern in REDIS_PATTERNS:
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            removed += client.delete(*keys)
    return removed


# --- database ------------------------------------------------------------------------------------
def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql)


# --- the measurements ----------------------------------------------------------------------------
def is_product(result: object) -> bool:
    from contracts.catalog import ProductDTO

    return type(result) is ProductDTO and result.sku == SKU  # type: ignore[attr-defined]


def measure_inprocess(sizes: Sizes) -> tuple[Comparison, Stats]:
    from django.test import override_settings

    from contracts.catalog import Catalog
    from contracts.kernel import use
    from contracts.kernel.registry import get_registry

    impl = get_registry().instance_of(Catalog)
    # With validation off use() returns the observed implementation (a span when tracing is on,
    # the call metrics): its cost is what this comparison measures.
    assert use(Catalog).__seams_target__ is impl, "use(Catalog) should call the implementation itself with validation off"
    with override_settings(SEAMS_VALIDATE_CONTRACTS=True):
        validating = use(Catalog)  # what use() returns under DEBUG and in tests
    assert type(validating.__seams_target__).__name__ == "ValidatingCatalog", type(validating)
    assert use(Catalog).__seams_target__ is impl
    say(f"(1) in-process: {sizes.inprocess:,} calls per variant, alternating")
    stats = alternate(
        "in-process",
        {
            "direct": lambda: impl.get_product(SKU),
            "use()": lambda: use(Catalog).get_product(SKU),
            "validation on": lambda: validating.get_product(SKU),
        },
        sizes.inprocess,
        is_product,
        sizes.budget_inprocess,
    )

    # use() alone: a dict lookup after sys._getframe; in ns per call, next to an empty loop.
    batch = 10_000
    lookups: list[float] = []

    def resolve(n: int) -> float:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            use(Catalog)
        return time.perf_counter_ns() - t0

    def empty(n: int) -> float:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            pass
        return time.perf_counter_ns() - t0

    for _ in range(sizes.lookups // batch):
        lookups.append((resolve(batch) - empty(batch)) / batch * 1e-9)
    lookup = Stats("use(Catalog) lookup", lookups)
    comparison = Comparison(
        "inprocess",
        "Direct call vs in-process contract call",
        "`impl.get_product(sku)` on the catalog implementation vs `use(Catalog).get_product(sku)` from the "
        "caller's code (the `use()` lookup included in every call), in the bench process; one ORM query "
        "(`Product.objects.get(sku=...)`) per call.",
        stats["direct"],
        stats["use()"],
        [stats["validation on"]],
        unit="us",
    )
    return comparison, lookup


def server_times(log: Path, keys: dict[str, str]) -> dict[str, Stats]:
    """The durations in lines ``<key> <duration>`` of a server's log, by the variant each key stands for."""
    found: dict[str, list[float]] = {name: [] for name in keys.values()}
    if log.exists():
        for line in log.read_text(errors="replace").splitlines():
            key, _, value = line.rpartition(" ")
            if key in keys:
                found[keys[key]].append(float(value))
    return {name: Stats(name, samples) for name, samples in found.items() if samples}


RAW_PATH = "/bench/raw/get_product"
#: The Celery comparison's diagnostic lines: the raw task called more and more like the transport calls its own.
FORGET, EXPIRES, OPTIONS = "raw + forget()", "raw + forget(), expires", "raw + forget(), expires, retry"
TRANSPORT_PATH = "/internal/catalog/v1/catalog/get_product"


def measure_http(sizes: Sizes, base: str, access_log: Path) -> Comparison:
    import httpx
    from django.test import override_settings

    from contracts.catalog import Catalog, ProductDTO
    from contracts.kernel import use
    from extraction.http.client import pooled_transport

    # The same connection pool and socket options (TCP_NODELAY) as the transport's client: only the
    # transport differs.
    raw_client = httpx.Client(base_url=base, transport=pooled_transport(), timeout=10)

    def raw() -> ProductDTO:
        response = raw_client.post(RAW_PATH, json={"sku": SKU})
        response.raise_for_status()
        return ProductDTO.model_validate_json(response.content)

    binding = {"TRANSPORT": "http", "URL": base, "TIMEOUT": "10"}
    try:
        with override_settings(SEAMS_BINDINGS={"catalog": binding}):
            assert type(use(Catalog)).__name__ == "HttpCatalog", type(use(Catalog))
            say(f"(2) HTTP: {sizes.http:,} calls per variant against gunicorn at {base}, alternating")
            stats = alternate(
                "HTTP",
                {"raw": raw, "transport": lambda: use(Catalog, consumer=CALLER).get_product(SKU)},
                sizes.http,
                is_product,
                sizes.budget_http,
            )
    finally:
        raw_client.close()
    seen = server_times(access_log, {RAW_PATH: "raw", TRANSPORT_PATH: "transport"})
    for found in seen.values():
        found.samples = [us * 1e-6 for us in found.samples]
    comparison = Comparison(
        "http",
        "Hand-written HTTP call vs HTTP transport",
        f'A pooled `httpx.Client` POST of `{{"sku": ...}}` to a hand-written django-ninja endpoint '
        "(`bench/baseline/api.py`: a `Schema` body, `response=ProductDTO`, calls the catalog implementation) "
        "and `ProductDTO.model_validate_json` of the answer, vs `use(Catalog).get_product(sku)` bound to "
        f"`http` (the generated endpoint `/internal/catalog/v1/catalog/get_product`). One gunicorn, "
        f"{GUNICORN_WORKERS} sync workers (`bench.settings`), serves both; sync workers close the connection "
        "after each response, so every call of both variants opens a new TCP connection.",
        stats["raw"],
        stats["transport"],
    )
    if len(seen) == 2:
        comparison.server = ("gunicorn's request time (access log `%(D)s`)", seen["raw"], seen["transport"])
    return comparison


def measure_celery(sizes: Sizes, task_log: Path) -> Comparison:
    from django.test import override_settings

    from bench.baseline.tasks import QUEUE, raw_get_product
    from contracts.catalog import Catalog, ProductDTO
    from contracts.kernel import use
    from extraction.celery.client import PUBLISH_RETRY_POLICY

    def raw() -> ProductDTO:
        return ProductDTO.model_validate(raw_get_product.apply_async((SKU,), queue=QUEUE).get(timeout=10))

    def raw_forget() -> ProductDTO:
        result = raw_get_product.apply_async((SKU,), queue=QUEUE)
        answer = result.get(timeout=10)
        result.forget()
        return ProductDTO.model_validate(answer)

    def raw_expires() -> ProductDTO:
        result = raw_get_product.apply_async((SKU,), queue=QUEUE, expires=10.0)
        answer = result.get(timeout=10)
        result.forget()
        return ProductDTO.model_validate(answer)

    def raw_as_transport() -> ProductDTO:
        # Every Celery option the transport sends with each call, on the raw task: the rest of the gap
        # is Seams' own work (wire encoding, the worker's checks).
        result = raw_get_product.apply_async(
            (SKU,), queue=QUEUE, expires=10.0, retry=True, retry_policy=PUBLISH_RETRY_POLICY
        )
        answer = result.get(timeout=10, disable_sync_subtasks=False)
        result.forget()
        return ProductDTO.model_validate(answer)

    binding = {"TRANSPORT": "celery", "QUEUE": RPC_QUEUE, "TIMEOUT": "10"}
    with override_settings(SEAMS_BINDINGS={"catalog": binding}):
        assert type(use(Catalog)).__name__ == "CeleryCatalog", type(use(Catalog))
        say(f"(3) Celery: {sizes.celery:,} calls per variant through the worker, alternating")
        stats = alternate(
            "Celery",
            {
                "raw": raw,
                "transport": lambda: use(Catalog, consumer=CALLER).get_product(SKU),
                FORGET: raw_forget,
                EXPIRES: raw_expires,
                OPTIONS: raw_as_transport,
            },
            sizes.celery,
            is_product,
            sizes.budget_celery,
        )
    comparison = Comparison(
        "celery",
        "Raw Celery task vs Celery transport",
        f"`raw_get_product.apply_async((sku,), queue='{QUEUE}').get(timeout=10)` (a `@shared_task` calling the "
        "catalog implementation and returning `model_dump()`, `bench/baseline/tasks.py`) and "
        f"`ProductDTO.model_validate` of the answer, vs `use(Catalog).get_product(sku)` bound to `celery` (task "
        f"`seams.call_contract` on `{RPC_QUEUE}`). One worker process (`-P solo`) consumes both queues; broker "
        "and result backend on the same Redis database. Three extra lines, for diagnosis, call the raw task more "
        "and more the way the transport used to call its own: `result.forget()` after the answer (it now lets "
        "results expire instead); plus `expires=TIMEOUT` (it now sends a deadline in the arguments instead); plus "
        "`retry=True` with its `retry_policy` and `get(disable_sync_subtasks=False)`.",
        stats["raw"],
        stats["transport"],
        [stats[FORGET], stats[EXPIRES], stats[OPTIONS]],
    )
    seen = server_times(task_log, {"bench.raw_get_product": "raw", "seams.call_contract": "transport"})
    if len(seen) == 2:
        comparison.server = (
            "the worker's `task_prerun` → `task_postrun` (task body, result stored; every raw line together)",
            seen["raw"],
            seen["transport"],
        )
    return comparison


@dataclass
class EventRun:
    mode: str
    publish: Stats  # start of the transaction -> commit returned (inline: handler included)
    delivered: Stats  # start of the transaction -> publication completed
    drain_events: int = 0
    drain_published: float = 0.0  # seconds to publish them all
    drain_done: float = 0.0  # seconds until the last one was completed


def measure_events(sizes: Sizes) -> list[EventRun]:
    from django.conf import settings
    from django.db.models import Count
    from django.test import override_settings

    from contracts.kernel import atomic, get_module, publish
    from contracts.kernel.models import Publication
    from contracts.kernel.testing import write_completions
    from contracts.orders import OrderCancelled

    alias = get_module("orders").database_alias
    counter = iter(range(1, 10**9))
    modes = ["inline", "celery"]

    def overridden(mode: str) -> contextlib.AbstractContextManager[Any]:
        return override_settings(SEAMS_EVENTS={**settings.SEAMS_EVENTS, "DISPATCH": mode})

    def publish_one() -> uuid.UUID:
        i = next(counter)
        with atomic("orders"):
            envelope = publish(OrderCancelled(order_id=i, customer_email=f"c{i}@bench.example", reason="Bench."))
        return envelope.id

    def open_publications(event_ids: list[uuid.UUID] | None = None) -> int:
        # Inline on SQLite, a handled publication's completion mark waits in this process to be
        # written with others (up to COMPLETION_DELAY, 0.25 s: docs/events.md); the handler has run.
        # Writing the waiting marks now counts each event as done when it was handled (and charges
        # every poll a flush of its own: an upper bound of the mark's cost).
        write_completions()
        rows = Publication.objects.using(alias).exclude(status="completed")
        if event_ids is not None:
            rows = rows.filter(event_id__in=event_ids)
        return rows.count()

    def wait(event_ids: list[uuid.UUID] | None, timeout: float = 60, poll: float = POLL) -> None:
        deadline = time.monotonic() + timeout
        while open_publications(event_ids):
            if time.monotonic() > deadline:
                statuses = dict(Publication.objects.using(alias).values_list("status").annotate(n=Count("id")))
                raise SystemExit(f"events not delivered within {timeout} s: {statuses}")
            time.sleep(poll)

    samples: dict[str, tuple[list[float], list[float]]] = {m: ([], []) for m in modes}
    say(f"(4) events: {sizes.events} publish -> handled probes per dispatch mode, alternating by tens")
    perf = time.perf_counter
    deadline = time.monotonic() + sizes.budget_events
    for r in range(max(sizes.events // 10, 1) + 1):  # round 0 warms up
        if r > 2 and time.monotonic() > deadline:
            say(f"  events: time budget of {sizes.budget_events:.0f} s spent after {r - 1} rounds of ten per mode")
            break
        for mode in modes if r % 2 == 0 else modes[::-1]:
            with overridden(mode):
                for _ in range(10):
                    t0 = perf()
                    event_id = publish_one()
                    t1 = perf()
                    wait([event_id])
                    t2 = perf()
                    if r:
                        samples[mode][0].append(t1 - t0)
                        samples[mode][1].append(t2 - t0)
    if open_publications():
        raise SystemExit("some publications are still open after the latency probes")
    runs = {m: EventRun(m, Stats("publish", p), Stats("delivered", d)) for m, (p, d) in samples.items()}

    say(f"(4) events: drains of {sizes.drain} events per mode (publish them back to back, wait until all are handled)")
    half = max(sizes.drain // 2, 1)
    for r in range(2):
        for mode in modes if r % 2 == 0 else modes[::-1]:
            with overridden(mode):
                t0 = perf()
                for _ in range(half):
                    publish_one()
                t1 = perf()
                wait(None, timeout=300, poll=0.005)
                t2 = perf()
            run = runs[mode]
            run.drain_events += half
            run.drain_published += t1 - t0
            run.drain_done += t2 - t0
            say(f"  {mode}: {half} events published in {t1 - t0:.2f} s, all handled after {t2 - t0:.2f} s")
    return [runs[m] for m in modes]


# --- where the differences go ---------------------------------------------------------------------
def measure_parts(sizes: Sizes) -> list[Part]:
    """The work each transport adds on each side, timed in this process with no network: the HTTP client
    against an ``httpx.MockTransport`` answering at once; each server's view or task body run directly."""
    import json

    import httpx
    from django.test import Client

    from bench.baseline.tasks import raw_get_product
    from contracts.catalog import Catalog, ProductDTO
    from extraction import wire
    from extraction.celery.tasks import call_contract
    from extraction.http.client import HttpTransport

    product = json.dumps({"sku": SKU, "name": "Bench keyboard", "price_cents": 4999}).encode()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=product, headers={"content-type": "application/json"})

    raw_client = httpx.Client(base_url="http://bench.invalid", transport=httpx.MockTransport(answer))
    mocked = httpx.Client(base_url="http://bench.invalid", transport=httpx.MockTransport(answer))
    remote = HttpTransport(contract=Catalog, binding={"URL": "http://bench.invalid"}, client=mocked)

    def raw_http_client() -> ProductDTO:
        response = raw_client.post("/bench/raw/get_product", json={"sku": SKU})
        response.raise_for_status()
        return ProductDTO.model_validate_json(response.content)

    from extraction.identity import tokens as identity

    django_client = Client()
    body = json.dumps({"sku": SKU})

    def server(path: str) -> Callable[[], object]:
        def call() -> object:
            response = django_client.post(
                path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {identity.issue('orders', 'catalog')}"
            )
            return ProductDTO.model_validate_json(response.content) if response.status_code == 200 else response

        return call

    def raw_celery_client() -> ProductDTO:
        # What the raw caller does besides the broker round trip: build the DTO from the task's dict.
        return ProductDTO.model_validate({"sku": SKU, "name": "Bench keyboard", "price_cents": 4999})

    def transport_celery_client() -> ProductDTO:
        arguments = wire.bind_arguments(Catalog, "get_product", (SKU,), {})
        wire.encode_arguments(Catalog, "get_product", arguments)
        uuid.uuid4().hex  # noqa: B018  (the trace id)
        return wire.decode_result(Catalog, "get_product", {"sku": SKU, "name": "Bench keyboard", "price_cents": 4999})

    def raw_task() -> ProductDTO:
        return ProductDTO.model_validate(raw_get_product.run(SKU))

    def transport_task() -> ProductDTO:
        answer = call_contract.run(
            "catalog.Catalog", "get_product", {"sku": SKU}, {}, token=identity.issue("orders", "catalog")
        )
        return ProductDTO.model_validate(answer["ok"])

    n = sizes.parts
    parts: list[Part] = []
    say(f"(5) where the time goes: {n:,} calls per variant of each part, in process, no network")
    for side, (a_name, a), (b_name, b), calls in [
        (
            "HTTP client",
            ("httpx POST + model_validate_json", raw_http_client),
            ("HttpTransport", lambda: remote.get_product(SKU)),
            n,
        ),
        (
            "HTTP server",
            ("raw ninja endpoint", server("/bench/raw/get_product")),
            ("generated endpoint", server("/internal/catalog/v1/catalog/get_product")),
            n,
        ),
        (
            "Celery client",
            ("model_validate", raw_celery_client),
            ("wire encode + decode", transport_celery_client),
            n * 5,
        ),
        ("Celery worker", ("raw task body", raw_task), ("seams.call_contract body", transport_task), n),
    ]:
        stats = alternate(side, {a_name: a, b_name: b}, calls, is_product, sizes.budget_part)
        parts.append(Part(side, a_name, b_name, stats[a_name], stats[b_name]))
        say(f"  {side}: {a_name} {stats[a_name].p50 * 1e6:.1f} us, {b_name} {stats[b_name].p50 * 1e6:.1f} us (p50)")
    raw_client.close()
    mocked.close()
    return parts


def measure_forget(url: str, calls: int) -> Stats:
    """``AsyncResult.forget()``, which the Celery transport calls after every answer: one Redis DEL
    round trip (and an unsubscribe) that the raw ``.get()`` does not make."""
    from celery import current_app

    app = current_app._get_current_object()
    samples = []
    for _ in range(calls):
        result = app.AsyncResult(uuid.uuid4().hex)
        t0 = time.perf_counter()
        result.forget()
        samples.append(time.perf_counter() - t0)
    return Stats("forget()", samples)


# --- report --------------------------------------------------------------------------------------
def machine(database: str, redis_url: str) -> dict[str, str]:
    import celery
    import django
    import gunicorn
    import httpx
    import ninja
    import pydantic

    ram, cpu = "?", "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "CPU": f"{os.cpu_count()} cores, {cpu}",
        "RAM": ram,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "Django / django-ninja / pydantic": f"{django.get_version()} / {ninja.__version__} / {pydantic.VERSION}",
        "Celery / httpx / gunicorn": f"{celery.__version__} / {httpx.__version__} / {gunicorn.__version__}",
        "Redis": redis_client(redis_url).info("server").get("redis_version", "?"),
        "Database": database,
        "Code": code_version(),
    }


def code_version() -> str:
    """The commit measured, and whether the code the transports run differed from it."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.rstrip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD") or "?"
    changed = [
        line[3:]
        for line in git("status", "--porcelain", "--", "app", "contracts", "extraction", "modules").splitlines()
    ]
    if not changed:
        return f"commit `{commit}`"
    return (
        f"commit `{commit}` plus uncommitted changes to "
        + ", ".join(f"`{path}`" for path in changed[:8])
        + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
    )


def load() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def fmt(seconds: float, unit: str) -> str:
    return f"{seconds * 1e6:.1f}" if unit == "us" else f"{seconds * 1e3:.3f}"


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def comparison_table(c: Comparison) -> list[str]:
    u = "µs" if c.unit == "us" else "ms"
    lines = [
        f"| variant | calls | p50 ({u}) | p99 ({u}) | mean ({u}) | calls/s | ratio p50 | ratio mean |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for stats, role in [(c.baseline, "baseline"), (c.transport, "transport"), *[(e, "extra") for e in c.extras]]:
        if role == "baseline":
            ratios = "1 | 1"
        else:
            p50, mean = c.ratio(stats, "p50"), c.ratio(stats, "mean")
            if role == "transport":
                ratios = f"**{p50:.3f}** {mark(p50 <= c.target)} | **{mean:.3f}** {mark(mean <= c.target)}"
            else:
                ratios = f"{p50:.3f} | {mean:.3f}"
        lines.append(
            f"| {stats.name} | {stats.calls:,} | {fmt(stats.p50, c.unit)} | {fmt(stats.p99, c.unit)} "
            f"| {fmt(stats.mean, c.unit)} | {stats.per_second:,.0f} | {ratios} |"
        )
    return lines


def verdict(c: Comparison) -> str:
    p50, mean = c.ratio(c.transport, "p50"), c.ratio(c.transport, "mean")
    if c.met("p50") and c.met("mean"):
        return f"Target ≤ {c.target:.2f}x: **met** (p50 {p50:.3f}x, mean {mean:.3f}x)."
    missed = " and ".join(w for w in ("p50", "mean") if not c.met(w))
    return f"Target ≤ {c.target:.2f}x: **missed** on the {missed} (p50 {p50:.3f}x, mean {mean:.3f}x)."


@dataclass
class Run:
    args: argparse.Namespace
    sizes: Sizes
    database: str
    loads: dict[str, str] = field(default_factory=dict)
    comparisons: list[Comparison] = field(default_factory=list)
    lookup: Stats | None = None
    events: list[EventRun] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    forget: Stats | None = None
    process_errors: dict[str, list[str]] = field(default_factory=dict)


def amplification(gap: float, hot: float) -> str:
    if hot > 0 and gap >= hot:
        return (
            f" The measured gap is {gap / hot:.1f}x that hot-loop sum: in the real call, between processes on a "
            "busy machine, the same code runs with cold caches and is preempted more."
        )
    return " (The hot-loop timings were disturbed by load in this run: their sum exceeds the measured gap.)"


def findings(run: Run) -> list[str]:
    """What the numbers say, computed from them (the causes are the parts timed without network)."""
    out: list[str] = []
    by_key = {c.key: c for c in run.comparisons}
    parts = {p.side: p for p in run.parts}
    missed = [c for c in run.comparisons if not (c.met("p50") and c.met("mean"))]
    if missed:
        out.append(
            "**Targets missed:** "
            + "; ".join(
                f"{c.title.split(' vs ')[1]}: {c.ratio(c.transport):.3f}x at p50, {c.ratio(c.transport, 'mean'):.3f}x "
                f"on the mean, for ≤ {c.target:.2f}x"
                for c in missed
            )
            + "."
        )
    else:
        out.append("Every target is met, on the p50 and on the mean.")
    if "inprocess" in by_key and run.lookup:
        c = by_key["inprocess"]
        val = c.extras[0] if c.extras else None
        line = (
            f"**In-process.** `use(Catalog)` returns the implementation itself; what a call pays over a direct call "
            f"is the lookup, {run.lookup.p50 * 1e9:.0f} ns (p50 over batches of 10,000: `sys._getframe` and a dict "
            f"lookup), {run.lookup.p50 / c.baseline.p50 * 100:.2f}% of a {c.baseline.p50 * 1e6:.0f} µs query; "
            f"whatever else the measured ratio ({c.ratio(c.transport):.3f}x p50, {c.ratio(c.transport, 'mean'):.3f}x "
            "mean) shows is noise."
        )
        if val is not None:
            line += (
                f" With `SEAMS_VALIDATE_CONTRACTS` on (DEBUG and tests), the validating proxy checks the argument and "
                f"the returned DTO (strict pydantic): {(val.p50 - c.baseline.p50) * 1e6:+.1f} µs per call "
                f"({c.ratio(val):.3f}x direct); it is off in production."
            )
        out.append(line)

    def split(c: Comparison) -> str:
        if not c.server:
            return ""
        _, a, b = c.server
        server = b.p50 - a.p50
        rest = (c.transport.p50 - b.p50) - (c.baseline.p50 - a.p50)
        return (
            f" Of it, the server side (as it measured itself) {server * 1e6:+.0f} µs ({a.p50 * 1e6:.0f} → "
            f"{b.p50 * 1e6:.0f} µs), the caller's side and the way there and back {rest * 1e6:+.0f} µs."
        )

    if "http" in by_key:
        c = by_key["http"]
        gap = c.transport.p50 - c.baseline.p50
        line = (
            f"**HTTP.** Transport − raw: {gap * 1e6:+.0f} µs at p50 on a {c.baseline.p50 * 1e3:.2f} ms call "
            f"({(c.ratio(c.transport) - 1) * 100:+.1f}%)." + split(c)
        )
        if "HTTP client" in parts and "HTTP server" in parts:
            cl, sv = parts["HTTP client"], parts["HTTP server"]
            line += (
                f" The same work in a hot loop without network: the client {cl.extra * 1e6:+.0f} µs "
                f"({cl.a.p50 * 1e6:.0f} → {cl.b.p50 * 1e6:.0f} µs: binding the signature, strict validation of the "
                f"body, `model_dump_json`, a uuid4 trace id, the breaker's lock, strict `validate_json` of the "
                f"answer) and the server {sv.extra * 1e6:+.0f} µs ({sv.a.p50 * 1e6:.0f} → {sv.b.p50 * 1e6:.0f} µs "
                f"through Django's test client: django-ninja validates the body into the generated model, the view "
                f"validates it again, strictly, from the raw JSON; the result is checked once, strictly; it is dumped by a TypeAdapter; the trace id header)."
                + amplification(gap, cl.extra + sv.extra)
            )
        out.append(line)
    if "celery" in by_key:
        c = by_key["celery"]
        gap = c.transport.p50 - c.baseline.p50
        line = (
            f"**Celery.** Transport − raw: {gap * 1e6:+.0f} µs at p50 on a {c.baseline.p50 * 1e3:.2f} ms call "
            f"({(c.ratio(c.transport) - 1) * 100:+.1f}%)." + split(c)
        )
        extras = {e.name: e for e in c.extras}
        forgot, expires, options = extras.get(FORGET), extras.get(EXPIRES), extras.get(OPTIONS)
        if forgot and expires and options:
            base = c.baseline.p50
            line += (
                f" Calling the raw task more and more the way the transport calls its own splits the gap, in % of "
                f"the raw call: `result.forget()` after every answer (one more Redis "
                f"round trip, synchronous; the transport no longer does it) {(forgot.p50 - base) / base * 100:+.1f}%; `expires=TIMEOUT` "
                f"{(expires.p50 - forgot.p50) / base * 100:+.1f}% (replaced in the transport by a deadline argument; Celery turns it into an aware datetime and ISO "
                f"string on the caller, `dateutil.isoparse` and a revocation check on the worker); `retry=True` and "
                f"its policy {(options.p50 - expires.p50) / base * 100:+.1f}%; what is left, Seams' own work on both "
                f"sides, {(c.transport.p50 - options.p50) / base * 100:+.1f}%."
            )
        if "Celery client" in parts and "Celery worker" in parts:
            cl, wk = parts["Celery client"], parts["Celery worker"]
            forget = run.forget.p50 if run.forget else 0.0
            line += (
                f" Hot in a loop, without the broker: `forget()` alone {forget * 1e6:.0f} µs; the client's wire "
                f"encoding and decoding {cl.extra * 1e6:+.0f} µs; the task body {wk.extra * 1e6:+.0f} µs "
                f"({wk.a.p50 * 1e6:.0f} → {wk.b.p50 * 1e6:.0f} µs: the contract looked up by name, strict decode "
                f"of the arguments, the result checked once and encoded, the trace id)."
                + amplification(gap, forget + cl.extra + wk.extra)
            )
        line += (
            " The result is not polled: with the Redis backend `.get()` waits on a pub/sub message, in every variant."
        )
        out.append(line)
    if run.events:
        inline = next((e for e in run.events if e.mode == "inline"), None)
        celery = next((e for e in run.events if e.mode == "celery"), None)
        if inline and celery:
            out.append(
                f"**Events.** Inline, the publisher's commit returns after the handler ran: "
                f"{inline.delivered.p50 * 1e3:.2f} ms p50 for publish + handle. With Celery dispatch the commit returns in "
                f"{celery.publish.p50 * 1e3:.2f} ms (outbox rows + one task sent to the broker) and the handler has run "
                f"{celery.delivered.p50 * 1e3:.2f} ms after the transaction began (p50; the bench sees it by polling the "
                f"outbox every {POLL * 1e3:.1f} ms). Draining, one worker process handles "
                f"{celery.drain_events / celery.drain_done:,.0f} events/s vs {inline.drain_events / inline.drain_done:,.0f} "
                "inline in the publishing process."
            )
    errors = {name: lines for name, lines in run.process_errors.items() if lines}
    if errors:
        out.append(
            "**Errors logged by the bench's processes:** "
            + "; ".join(f"{name}: {len(lines)} lines, first `{lines[0][:160]}`" for name, lines in errors.items())
        )
    return out


def report(run: Run, info: dict[str, str], took: float) -> str:
    s = run.sizes
    out = [
        "# Transports: what a contract call costs next to the code it replaces",
        "",
        f"Generated by `python -m bench.transports{' --quick' if run.args.quick else ''}` (`make bench-transports`) on "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC in {took:.0f} s. Do not edit by hand: rerun.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in info.items()],
        *[f"| load average (1/5/15 min) {when} | {value} |" for when, value in run.loads.items()],
        "",
        "A load average above the core count means other work competed for the CPUs during the run. The "
        "compared variants alternate call by call, and which goes first flips every "
        "round, so that load weighs on both alike: ratios of medians are the signal, absolute times are not.",
        "",
        "## Targets",
        "",
        "| comparison | baseline p50 | transport p50 | ratio p50 | ratio mean | target | met |",
        "|---|---:|---:|---:|---:|---:|:-:|",
    ]
    for c in run.comparisons:
        p50, mean = c.ratio(c.transport, "p50"), c.ratio(c.transport, "mean")
        unit = "µs" if c.unit == "us" else "ms"
        out.append(
            f"| {c.title} | {fmt(c.baseline.p50, c.unit)} {unit} | {fmt(c.transport.p50, c.unit)} {unit} "
            f"| {p50:.3f} | {mean:.3f} | ≤ {c.target:.2f} | {mark(c.met('p50'))} p50, {mark(c.met('mean'))} mean |"
        )
    out += [
        "",
        "The p50 columns are absolute: the wall-clock time of one call on this machine, on loopback for HTTP and "
        "Celery (one contract call doing one ORM read, next to the hand-written baseline doing the same read).",
        "",
        "Ratio = transport / baseline. Latency is wall-clock time per call in the calling process "
        "(`time.perf_counter`); p99 is one of the slowest calls and moves with the machine's load. calls/s is "
        "one caller calling in a loop (1 / mean latency).",
        "",
    ]
    for i, c in enumerate(run.comparisons, 1):
        out += [f"## {i}. {c.title}", "", c.what, "", *comparison_table(c), "", verdict(c), ""]
        if c.server:
            what, a, b = c.server
            out += [
                f"The p50s split by what the server side measured of the same calls, {what}; the rest is the caller's "
                "own work, the network or broker, and waiting to be scheduled:",
                "",
                "| µs at p50 | baseline | transport | added |",
                "|---|---:|---:|---:|",
                f"| server side | {a.p50 * 1e6:.0f} | {b.p50 * 1e6:.0f} | {(b.p50 - a.p50) * 1e6:+.0f} |",
                f"| the rest (caller p50 − server p50) | {(c.baseline.p50 - a.p50) * 1e6:.0f} "
                f"| {(c.transport.p50 - b.p50) * 1e6:.0f} | {((c.transport.p50 - b.p50) - (c.baseline.p50 - a.p50)) * 1e6:+.0f} |",
                f"| whole call | {c.baseline.p50 * 1e6:.0f} | {c.transport.p50 * 1e6:.0f} "
                f"| {(c.transport.p50 - c.baseline.p50) * 1e6:+.0f} |",
                "",
            ]
        if c.key == "inprocess":
            if run.lookup:
                out += [
                    f"`use(Catalog)` alone (the cached resolution): **{run.lookup.p50 * 1e9:.0f} ns** per call "
                    f"(p50 over {run.lookup.calls} batches of 10,000; p99 {run.lookup.p99 * 1e9:.0f} ns).",
                    "",
                ]
            out += [
                "The extra line, *validation on*, calls the object `use(Catalog)` returns with "
                "`SEAMS_VALIDATE_CONTRACTS = True` (the default under DEBUG and in tests: a validating proxy), "
                "resolved once: no target, for information.",
                "",
            ]
    n = len(run.comparisons) + 1
    if run.events:
        out += [
            f"## {n}. Events: publish to handled, per dispatch mode",
            "",
            "The bench process publishes `orders.OrderCancelled` (one subscriber: "
            "`notifications.email_order_cancellation`, which records the mail under the event id and sends it "
            "through the locmem backend) in its own `atomic('orders')` block, each event with its own key. "
            "*publish* is from the start of the transaction until the commit returns; *handled* until the "
            f"publication is `completed` (the bench polls the outbox every {POLL * 1e3:.1f} ms). Inline, the handler "
            f"runs in the committing process before the commit returns; with `celery`, the task goes to queue "
            f"`{EVENTS_QUEUE}` and the worker above delivers it. The modes alternate by ten events. No target.",
            "",
            "| mode | probes | publish p50 (ms) | publish p99 (ms) | handled p50 (ms) | handled p99 (ms) | handled mean (ms) "
            "| drain: events | publish rate (events/s) | handled (events/s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for e in run.events:
            out.append(
                f"| {e.mode} | {e.delivered.calls} | {fmt(e.publish.p50, 'ms')} | {fmt(e.publish.p99, 'ms')} "
                f"| {fmt(e.delivered.p50, 'ms')} | {fmt(e.delivered.p99, 'ms')} | {fmt(e.delivered.mean, 'ms')} "
                f"| {e.drain_events} | {e.drain_events / e.drain_published:,.0f} | {e.drain_events / e.drain_done:,.0f} |"
            )
        out += [
            "",
            "*Drain*: the events published back to back (each its own transaction), then waited for until every "
            "publication is completed; *handled (events/s)* = events / time from the first publish to the last "
            "completion. One worker process (`-P solo`) delivers in celery mode.",
            "",
        ]
        n += 1
    if run.parts:
        out += [
            f"## {n}. Where the differences come from",
            "",
            "Each part the transports add (or replace), timed in the bench process without the network, alternating "
            "call by call: the HTTP clients against an `httpx.MockTransport` that answers at once; each server through "
            "Django's test `Client` (middleware, URL resolution, django-ninja, the view); the Celery client's own "
            "encoding/decoding; each Celery task body run directly (`task.run(...)`).",
            "",
            "| part | baseline | p50 (µs) | transport | p50 (µs) | added (µs) |",
            "|---|---|---:|---|---:|---:|",
        ]
        for p in run.parts:
            out.append(
                f"| {p.side} | {p.baseline} | {p.a.p50 * 1e6:.1f} | {p.transport} | {p.b.p50 * 1e6:.1f} | {p.extra * 1e6:+.1f} |"
            )
        if run.forget:
            out.append(
                f"| Celery client | (none) | 0 | `result.forget()` after the answer | {run.forget.p50 * 1e6:.1f} "
                f"| {run.forget.p50 * 1e6:+.1f} |"
            )
        out.append("")
        n += 1
    out += ["## Findings", "", *[f"* {line}" for line in findings(run)], ""]
    out += [
        "## Set-up",
        "",
        f"* Database: {run.database}, migrated with `migrate_all()`, one product `{SKU}` seeded.",
        f"* Processes, all with `DEBUG=0` (so `SEAMS_VALIDATE_CONTRACTS` off in the caller) and `bench.settings` "
        f"(the project's settings; URLconf plus `/bench/raw/`): gunicorn `app.wsgi`, {GUNICORN_WORKERS} sync workers; "
        f"`celery -A app worker -I bench.baseline.tasks -Q bench.raw,{RPC_QUEUE},{EVENTS_QUEUE} -P solo "
        "--without-gossip --without-mingle --without-heartbeat`; broker and result backend "
        f"`{run.args.redis_url}`.",
        f"* Calls per variant, at most: in-process {s.inprocess:,}; HTTP {s.http:,}; Celery {s.celery:,}; events "
        f"{s.events} probes and {s.drain} drained per mode; parts {s.parts:,}. Each comparison also has a time "
        f"budget (in-process {s.budget_inprocess:.0f} s, HTTP {s.budget_http:.0f} s, Celery {s.budget_celery:.0f} s, "
        f"event probes {s.budget_events:.0f} s, each part {s.budget_part:g} s) and stops at the end of a round once "
        "it is spent: the tables give the calls made. Warm-up calls (50 per variant) are not counted.",
        "",
        "```bash",
        "make bench-transports                                   # writes this file",
        ".venv/bin/python -m bench.transports --quick --no-write  # a one-minute smoke run",
        ".venv/bin/python -m bench.transports --database-url postgres://postgres@127.0.0.1:5432/postgres",
        "```",
        "",
    ]
    return "\n".join(out)


def summary(run: Run) -> str:
    lines = [f"{'comparison':<48}{'base p50':>10}{'tr p50':>10}{'p50 x':>8}{'mean x':>8}{'target':>8}  met"]
    for c in run.comparisons:
        scale = 1e6 if c.unit == "us" else 1e3
        lines.append(
            f"{c.title:<48}{c.baseline.p50 * scale:>10.3f}{c.transport.p50 * scale:>10.3f}"
            f"{c.ratio(c.transport):>8.3f}{c.ratio(c.transport, 'mean'):>8.3f}{c.target:>8.2f}  "
            f"{mark(c.met('p50'))}{mark(c.met('mean'))}"
        )
    for e in run.events:
        lines.append(
            f"events {e.mode:<8} publish p50 {e.publish.p50 * 1e3:.2f} ms, handled p50 {e.delivered.p50 * 1e3:.2f} ms, "
            f"drain {e.drain_events / e.drain_done:,.0f} events/s"
        )
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------
def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.transports", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls: about a minute")
    parser.add_argument(
        "--database-url", help="a PostgreSQL server to create the throwaway database on (default: SQLite)"
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS, help="broker and result backend (a database of its own)")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the Markdown report to write")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the report file alone")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, SQLite files)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)

    foreign = redis_foreign_keys(args.redis_url)
    if foreign:
        raise SystemExit(
            f"{args.redis_url} holds keys this bench did not create ({foreign[:5]}): pass another --redis-url"
        )
    tmp = Path(tempfile.mkdtemp(prefix="seams-bench-"))
    db_name = f"seams_bench_{secrets.token_hex(4)}" if args.database_url else ""
    processes: list[Process] = []
    try:
        if args.database_url:
            say(f"creating database {db_name}")
            admin(args.database_url, f'CREATE DATABASE "{db_name}"')
        return run(args, tmp, db_name, processes)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        for process in processes:
            process.stop()
        if processes:
            say("stopped " + ", ".join(f"{p.name} (pid {p.proc.pid})" for p in processes if p.proc))
        if "django" in sys.modules:
            from django.conf import settings

            if settings.configured:
                from django.db import connections

                connections.close_all()
        if db_name:
            admin(args.database_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            say(f"dropped database {db_name}")
        removed = redis_cleanup(args.redis_url)
        say(f"removed {removed} keys from {args.redis_url}")
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path, db_name: str, processes: list[Process]) -> int:
    sizes = QUICK if args.quick else FULL
    base = {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "DEBUG": "0",
        "SEAMS_VALIDATE_CONTRACTS": "0",
        "SEAMS_VAR_DIR": str(tmp / "var"),
        "CELERY_BROKER_URL": args.redis_url,
        "CELERY_RESULT_BACKEND": args.redis_url,
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "SEAMS_LOG_LEVEL": "WARNING",
    }
    if db_name:
        base["DATABASE_URL"] = with_database(args.database_url, db_name)
    # This process: same settings, every module in-process, events inline unless a measurement says otherwise.
    for key in [k for k in os.environ if k.startswith(("SEAMS_BIND_", "SEAMS_EVENT", "CELERY_"))]:
        del os.environ[key]
    os.environ.pop("SEAMS_MODULES", None)
    os.environ.pop("DATABASE_URL", None)
    from bench.security import api_env

    os.environ.update({**api_env(), **base})  # DEBUG off, as the servers: a SECRET_KEY and service keys
    os.environ["SEAMS_EVENT_DISPATCH"] = "inline"

    import django

    django.setup()
    from django.db import connections

    from contracts.kernel.databases import migrate_all
    from modules.catalog import services

    say(f"migrating every module into {'PostgreSQL database ' + db_name if db_name else tmp / 'var'}")
    migrate_all(verbosity=0)
    services.product_create(sku=SKU, name="Bench keyboard", price_cents=4999)
    if db_name:
        with connections["default"].cursor() as cursor:
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {cursor.fetchone()[0]} (throwaway database)"
    else:
        import sqlite3

        database = f"SQLite {sqlite3.sqlite_version} (one file per module in a temporary directory)"
    connections.close_all()  # the children open their own

    env = process_env(base)
    port = free_port()
    web = Process(
        "gunicorn",
        [
            str(BIN / "gunicorn"),
            "app.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(GUNICORN_WORKERS),
            "--timeout",
            "60",
            "--access-logfile",
            str(tmp / "access.log"),
            "--access-logformat",
            "%(U)s %(D)s",
        ],
        env,
        tmp,
    )
    worker = Process(
        "worker",
        [
            str(BIN / "celery"),
            "-A",
            "app",
            "worker",
            "-I",
            "bench.baseline.tasks",
            "-Q",
            f"bench.raw,{RPC_QUEUE},{EVENTS_QUEUE}",
            "-P",
            "solo",
            "-n",
            f"bench-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
        ],
        {**env, "SEAMS_EVENT_DISPATCH": "celery", "BENCH_TASK_TIMINGS": str(tmp / "tasks.log")},
        tmp,
    )
    processes += [web.start(), worker.start()]
    say(
        f"started gunicorn (pid {web.proc.pid}, port {port}) and a Celery worker (pid {worker.proc.pid}); logs in {tmp}"
    )

    url = f"http://127.0.0.1:{port}"
    wait_for_web(web, url)
    wait_for_worker(worker)
    say("gunicorn and the worker answer")
    result = Run(args, sizes, database)
    result.loads["at start"] = load()
    say(f"load average {result.loads['at start']}")
    inprocess, result.lookup = measure_inprocess(sizes)
    result.comparisons.append(inprocess)
    say(
        f"  in-process: use()/direct p50 {inprocess.ratio(inprocess.transport):.3f}x; use() lookup {result.lookup.p50 * 1e9:.0f} ns"
    )
    http = measure_http(sizes, url, tmp / "access.log")
    result.comparisons.append(http)
    say(f"  HTTP: transport/raw p50 {http.ratio(http.transport):.3f}x, mean {http.ratio(http.transport, 'mean'):.3f}x")
    celery = measure_celery(sizes, tmp / "tasks.log")
    result.comparisons.append(celery)
    say(
        f"  Celery: transport/raw p50 {celery.ratio(celery.transport):.3f}x, mean {celery.ratio(celery.transport, 'mean'):.3f}x"
    )
    result.events = measure_events(sizes)
    result.parts = measure_parts(sizes)
    result.forget = measure_forget(args.redis_url, sizes.parts)
    result.loads["at end"] = load()
    for process in processes:
        if not process.running:
            raise SystemExit(f"{process.name} died during the bench:\n{process.tail()}")
        result.process_errors[process.name] = process.errors()

    text = report(result, machine(database, args.redis_url), time.perf_counter() - START)
    print(f"\n{summary(result)}\n", flush=True)
    for line in findings(result):
        print(f"* {line}\n", flush=True)
    if args.no_write:
        say("--no-write: report not written")
    else:
        args.output.write_text(text)
        say(f"wrote {args.output}")
    return 0


def wait_for_web(web: Process, url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if not web.running:
            raise SystemExit(f"gunicorn exited:\n{web.tail()}")
        try:
            if httpx.get(f"{url}/health/live", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"gunicorn did not answer within {timeout:.0f} s:\n{web.tail()}")
        time.sleep(0.2)


def wait_for_worker(worker: Process, timeout: float = 90) -> None:
    from celery.exceptions import TimeoutError as CeleryTimeout

    from bench.baseline.tasks import QUEUE, raw_get_product

    pending = raw_get_product.apply_async((SKU,), queue=QUEUE)
    deadline = time.monotonic() + timeout
    while True:
        if not worker.running:
            raise SystemExit(f"the Celery worker exited:\n{worker.tail()}")
        try:
            answer = pending.get(timeout=1)
            if answer.get("sku") != SKU:
                raise SystemExit(f"the raw task answered {answer!r}")
            return
        except CeleryTimeout:
            if time.monotonic() > deadline:
                raise SystemExit(f"the Celery worker did not answer within {timeout:.0f} s:\n{worker.tail()}") from None


if __name__ == "__main__":
    sys.exit(main())
