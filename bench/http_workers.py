"""Which gunicorn worker class should an extracted service run? Measured, not guessed.

Run ``python -m bench.http_workers [--calls N] [--uvicorn-path DIR]``.
It serves the project (SQLite files in a temporary directory, demo data) with gunicorn in each
worker class side by side, on loopback, two workers each:

* ``sync``: gunicorn's default; it closes the connection after every response, so each call opens
  a new TCP connection;
* ``gthread``: 4 threads per worker and HTTP keep-alive, so the pooled client reuses its
  connection;
* ``uvicorn`` (``uvicorn_worker.UvicornWorker`` on ``app.asgi``), only if ``uvicorn`` and
  ``uvicorn-worker`` can be imported (they are not project dependencies; ``--uvicorn-path`` adds a
  directory to the servers' ``PYTHONPATH``, e.g. one filled by ``pip install --target``).

Each round makes one contract call to every server in a shuffled order (``POST
/internal/catalog/v1/catalog/get_product``, one ORM read, as the HTTP transport sends it) through
one pooled ``httpx.Client`` per server with the transport's own limits and socket options, so load
on the machine weighs on every variant alike. Prints p50 / p99 / mean per class and the ratio of
medians to ``sync``, and writes ``bench/RESULTS-http-workers.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = Path(__file__).resolve().parent / "RESULTS-http-workers.md"
PATH = "/internal/catalog/v1/catalog/get_product"
SKU = "KB-101"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def variants(uvicorn: bool) -> dict[str, list[str]]:
    common = ["--workers", "2", "--timeout", "60"]
    found = {
        "sync": ["app.wsgi", *common],
        "gthread": ["app.wsgi", *common, "--worker-class", "gthread", "--threads", "4", "--keep-alive", "5"],
    }
    if uvicorn:
        found["uvicorn"] = ["app.asgi", *common, "--worker-class", "uvicorn_worker.UvicornWorker"]
    return found


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_workers", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per worker class (default 3000)")
    parser.add_argument("--uvicorn-path", default="", help="a directory holding uvicorn and uvicorn-worker")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="seams-http-workers-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SEAMS_", "DATABASE_URL"))}
    env.update({"DJANGO_SETTINGS_MODULE": "app.settings", "SEAMS_VAR_DIR": str(tmp / "var"), "DEBUG": "false",
                "PYTHONPATH": os.pathsep.join(p for p in (args.uvicorn_path, str(ROOT)) if p)})
    for step in (["migrate_modules"], ["seed_shop"]):
        subprocess.run([sys.executable, "manage.py", *step], cwd=ROOT, env=env, check=True, capture_output=True)
    probe = subprocess.run([sys.executable, "-c", "import uvicorn, uvicorn_worker"], env=env, capture_output=True)
    classes = variants(uvicorn=probe.returncode == 0)

    # The HTTP transport's pool and socket options (extraction/http/client.py, which needs Django set up).
    LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30)  # noqa: N806
    SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]  # noqa: N806

    servers: dict[str, subprocess.Popen[bytes]] = {}
    clients: dict[str, httpx.Client] = {}
    samples: dict[str, list[float]] = {name: [] for name in classes}
    loads = {"start": " / ".join(f"{x:.2f}" for x in os.getloadavg())}
    try:
        for name, command in classes.items():
            port = free_port()
            log = open(tmp / f"{name}.log", "wb")  # noqa: SIM115
            servers[name] = subprocess.Popen(
                [str(BIN / "gunicorn"), *command, "--bind", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                stdout=log, stderr=subprocess.STDOUT,
            )
            clients[name] = httpx.Client(
                base_url=f"http://127.0.0.1:{port}", timeout=30,
                transport=httpx.HTTPTransport(limits=LIMITS, socket_options=SOCKET_OPTIONS),
            )
        for name, client in clients.items():
            deadline = time.monotonic() + 60
            while True:
                try:
                    answer = client.post(PATH, json={"sku": SKU})
                    if answer.status_code == 200:
                        break
                    raise SystemExit(f"{name}: {answer.status_code} {answer.text[:200]}")
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{name} did not start; see {tmp / (name + '.log')}") from None
                    time.sleep(0.2)
        rng = random.Random(7)
        order = list(clients)
        for n in range(args.calls + 200):  # the first 200 rounds warm up
            rng.shuffle(order)
            for name in order:
                started = time.perf_counter()
                answer = clients[name].post(PATH, json={"sku": SKU})
                took = time.perf_counter() - started
                assert answer.status_code == 200, (name, answer.text[:200])
                if n >= 200:
                    samples[name].append(took)
    finally:
        for client in clients.values():
            client.close()
        for server in servers.values():
            server.terminate()
        for server in servers.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=20)
    loads["end"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())

    base = statistics.median(samples["sync"])
    rows = [
        (name, statistics.median(s), percentile(s, 99), statistics.fmean(s), statistics.median(s) / base)
        for name, s in samples.items()
    ]
    table = ["| worker class | calls | p50 (ms) | p99 (ms) | mean (ms) | p50 / sync |", "|---|---:|---:|---:|---:|---:|"]
    table += [f"| {n} | {len(samples[n]):,} | {p50 * 1e3:.3f} | {p99 * 1e3:.3f} | {mean * 1e3:.3f} | {r:.3f} |"
              for n, p50, p99, mean, r in rows]
    print("\n".join(table))
    if not args.no_write:
        import gunicorn

        RESULTS.write_text("\n".join([
            "# gunicorn worker classes for a service: one contract call on loopback",
            "",
            f"Generated by `python -m bench.http_workers --calls {args.calls}` on "
            f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC. Do not edit by hand: rerun.",
            "",
            f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, gunicorn "
            f"{gunicorn.__version__}; load average (1/5/15 min) at start {loads['start']}, at end {loads['end']}.",
            "",
            *table,
            "",
            "Each round calls every server once, in a shuffled order; ratios of medians are the signal, absolute "
            "times move with the machine's load. Two workers each; gthread with 4 threads and keep-alive; sync "
            "closes the connection after every answer."
            + ("" if "uvicorn" in samples else " uvicorn was not importable: not measured."),
            "",
        ]))
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
