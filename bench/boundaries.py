"""How long does the boundary gate take next to ``tach check``, and how does it grow?

Run ``python -m bench.boundaries [--quick] [--rounds N] [--sizes 25,50,100,200] [--legacy]`` (or
``make bench-boundaries``). For each size it writes a synthetic project (``bench/synthetic.py``: 22
files a module, about 2,200 for 100 modules), checks that every tool passes on it and fails once a
module imports another module's models (so the tools really check the same thing), then times, in
rounds whose order rotates so that other load on the machine weighs on all alike:

* ``lint-imports``: ``lint-imports importlinter.ini``, the one ``seams`` contract (the import rule over
  every package plus ``use()``/``publish()`` against the manifests and call cycles), caches warm;
* ``lint-imports (cold)``: the same in a fresh clone: no ``.import_linter_cache/``, which it writes
  (grimp's graph and the source facts, ``contracts/kernel/factcache.py``) as CI's first run does;
* ``check``: ``manage.py check``'s Seams checks (``bench/seams_checks.py``: E001-E017, the source
  checks E002/E006/E013-E016 among them) with the facts cache warm; Django's start-up is left out
  (every ``manage.py`` command pays it, checks or not; it is reported separately);
* ``check (after cold lint)``: the same right after ``lint-imports (cold)``, as ``make test`` runs
  them in a fresh clone (each file is parsed by one of the two);
* ``check (alone, cold)``: the checks with no cache at all, as a first ``manage.py check`` would;
* ``gate`` = ``lint-imports`` + ``check`` and ``gate (cold)`` = ``lint-imports (cold)`` + ``check
  (after cold lint)``, summed per round: the whole boundary gate;
* ``tach``: ``tach check`` with the same per-module dependencies (``tach.toml``);
* ``legacy`` (with ``--legacy``): the 104-contract file Seams generated before, for comparison.

It reports medians of wall time and of CPU time (user + system of the child; for the checks the
child's own count around them: less sensitive to other processes on a shared machine), the ratio of
the medians to ``tach``'s, and the CPU time per module at each size (the gate must grow linearly).
Writes ``bench/RESULTS-boundaries.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.synthetic import FILES_PER_MODULE, write_project

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = Path(__file__).resolve().parent / "RESULTS-boundaries.md"
TARGET = 1.5  # gate / tach

CACHE = ".import_linter_cache"
CHECKS = [sys.executable, str(Path(__file__).resolve().parent / "seams_checks.py")]
COMMANDS = {
    "lint-imports": [str(BIN / "lint-imports"), "importlinter.ini", "--no-logo"],
    "tach": [str(BIN / "tach"), "check"],
    "legacy": [str(BIN / "lint-imports"), "legacy.ini", "--no-logo"],
}
#: What one round measures, each a step run in turn (the order rotates from round to round).
STEPS = ["tach", "warm", "cold", "check alone"]
ROWS = [
    "tach",
    "lint-imports",
    "lint-imports (cold)",
    "check",
    "check (after cold lint)",
    "check (alone, cold)",
    "gate",
    "gate (cold)",
]
LEAK = "from modules.{victim}.models import Item  # noqa: F401\n"


def run(command: list[str], cwd: Path) -> tuple[int, float, float, str]:
    """Exit code, wall seconds and CPU seconds (user + system) of one run, and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=_env(cwd), timeout=600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.returncode, wall, cpu, done.stdout + done.stderr


def run_checks(cwd: Path) -> dict[str, object]:
    """The Seams checks' own CPU and wall time in a child (bench/seams_checks.py), and what they found."""
    done = subprocess.run(CHECKS, cwd=cwd, capture_output=True, text=True, env=_env(cwd), timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"the Seams checks could not run:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _env(cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE", "SEAMS_MODULES"}}
    env["PYTHONPATH"] = str(cwd)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["DJANGO_SETTINGS_MODULE"] = "app.settings"
    return env


