"""The shop bench of ``bench/events.py``: whole orders, the plain-Django shop vs the Seams shop.

Run by ``bench/events.py`` in a process of its own (``python -m bench.shop --database-url
postgres://... --out result.json``). On a throwaway PostgreSQL database, one real gunicorn
(``bench.shop_settings``, 2 workers x 2 threads) serves both shops: the plain-Django one
(``bench/plainshop/``: the same models and steps, direct calls and ``on_commit`` signal receivers,
one database, no outbox) at ``/bench/plain/orders/`` and the Seams shop, co-located, events inline,
at ``/api/orders/``. With ``--extracted`` (``bench/events.py`` passes it) a third variant runs the
Seams shop with catalog and inventory extracted, served by their generated services
(``manage.py extract_module <m> --transport http|celery``; HTTP: one gunicorn each, 1 worker x 8
threads; Celery: one worker each, run as the generated service documents it,
``extraction.settings.celery.worker_command``, plus a monolith worker for what they call or forward
back) and a monolith of their own (1 worker x 12 threads: a request waits on calls that come back to
it), each service and the monolith with its outbox relay (``manage.py relay_events``, as production
runs one beside inline dispatch: a forward that failed once is retried, not left pending), all on
the same database; each extracted stack runs alone beside the co-located shop, which is
measured again with it (PostgreSQL's connection limit is shared). Each places orders of two lines
and is timed until the order is confirmed (the answer of ``POST``, or, when it answers ``pending``,
the order's row polled in the database). Batches alternate between the variants (and which goes
first), at concurrency 1 and 8 (threads of this process, each with its own keep-alive
``httpx.Client``); per variant: p50 latency to confirmed (concurrency 1), orders/s at 1 and 8
(medians of the batches), and the CPU seconds its processes spent per 100 orders (median of the
batches), also per process (every batch together). CPU comes from cgroup v1 ``cpuacct`` groups when
this process can make them (root): each process is put in a group of its own before it runs its
command, so its threads and children count, also those that exited, to the nanosecond; otherwise
(and beside it, ``cpu_per_100_proc``) from ``/proc``: utime + stime of the live processes of their
process groups, in 10 ms ticks. The result says which (``cpu_method``). PostgreSQL's own CPU is not
counted: the server is shared with other work on this machine.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.security import customer_headers
from bench.transports import (
    BIN,
    ROOT,
    Process,
    admin,
    free_port,
    percentile,
    process_env,
    redis_cleanup,
    redis_foreign_keys,
    say,
    wait_for_web,
    with_database,
)

PRODUCTS = (("KB-101", 4999), ("MS-202", 2499))
PATHS = {"plain Django": "/bench/plain/orders/", "Seams co-located": "/api/orders/"}
EXTRACTED = {
    "http": "Seams, catalog + inventory extracted (HTTP)",
    "celery": "Seams, catalog + inventory extracted (Celery)",
}
EXTRACTED_MODULES = ("catalog", "inventory")
TICKS = os.sysconf("SC_CLK_TCK")


def sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {"c1": 20, "c8": 40, "rounds": 2}
    return {"c1": 25, "c8": 50, "rounds": 4}


def group_cpu_by_group(pgids: set[int]) -> dict[int, float]:
    """Per process group, the CPU seconds of its live processes (``/proc/<pid>/stat``)."""
    ticks = dict.fromkeys(pgids, 0)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) in ticks:  # pgrp
            ticks[int(fields[2])] += int(fields[11]) + int(fields[12])  # utime, stime
    return {pgid: n / TICKS for pgid, n in ticks.items()}


#: cgroup v1's CPU accounting controller: a group's ``cpuacct.usage`` is the CPU (ns) its tasks used,
#: threads and children that exited included, and that of its sub-groups.
CPUACCT = Path("/sys/fs/cgroup/cpuacct")
CGROUP_METHOD = "cgroup v1 cpuacct.usage (ns; exited threads and reaped children counted)"
PROC_METHOD = "/proc/<pid>/stat utime+stime of the live processes of their process groups (10 ms ticks)"


class Meter:
    """The CPU of one variant's processes, and of each of them: cgroup v1 ``cpuacct`` groups when this
    process may make them (root), else the ``/proc`` reading of their process groups.

    With cgroups, every process started through :meth:`start` is put into a group of its own
    (``<root>/<variant>/<process>``) before it runs its command, so all it ever runs (gunicorn's
    workers, a Celery worker's threads) is counted, also once it has exited."""

    def __init__(self, root: Path | None, variant: str) -> None:
        self.root = root
        self.group = root / slug(variant) if root is not None else None
        self.processes: dict[str, Process] = {}
        if self.group is not None:
            self.group.mkdir(exist_ok=True)

    @property
    def method(self) -> str:
        return CGROUP_METHOD if self.group is not None else PROC_METHOD

    def start(self, process: Process) -> Process:
        """Start ``process`` (in its ``cwd``, a generated service's directory, or the project's) in its group."""
        import subprocess

        procs: Path | None = None
        if self.group is not None:
            (self.group / slug(process.name)).mkdir(exist_ok=True)
            procs = self.group / slug(process.name) / "cgroup.procs"

        def enter() -> None:  # in the child, between fork and exec
            if procs is not None:
                procs.write_text(str(os.getpid()))

        with open(process.log, "ab") as out:
            process.proc = subprocess.Popen(
                process.command,
                cwd=getattr(process, "cwd", ROOT),
                env=process.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=enter,
            )
        self.processes[process.name] = process
        return process

    def read(self) -> dict[str, float]:
        """CPU seconds so far, per process started here."""
        if self.group is not None:
            return {name: usage(self.group / slug(name)) for name in self.processes}
        return self.read_proc()

    def read_proc(self) -> dict[str, float]:
        """The ``/proc`` reading (live processes of each process group, 10 ms ticks), also beside cgroups."""
        by_group = group_cpu_by_group({p.proc.pid for p in self.processes.values() if p.proc})
        return {name: by_group.get(p.proc.pid, 0.0) if p.proc else 0.0 for name, p in self.processes.items()}

    def close(self) -> None:
        """Remove the groups (their processes must have exited: stop them first)."""
        if self.group is None:
            return
        for name in self.processes:
            remove_group(self.group / slug(name))
        remove_group(self.group)


def slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)


