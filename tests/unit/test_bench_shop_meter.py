"""``bench/shop.py``'s CPU meter: cgroup v1 cpuacct groups when it can make them, ``/proc`` otherwise,
and the Celery workers it starts run the documented command.

The processes burn a fixed amount of their own CPU (``time.process_time``), so what the meter must
see is known without timing anything."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bench.shop import CGROUP_METHOD, CPUACCT, PROC_METHOD, Meter, cgroup_root, remove_group, worker
from bench.transports import Process
from extraction.settings.celery import WORKER_OPTIONS, worker_command
from tests.support.waiting import eventually

BURN = 0.3  # CPU seconds each child spends before it says so

BURNER = (
    "import sys, time\n"
    f"while time.process_time() < {BURN}: pass\n"
    "print('burnt', flush=True)\n"
    "if sys.argv[1] == 'stay': time.sleep(60)\n"
)


def wait_for(predicate, what: str) -> None:  # noqa: ANN001 - a test helper
    eventually(what, predicate, 60, every=0.02)


def burner(tmp_path: Path, name: str, command: str) -> Process:
    return Process(name, ["sh", "-c", command], dict(os.environ), tmp_path)


def test_the_proc_fallback_when_no_group_can_be_made(tmp_path: Path) -> None:
    not_cpuacct = tmp_path / "plain-directory"  # groups can be made in it, but they account nothing
    not_cpuacct.mkdir()
    assert cgroup_root(not_cpuacct) is None
    assert list(not_cpuacct.iterdir()) == []  # nothing left behind

    meter = Meter(None, "variant")
    assert meter.method == PROC_METHOD
    process = meter.start(burner(tmp_path, "live", f"exec {sys.executable} -c \"{BURNER}\" stay"))
    try:
        wait_for(lambda: "burnt" in process.tail(), "burnt its CPU")
        assert meter.read()["live"] >= BURN - 0.02  # 10 ms ticks
    finally:
        process.stop()
        meter.close()


def test_cgroups_count_a_child_that_exited(tmp_path: Path) -> None:
    root = cgroup_root()
    if not os.access(CPUACCT, os.W_OK):  # not root: the bench falls back, and says so
        assert root is None
        return
    assert root is not None
    meter = Meter(root, "variant")
    try:
        assert meter.method == CGROUP_METHOD
        # The shell lives on; the Python child that burnt the CPU has exited and been reaped, so the
        # /proc reading (live processes only) no longer sees it.
        process = meter.start(burner(tmp_path, "parent", f"{sys.executable} -c \"{BURNER}\" go; echo reaped; sleep 60"))
        wait_for(lambda: "reaped" in process.tail(), "reaped its child")
        assert meter.read()["parent"] >= BURN
        assert meter.read_proc()["parent"] < BURN / 2
        process.stop()
    finally:
        meter.close()
        remove_group(root)
    assert not root.exists()


def test_the_bench_runs_the_documented_worker_command(tmp_path: Path) -> None:
    command = worker("catalog-celery-service", "service", ["seams.catalog", "seams.rpc.catalog"], {}, tmp_path).command
    documented = worker_command("service", ["seams.catalog", "seams.rpc.catalog"])
    assert Path(command[0]).name == "celery"
    assert command[1:-2] == documented[1:] and command[-2] == "-n"  # only a node name of its own added
    assert set(WORKER_OPTIONS) <= set(documented) and "-c" not in documented and "-P" not in documented


@pytest.mark.parametrize("transport", ["http", "celery"])
def test_each_extracted_stack_runs_an_outbox_relay_per_service_and_for_the_monolith(transport: str, tmp_path: Path) -> None:
    """Events are dispatched inline in the bench's stacks: without a relay a forward (or a handler)
    that failed once is never retried and its order stays pending for ever (``order 837 is pending``
    at 0fd8c04). Production runs one beside each service and the monolith (docs/events.md); so does
    the bench. (Nothing is started: the plan is read, and the services' directories are made empty
    instead of generated.)"""
    import bench.shop as shop

    def generate(label: str, transport: str, out: Path, base: dict[str, str]) -> Path:
        (out / f"{label}-service").mkdir(parents=True)
        return out / f"{label}-service"

    base = {"DJANGO_SETTINGS_MODULE": "bench.shop_settings", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/13"}
    started = shop.plan_extracted(transport, base, tmp_path, generate).processes
    relays = [(p.name, p.cwd, p.command[1:3]) for p in started if "relay_events" in p.command]
    services = tmp_path / f"services-{transport}"
    assert relays == [
        (f"catalog-{transport}-relay", services / "catalog-service", ["manage.py", "relay_events"]),
        (f"inventory-{transport}-relay", services / "inventory-service", ["manage.py", "relay_events"]),
        (f"monolith-{transport}-relay", shop.ROOT, ["manage.py", "relay_events"]),
    ]
    service_env = next(p.env for p in started if p.name == f"inventory-{transport}-service")
    assert next(p.env for p in started if p.name == f"inventory-{transport}-relay") == service_env