def sanity(project: Path, commands: dict[str, list[str]]) -> None:
    """Every tool passes on the clean project and fails on a module importing another's models."""
    for name, command in commands.items():
        code, _, _, output = run(command, project)
        if code != 0:
            raise SystemExit(f"{name} fails on the clean synthetic project:\n{output[-3000:]}")
    if run_checks(project)["errors"]:
        raise SystemExit(f"manage.py check's Seams checks fail on the clean synthetic project: {run_checks(project)}")
    leak = project / "modules" / "m001" / "leak.py"
    leak.write_text(LEAK.format(victim="m002"))
    try:
        for name, command in commands.items():
            code, _, _, output = run(command, project)
            if code == 0:
                raise SystemExit(f"{name} passes although modules.m001 imports modules.m002.models:\n{output[-3000:]}")
        found = run_checks(project)
        if "seams.E013" not in found["errors"]:
            raise SystemExit(f"manage.py check's Seams checks miss modules.m001 importing modules.m002.models: {found}")
    finally:
        leak.unlink()
    time.sleep(2.5)  # older than the facts cache's racy window, as files in a checkout are
    for command in commands.values():  # warm the caches again on the clean tree
        run(command, project)
    run_checks(project)


class _ColdCache:
    """Set the warm cache aside for a cold step, then put it back (the cold run's cache is dropped)."""

    def __init__(self, project: Path) -> None:
        self.cache, self.aside = project / CACHE, project / (CACHE + ".warm")

    def __enter__(self) -> None:
        os.rename(self.cache, self.aside)

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.cache, ignore_errors=True)
        os.rename(self.aside, self.cache)