def usage(group: Path) -> float:
    return int((group / "cpuacct.usage").read_text()) / 1e9


def remove_group(group: Path) -> None:
    for _ in range(50):  # a process just killed may take a moment to leave its group
        try:
            group.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)


def cgroup_root(hierarchy: Path = CPUACCT) -> Path | None:
    """A cpuacct group of this run's own (``seams-bench-shop-<pid>``), or ``None`` when this process
    cannot make one (not root, no cgroup v1 cpuacct hierarchy): then the ``/proc`` reading."""
    root = hierarchy / f"seams-bench-shop-{os.getpid()}"
    try:
        root.mkdir()
        (root / "cpuacct.usage").read_text()
        probe = root / "probe"
        probe.mkdir()
        probe.rmdir()
    except OSError:
        with contextlib.suppress(OSError):
            root.rmdir()
        return None
    return root


def confirmed(order_id: int, deadline: float) -> None:
    """Until the order's row says confirmed (an order answered ``pending`` by an extracted shop)."""
    from django.db import connections

    with connections["orders"].cursor() as cursor:
        while True:
            cursor.execute("SELECT status FROM orders_order WHERE id = %s", [order_id])
            status = cursor.fetchone()[0]
            if status == "confirmed":
                return
            if status != "pending" or time.monotonic() > deadline:
                raise SystemExit(f"order {order_id} is {status}" + open_publications())
            time.sleep(0.002)


def open_publications(limit: int = 20) -> str:
    """The publications not completed (every module's outbox, newest first), each with its last
    error: why an order stayed pending (a forward or a handler that failed and was not retried)."""
    from contracts.kernel.operations import list_publications

    lines = []
    for status in ("pending", "processing", "failed", "dead"):
        for alias, row in list_publications(status=status, limit=limit):
            error = row.last_error.splitlines()[0][:300] if row.last_error else "-"
            lines.append(
                f"  {alias}:{row.pk} {row.event_type} -> {row.subscriber} {row.status} attempts={row.attempts}"
                f" created={row.created_at:%H:%M:%S.%f} error: {error}"
            )
    return "\nopen publications:\n" + "\n".join(lines) if lines else "\nno open publication"


def place_batch(base: str, path: str, orders: int, concurrency: int, tag: str) -> tuple[list[float], float]:
    """Place ``orders`` orders with ``concurrency`` clients; returns their latencies and the wall time."""
    import httpx
    from django.db import connections

    body_lines = [{"sku": sku, "quantity": 1} for sku, _ in PRODUCTS]
    per_client = [orders // concurrency + (1 if i < orders % concurrency else 0) for i in range(concurrency)]

    def client(i: int) -> list[float]:
        latencies = []
        with httpx.Client(base_url=base, timeout=60) as http:
            for j in range(per_client[i]):
                email = f"{tag}-{i}-{j}@bench.example"
                headers = customer_headers(email)  # the customer's token, made before the clock starts
                body = {"lines": body_lines}  # both shops take the customer's email from the token
                t0 = time.perf_counter()
                answer = http.post(path, json=body, headers=headers)
                if answer.status_code != 201 or answer.json()["status"] not in ("confirmed", "pending"):
                    raise SystemExit(f"{path} answered {answer.status_code}: {answer.text[:300]}")
                if answer.json()["status"] == "pending":
                    confirmed(answer.json()["id"], time.monotonic() + 60)
                latencies.append(time.perf_counter() - t0)
        connections.close_all()  # this thread's
        return latencies

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(client, range(concurrency)))
    return [x for r in results for x in r], time.perf_counter() - t0


def measure(targets: dict[str, tuple[str, Meter]], size: dict[str, int]) -> dict[str, Any]:
    """``targets``: per variant, the server's base URL and the meter of the processes whose CPU it uses."""
    names = list(targets)
    latency: dict[str, list[float]] = {n: [] for n in names}
    rate: dict[tuple[str, int], list[float]] = {(n, c): [] for n in names for c in (1, 8)}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    cpu_proc: dict[str, list[float]] = {n: [] for n in names}  # the /proc reading of the same batches
    spent: dict[str, dict[str, float]] = {n: {} for n in names}  # per process, over every measured batch
    placed = dict.fromkeys(names, 0)
    for name in names:  # warm-up: every worker thread's connections and imports
        place_batch(targets[name][0], PATHS.get(name, "/api/orders/"), 16, 8, f"warm-{names.index(name)}")
    for r in range(size["rounds"]):
        for name in names if r % 2 == 0 else names[::-1]:
            for concurrency in (1, 8):
                orders = size["c1"] if concurrency == 1 else size["c8"]
                base, meter = targets[name]
                tag = f"r{r}c{concurrency}v{names.index(name)}"
                before, before_proc = meter.read(), meter.read_proc()
                samples, took = place_batch(base, PATHS.get(name, "/api/orders/"), orders, concurrency, tag)
                after, after_proc = meter.read(), meter.read_proc()
                cpu[name].append(sum(after[p] - before[p] for p in after) / orders * 100)
                cpu_proc[name].append(sum(after_proc[p] - before_proc[p] for p in after_proc) / orders * 100)
                for process in after:
                    spent[name][process] = spent[name].get(process, 0.0) + after[process] - before[process]
                placed[name] += orders
                rate[(name, concurrency)].append(orders / took)
                if concurrency == 1:
                    latency[name] += samples
        say(
            f"  shop round {r + 1}: "
            + ", ".join(f"{n} {rate[(n, 1)][-1]:.0f}/s (c1) {rate[(n, 8)][-1]:.0f}/s (c8)" for n in names)
        )
    return {
        name: {
            "p50": percentile(latency[name], 50),
            "per_second_c1": percentile(rate[(name, 1)], 50),
            "per_second_c8": percentile(rate[(name, 8)], 50),
            "cpu_per_100": percentile(cpu[name], 50),
            "cpu_per_100_batches": cpu[name],
            "cpu_per_100_proc": percentile(cpu_proc[name], 50),
            # Every measured batch together, per process (they add up to the variant's mean, not its median).
            "cpu_per_100_by_process": {p: s / placed[name] * 100 for p, s in spent[name].items()},
            "orders": len(latency[name]) + size["c8"] * len(rate[(name, 8)]),
        }
        for name in names
    }


def seed() -> None:
    from bench.plainshop.models import Product as PlainProduct
    from bench.plainshop.models import StockItem as PlainStock
    from modules.catalog.services import product_create
    from modules.inventory.services import stock_set

    for sku, price in PRODUCTS:
        product_create(sku=sku, name=f"Product {sku}", price_cents=price)
        stock_set(sku=sku, quantity=100_000_000)
        PlainProduct.objects.create(sku=sku, name=f"Product {sku}", price_cents=price)
        PlainStock.objects.create(sku=sku, on_hand=100_000_000)