def measure(size: int, rounds: int, workdir: Path, legacy: bool) -> dict[str, dict[str, float]]:
    project = workdir / f"project-{size}"
    files = write_project(project, size)
    # The kernel's bytecode, as in any checkout once a command has run (make lint runs manage.py first);
    # the children run with PYTHONDONTWRITEBYTECODE, so without this every run would compile it again.
    subprocess.run([sys.executable, "-m", "compileall", "-q", "contracts", "app"], cwd=project, check=True, env=_env(project))
    commands = {name: c for name, c in COMMANDS.items() if legacy or name != "legacy"}
    print(f"{size} modules: {files} module files; checking that every tool sees a leak ...", flush=True)
    sanity(project, commands)
    samples: dict[str, dict[str, list[float]]] = {}
    setup: list[float] = []

    def add(name: str, wall: float, cpu: float) -> None:
        samples.setdefault(name, {"wall": [], "cpu": []})
        samples[name]["wall"].append(wall)
        samples[name]["cpu"].append(cpu)

    def tool(name: str, label: str | None = None) -> tuple[float, float]:
        code, wall, cpu, output = run(commands[name], project)
        if code != 0:
            raise SystemExit(f"{name} failed during the timing:\n{output[-3000:]}")
        add(label or name, wall, cpu)
        return wall, cpu

    def checks(label: str) -> tuple[float, float]:
        found = run_checks(project)
        if found["errors"]:
            raise SystemExit(f"the Seams checks failed during the timing: {found}")
        add(label, found["wall"], found["cpu"])
        setup.append(found["setup_cpu"])
        return found["wall"], found["cpu"]

    steps = [*STEPS, *(["legacy"] if legacy else [])]
    for number in range(rounds):
        order = steps[number % len(steps):] + steps[: number % len(steps)]
        for step in order:
            if step in ("tach", "legacy"):
                tool(step)
            elif step == "warm":
                lint, check = tool("lint-imports"), checks("check")
                add("gate", lint[0] + check[0], lint[1] + check[1])
            elif step == "cold":
                with _ColdCache(project):
                    lint, check = tool("lint-imports", "lint-imports (cold)"), checks("check (after cold lint)")
                add("gate (cold)", lint[0] + check[0], lint[1] + check[1])
            else:
                with _ColdCache(project):
                    checks("check (alone, cold)")
        print(f"  round {number + 1}/{rounds}", flush=True)
    shutil.rmtree(project)
    found = {
        name: {"wall": statistics.median(s["wall"]), "cpu": statistics.median(s["cpu"]), "files": files}
        for name, s in samples.items()
    }
    found["Django start-up"] = {"wall": float("nan"), "cpu": statistics.median(setup), "files": files}
    return found


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def _version(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    except (OSError, IndexError):
        return "?"


def report(results: dict[int, dict[str, dict[str, float]]], rounds: int, load_start: str, load_end: str, legacy: bool) -> str:
    from importlib.metadata import version

    rows = [*ROWS, *(["legacy"] if legacy else [])]
    sizes = sorted(results)
    lines = [
        "# Boundary gate vs `tach check`",
        "",
        f"Written by `make bench-boundaries` (`python -m bench.boundaries`) on {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
        f"commit {_commit()}; {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load_start} at the start and {load_end} at the end (the machine is shared; CPU time is the steadier measure).",
        f"import-linter {version('import-linter')}, grimp {version('grimp')}, tach {version('tach')}, Django {version('django')}. "
        f"Synthetic projects from `bench/synthetic.py` ({FILES_PER_MODULE} files a module); {rounds} rounds, order rotating, medians.",
        "",
        "The **gate** is the whole boundary gate: `lint-imports importlinter.ini` (the one `seams` contract: every",
        "package's imports, `use()`/`publish()` against the manifests, call cycles) plus `manage.py check`'s Seams",
        "checks (E001-E017, Django's start-up left out: every `manage.py` command pays it). **cold** is a fresh clone:",
        "no `.import_linter_cache/` (grimp's graph, the source facts shared by both halves), which `lint-imports` writes",
        "and the check then reads, as `make test` runs them. `check (alone, cold)` is the checks with no cache at all.",
        "`tach check` runs with the same per-module dependencies. Each tool was first shown to pass on the clean",
        "project and to fail on `modules.m001` importing `modules.m002.models`.",
        "",
        "| modules | files | variant | wall (s) | CPU (s) | CPU / tach | CPU ms per module |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for size in sizes:
        tach = results[size]["tach"]["cpu"]
        for name in [*rows, "Django start-up"]:
            value = results[size][name]
            wall = "-" if value["wall"] != value["wall"] else f"{value['wall']:.3f}"
            shown = f"**{name}**" if name.startswith("gate") else name
            lines.append(
                f"| {size} | {int(value['files'])} | {shown} | {wall} | {value['cpu']:.3f} | "
                f"{value['cpu'] / tach:.2f}x | {value['cpu'] / size * 1000:.2f} |"
            )
    lines += [
        "",
        "## Growth",
        "",
        "CPU ms per module at each size (linear growth keeps it flat or falling, as the fixed start-up is spread out)",
        "and the CPU ms each added module costs between the smallest and the largest size.",
        "",
        "| variant | " + " | ".join(f"{s} modules" for s in sizes) + " | ms per added module |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " | ---: |",
    ]
    for name in rows:
        cpus = [results[s][name]["cpu"] for s in sizes]
        slope = (cpus[-1] - cpus[0]) / (sizes[-1] - sizes[0]) * 1000 if len(sizes) > 1 else float("nan")
        lines.append(f"| {name} | " + " | ".join(f"{c / s * 1000:.2f}" for c, s in zip(cpus, sizes, strict=True)) + f" | {slope:.2f} |")
    lines += ["", "## Verdict", ""]
    for size in sizes:
        by = results[size]
        warm = by["gate"]["cpu"] / by["tach"]["cpu"]
        cold = by["gate (cold)"]["cpu"] / by["tach"]["cpu"]
        lines.append(
            f"* {size} modules: the whole gate takes {warm:.2f}x the CPU time of `tach check` warm and {cold:.2f}x cold "
            f"(target ≤ {TARGET}x: {'met' if warm <= TARGET else 'missed'} warm, {'met' if cold <= TARGET else 'missed'} cold); "
            f"`lint-imports` alone {by['lint-imports']['cpu'] / by['tach']['cpu']:.2f}x warm, "
            f"{by['lint-imports (cold)']['cpu'] / by['tach']['cpu']:.2f}x cold."
        )
    if len(sizes) > 1:
        for name in ("gate", "gate (cold)", "tach"):
            cpus = [results[s][name]["cpu"] for s in sizes]
            steps = [(cpus[i + 1] - cpus[i]) / (sizes[i + 1] - sizes[i]) * 1000 for i in range(len(sizes) - 1)]
            lines.append(f"* {name}: CPU ms per added module between successive sizes " + ", ".join(f"{x:.2f}" for x in steps) + ".")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 25 and 100, 5 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--sizes", default=None, help="comma-separated module counts (default 25,50,100,200)")
    parser.add_argument("--legacy", action="store_true", help="also time the 104-contract file Seams generated before")
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    sizes = [int(s) for s in (args.sizes or ("25,100" if args.quick else "25,50,100,200")).split(",")]
    rounds = args.rounds or (5 if args.quick else 11)
    if not (BIN / "tach").exists():
        raise SystemExit(f"tach is not installed in {BIN}: `pip install -e '.[bench]'` (make bench-boundaries does it).")
    load_start = _load()
    with tempfile.TemporaryDirectory(prefix="seams-bench-boundaries-") as tmp:
        results = {size: measure(size, rounds, Path(tmp), args.legacy) for size in sizes}
    text = report(results, rounds, load_start, _load(), args.legacy)
    Path(args.output).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