def run(
    args: argparse.Namespace, tmp: Path, db_name: str, processes: list[Process], meters: list[Meter]
) -> dict[str, Any]:
    size = sizes(args.quick)
    base = {
        "DJANGO_SETTINGS_MODULE": "bench.shop_settings",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "PYTHONUNBUFFERED": "1",
        "DEBUG": "0",
        "SEAMS_VALIDATE_CONTRACTS": "0",
        "SEAMS_VAR_DIR": str(tmp / "var"),
        "SEAMS_EVENT_DISPATCH": "inline",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "SEAMS_LOG_LEVEL": "WARNING",
        "DATABASE_URL": with_database(args.database_url, db_name),
    }
    from bench.security import api_env

    base.update(api_env())  # SECRET_KEY and token keys, as DEBUG off requires
    for key in [k for k in os.environ if k.startswith(("SEAMS_", "CELERY_"))]:
        del os.environ[key]
    os.environ.update(base)

    import django

    django.setup()
    from django.db import connections

    from contracts.kernel.databases import migrate_all

    migrate_all(verbosity=0)
    seed()
    connections.close_all()

    port = free_port()
    web = Process(
        "shop-gunicorn",
        [
            str(BIN / "gunicorn"),
            "app.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "2",
            "--timeout",
            "120",
        ],
        process_env(base),
        tmp,
    )
    colocated_meter = Meter(args.cgroup, "colocated")
    meters.append(colocated_meter)
    processes.append(colocated_meter.start(web))
    url = f"http://127.0.0.1:{port}"
    wait_for_web(web, url)
    assert web.proc is not None
    say(
        f"shop: gunicorn pid {web.proc.pid} on {url}; {size['rounds']} rounds of {size['c1']} (c1) + {size['c8']} (c8) orders per variant"
    )
    say(f"shop: CPU from {colocated_meter.method}")
    colocated = {name: (url, colocated_meter) for name in PATHS}
    variants = measure(colocated, size)
    errors = web.errors()[:3]
    for transport in args.extracted:
        # One extracted stack at a time, beside the co-located shop (measured again, alternating with
        # it): PostgreSQL's connections (100, shared with other work) would not hold them all.
        phase: list[Process] = []
        try:
            name = EXTRACTED[transport]
            meter = Meter(args.cgroup, f"extracted-{transport}")
            meters.append(meter)
            target = start_extracted(transport, {**base, **broker(args.redis_url)}, tmp, phase, meter)
            both = measure({"Seams co-located": colocated["Seams co-located"], name: target}, size)
            variants[name] = {
                **both[name],
                "colocated_cpu_per_100": both["Seams co-located"]["cpu_per_100"],
                "colocated_cpu_per_100_proc": both["Seams co-located"]["cpu_per_100_proc"],
            }
            say(
                f"  {name}, CPU s per 100 orders by process: "
                + ", ".join(f"{p} {c:.3f}" for p, c in variants[name]["cpu_per_100_by_process"].items())
            )
            errors += [e for p in phase for e in p.errors()[:3]]
        finally:
            for process in reversed(phase):
                process.stop()
    return {
        "gunicorn": "2 workers x 2 threads (gthread)",
        "sizes": size,
        "cpu_method": colocated_meter.method,
        "variants": variants,
        "server_errors": errors,
    }


def broker(url: str) -> dict[str, str]:
    return {"CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url}


def worker(name: str, app: str, queues: list[str], env: dict[str, str], tmp: Path) -> Process:
    """A Celery worker run as the generated services document it (``worker_command``: the pool and
    its concurrency from the settings, no bench-only options), named apart from other runs'."""
    from extraction.settings.celery import worker_command

    command = worker_command(app, queues)
    return Process(name, [str(BIN / command[0]), *command[1:], "-n", f"{name}-{os.getpid()}@%h"], env, tmp)


#: Seconds between the relays' passes (``relay_events``' default).
RELAY_INTERVAL = "2"


def relay(name: str, env: dict[str, str], tmp: Path, cwd: Path) -> Process:
    """``manage.py relay_events`` of the project in ``cwd`` (a generated service's directory or the monolith's)."""
    process = Process(name, [str(BIN / "python"), "manage.py", "relay_events", "--interval", RELAY_INTERVAL], env, tmp)
    process.cwd = cwd  # type: ignore[attr-defined]
    return process


def generate_service(label: str, transport: str, out: Path, base: dict[str, str]) -> Path:
    """``manage.py extract_module <label> --transport <transport> --out <out>``; the service's directory."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "manage.py", "extract_module", label, "--transport", transport, "--out", str(out)],
        cwd=ROOT,
        env=process_env(base),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(f"extract_module {label} failed:\n{done.stdout}{done.stderr}")
    return out / f"{label}-service"


@dataclasses.dataclass
class ExtractedStack:
    """What :func:`plan_extracted` decided to run: every process (not started), and which is which."""

    processes: list[Process]
    services: list[Process]  # in EXTRACTED_MODULES' order
    monolith: Process
    urls: dict[str, str]  # label (and "monolith") -> base URL


def start_extracted(
    transport: str, base: dict[str, str], tmp: Path, processes: list[Process], meter: Meter
) -> tuple[str, Meter]:
    """Start :func:`plan_extracted`'s stack under ``meter`` and wait until it serves (``processes``
    gets every process started, so that the caller stops them)."""
    stack = plan_extracted(transport, base, tmp)
    for process in stack.processes:
        processes.append(meter.start(process))
    wait_for_web(stack.monolith, stack.urls["monolith"])
    for process, label in zip(stack.services, EXTRACTED_MODULES, strict=True):
        if transport == "http":
            wait_for_web(process, stack.urls[label])
    wait_for_workers([p for p in stack.processes if p.command[3:4] == ["worker"]])
    say(f"extracted ({transport}): " + ", ".join(f"{p.name} pid {p.proc.pid if p.proc else '?'}" for p in stack.processes))
    return stack.urls["monolith"], meter


def plan_extracted(
    transport: str,
    base: dict[str, str],
    tmp: Path,
    generate: Callable[[str, str, Path, dict[str, str]], Path] = generate_service,
) -> ExtractedStack:
    """Catalog and inventory as generated services (``transport``, written by ``generate``), and a
    monolith bound to them.

    HTTP: each service is a gunicorn; Celery: each is a worker on its module's queues
    (``seams.<m>``, ``seams.rpc.<m>``), and the monolith has a worker for what they call or forward
    back (``seams.rpc.orders``, ``seams.rpc.notifications``). Events are dispatched inline
    everywhere, so a forward happens in the process that committed the event; each service and the
    monolith has a relay (``manage.py relay_events``) for what failed."""
    ports = {label: free_port() for label in (*EXTRACTED_MODULES, "monolith")}
    urls = {label: f"http://127.0.0.1:{port}" for label, port in ports.items()}
    binds = {f"SEAMS_BIND_{m.upper()}": urls[m] if transport == "http" else "celery" for m in EXTRACTED_MODULES}
    timeouts = {f"SEAMS_BIND_{m.upper()}_TIMEOUT": "60" for m in ("catalog", "inventory", "orders", "notifications")}
    # Zero-trust identity (docs/security.md): a key per service, each trusting the others for their modules.
    from bench.security import MONOLITH_KEY, generate_private_pem, public_key

    keys = {"monolith": MONOLITH_KEY, **{f"{m}-service": generate_private_pem() for m in EXTRACTED_MODULES}}
    served = {"monolith": ["orders", "notifications"], **{f"{m}-service": [m] for m in EXTRACTED_MODULES}}
    peers = {name: {"modules": served[name], "keys": [public_key(pem)]} for name, pem in keys.items()}

    def identity(name: str) -> dict[str, str]:
        others = {peer: trust for peer, trust in peers.items() if peer != name}
        return {
            "SEAMS_IDENTITY_NAME": name,
            "SEAMS_IDENTITY_KEY": keys[name],
            "SEAMS_IDENTITY_PEERS": json.dumps(others),
        }

    services = []
    for label in EXTRACTED_MODULES:
        directory = generate(label, transport, tmp / f"services-{transport}", base)
        env = process_env(
            base,
            DJANGO_SETTINGS_MODULE="service.settings",
            PYTHONPATH=str(directory),
            MONOLITH_URL=urls["monolith"],
            **{k: v for k, v in binds.items() if not k.endswith(label.upper())},
            **timeouts,
            **identity(f"{label}-service"),
        )
        if transport == "http":
            service = Process(
                f"{label}-{transport}-service",
                [
                    str(BIN / "gunicorn"),
                    "service.wsgi",
                    "--bind",
                    f"127.0.0.1:{ports[label]}",
                    "--workers",
                    "1",
                    "--threads",
                    "8",
                    "--timeout",
                    "120",
                ],
                env,
                tmp,
            )
        else:
            service = worker(
                f"{label}-{transport}-service", "service", [f"seams.{label}", f"seams.rpc.{label}"], env, tmp
            )
        service.cwd = directory  # type: ignore[attr-defined]
        services.append(service)
    monolith_env = process_env(base, **binds, **timeouts, **identity("monolith"))
    monolith = Process(
        f"monolith-{transport}",
        [
            str(BIN / "gunicorn"),
            "app.wsgi",
            "--bind",
            f"127.0.0.1:{ports['monolith']}",
            "--workers",
            "1",
            "--threads",
            "12",
            "--timeout",
            "120",
        ],
        monolith_env,
        tmp,
    )
    started = [*services, monolith]
    if transport == "celery":
        queues = ["seams.rpc.orders", "seams.rpc.notifications", "seams.orders", "seams.notifications"]
        started.append(worker(f"monolith-{transport}-worker", "app", queues, monolith_env, tmp))
    # The outbox relay, one per service and one for the monolith, as production runs beside inline
    # dispatch (docs/events.md, "Dispatch modes"; `make run` runs the same loop in a thread): a forward
    # or a handler that failed once is retried instead of leaving its order pending for ever.
    for service, label in zip(services, EXTRACTED_MODULES, strict=True):
        started.append(relay(f"{label}-{transport}-relay", service.env, tmp, service.cwd))  # type: ignore[attr-defined]
    started.append(relay(f"monolith-{transport}-relay", monolith_env, tmp, ROOT))
    return ExtractedStack(processes=started, services=services, monolith=monolith, urls=urls)


def wait_for_workers(workers: list[Process], timeout: float = 120) -> None:
    """Until every Celery worker answers a ping (each is then consuming its queues)."""
    from celery import Celery

    if not workers:
        return
    env = workers[0].env
    app = Celery(broker=env["CELERY_BROKER_URL"], backend=env["CELERY_RESULT_BACKEND"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in workers:
            if not process.running:
                raise SystemExit(f"{process.name} exited:\n{process.tail()}")
        with contextlib.suppress(Exception):  # the broker may not answer yet
            if len(app.control.ping(timeout=1.0)) >= len(workers):
                return
        time.sleep(0.5)
    raise SystemExit(f"the workers were not all ready within {timeout} s:\n{workers[0].tail()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.shop", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--extracted",
        action="append",
        default=[],
        choices=sorted(EXTRACTED),
        help="also catalog + inventory extracted over this transport (repeatable)",
    )
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/11", help="the extracted Celery variant's broker"
    )
    parser.add_argument(
        "--database-prefix", default="seams_bench_shop", help="the throwaway database is <prefix>_<random hex>"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary directory (every process's log, the generated services) and the database, and print where",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))
    tmp = Path(tempfile.mkdtemp(prefix="seams-bench-shop-"))
    db_name = f"{args.database_prefix}_{secrets.token_hex(4)}"
    processes: list[Process] = []
    meters: list[Meter] = []
    if args.extracted and redis_foreign_keys(args.redis_url):
        raise SystemExit(f"{args.redis_url} holds keys this bench did not create: pass another --redis-url")
    args.cgroup = cgroup_root()
    try:
        admin(args.database_url, f'CREATE DATABASE "{db_name}"')
        result = run(args, tmp, db_name, processes, meters)
        args.out.write_text(json.dumps(result))
        return 0
    finally:
        for process in processes:
            process.stop()
        for meter in meters:
            meter.close()
        if args.cgroup is not None:
            remove_group(args.cgroup)
        if "django" in sys.modules:
            from django.conf import settings

            if settings.configured:
                from django.db import connections

                connections.close_all()
        if args.keep:
            say(f"kept: logs and services in {tmp}, database {with_database(args.database_url, db_name)}")
        else:
            admin(args.database_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            shutil.rmtree(tmp, ignore_errors=True)
        if args.extracted:
            redis_cleanup(args.redis_url)


if __name__ == "__main__":
    sys.exit(main())
