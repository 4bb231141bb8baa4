"""How long does the boundary gate take next to ``tach check``, and how does it grow?

Run ``python -m bench.boundaries [--quick] [--rounds N] [--sizes 25,50,100,200]`` (or ``make
bench-boundaries``). For each size it writes a synthetic project (``bench/synthetic.py``: 22 files a
module, about 2,200 for 100 modules) into a temporary directory, checks that every tool passes on
it and fails once a module imports another module's models (so the tools really check the same
thing), then times, in rounds whose order rotates so that other load on the machine weighs on all
alike:

* ``gate``: ``lint-imports importlinter.ini``, the one ``seams`` contract: the whole import rule
  over every package plus the source checks (``use()``/``publish()`` against the manifests, call
  cycles), with import-linter's cache warm, as on a developer's machine;
* ``gate (cold)``: the same with ``--no-cache`` (grimp and the source facts re-read), as in a fresh
  CI clone;
* ``tach``: ``tach check`` with the same per-module dependencies (``tach.toml``);
* ``legacy``: ``lint-imports legacy.ini``, the per-module configuration Seams generated before
  (independence plus one ``forbidden`` contract a module; warm cache), for comparison.

It reports medians of wall time and of the child's CPU time (user + system: less sensitive to other
processes on a shared machine), the ratios to ``tach``, and the time per module across sizes (the
gate must grow linearly). Writes ``bench/RESULTS-boundaries.md``.
"""

from __future__ import annotations

import argparse
import datetime
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

VARIANTS = {
    "gate": [str(BIN / "lint-imports"), "importlinter.ini", "--no-logo"],
    "gate (cold)": [str(BIN / "lint-imports"), "importlinter.ini", "--no-logo", "--no-cache"],
    "tach": [str(BIN / "tach"), "check"],
    "legacy": [str(BIN / "lint-imports"), "legacy.ini", "--no-logo"],
}
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


def _env(cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "DJANGO_SETTINGS_MODULE"}}
    env["PYTHONPATH"] = str(cwd)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def sanity(project: Path) -> None:
    """Every tool passes on the clean project and fails on a module importing another's models."""
    for name, command in VARIANTS.items():
        code, _, _, output = run(command, project)
        if code != 0:
            raise SystemExit(f"{name} fails on the clean synthetic project:\n{output[-3000:]}")
    leak = project / "modules" / "m001" / "leak.py"
    leak.write_text(LEAK.format(victim="m002"))
    try:
        for name, command in VARIANTS.items():
            code, _, _, output = run(command, project)
            if code == 0:
                raise SystemExit(f"{name} passes although modules.m001 imports modules.m002.models:\n{output[-3000:]}")
    finally:
        leak.unlink()
        for command in VARIANTS.values():  # warm the caches again on the clean tree
            run(command, project)


def measure(size: int, rounds: int, workdir: Path) -> dict[str, dict[str, float]]:
    project = workdir / f"project-{size}"
    files = write_project(project, size)
    print(f"{size} modules: {files} module files; checking that every tool sees a leak ...", flush=True)
    sanity(project)
    samples: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in VARIANTS}
    names = list(VARIANTS)
    for number in range(rounds):
        order = names[number % len(names):] + names[: number % len(names)]
        for name in order:
            code, wall, cpu, output = run(VARIANTS[name], project)
            if code != 0:
                raise SystemExit(f"{name} failed during the timing:\n{output[-3000:]}")
            samples[name]["wall"].append(wall)
            samples[name]["cpu"].append(cpu)
        print(f"  round {number + 1}/{rounds}", flush=True)
    shutil.rmtree(project)
    return {
        name: {"wall": statistics.median(s["wall"]), "cpu": statistics.median(s["cpu"]), "files": files}
        for name, s in samples.items()
    }


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


def report(results: dict[int, dict[str, dict[str, float]]], rounds: int, load_start: str, load_end: str) -> str:
    from importlib.metadata import version

    lines = [
        "# Boundary gate vs `tach check`",
        "",
        f"Written by `make bench-boundaries` (`python -m bench.boundaries`) on {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
        f"commit {_commit()}; {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load_start} at the start and {load_end} at the end (the machine is shared; CPU time is the steadier measure).",
        f"import-linter {version('import-linter')}, grimp {version('grimp')}, tach {version('tach')}. "
        f"Synthetic projects from `bench/synthetic.py` ({FILES_PER_MODULE} files a module); {rounds} rounds, order rotating, medians.",
        "",
        "The **gate** is `lint-imports importlinter.ini`: the one `seams` contract covers every package's imports and",
        "the source checks (`use()`/`publish()` against the manifests, call cycles). `tach` runs with the same",
        "per-module dependencies. `legacy` is the 104-contract file Seams generated before (for comparison).",
        "Each tool was first shown to pass on the clean project and to fail on `modules.m001` importing `modules.m002.models`.",
        "",
        "| modules | files | variant | wall (s) | CPU (s) | wall / tach | CPU / tach |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for size, by_variant in sorted(results.items()):
        tach = by_variant["tach"]
        for name, value in by_variant.items():
            lines.append(
                f"| {size} | {int(value['files'])} | {name} | {value['wall']:.3f} | {value['cpu']:.3f} | "
                f"{value['wall'] / tach['wall']:.2f}x | {value['cpu'] / tach['cpu']:.2f}x |"
            )
    lines += ["", "## Growth", "", "| variant | " + " | ".join(f"{s} modules" for s in sorted(results)) + " | ms per added module (CPU, first to last size) |",
              "| --- | " + " | ".join("---:" for _ in results) + " | ---: |"]
    sizes = sorted(results)
    for name in VARIANTS:
        cpus = [results[s][name]["cpu"] for s in sizes]
        slope = (cpus[-1] - cpus[0]) / (sizes[-1] - sizes[0]) * 1000 if len(sizes) > 1 else float("nan")
        lines.append(f"| {name} | " + " | ".join(f"{c:.3f} s" for c in cpus) + f" | {slope:.2f} |")
    lines += ["", "## Verdict", ""]
    for size in sizes:
        warm = results[size]["gate"]["cpu"] / results[size]["tach"]["cpu"]
        cold = results[size]["gate (cold)"]["cpu"] / results[size]["tach"]["cpu"]
        lines.append(
            f"* {size} modules: the gate takes {warm:.2f}x the CPU time of `tach check` warm and {cold:.2f}x cold "
            f"(target ≤ {TARGET}x: {'met' if warm <= TARGET else 'missed'} warm, {'met' if cold <= TARGET else 'missed'} cold)."
        )
    if len(sizes) > 1:
        gate = [results[s]["gate"]["cpu"] for s in sizes]
        steps = [(gate[i + 1] - gate[i]) / (sizes[i + 1] - sizes[i]) * 1000 for i in range(len(sizes) - 1)]
        lines += [
            "",
            "Growth of the gate, CPU ms per added module between successive sizes: "
            + ", ".join(f"{x:.2f}" for x in steps)
            + " (a roughly constant cost per module is linear growth; the legacy file's grows with the square of the "
            "number of modules). `tach check` costs less per module, so the ratio rises with size past 100 modules.",
        ]
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 25 and 100, 5 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--sizes", default=None, help="comma-separated module counts (default 25,50,100,200)")
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    sizes = [int(s) for s in (args.sizes or ("25,100" if args.quick else "25,50,100,200")).split(",")]
    rounds = args.rounds or (5 if args.quick else 11)
    if not (BIN / "tach").exists():
        raise SystemExit(f"tach is not installed in {BIN}: `pip install -e '.[bench]'` (make bench-boundaries does it).")
    load_start = _load()
    with tempfile.TemporaryDirectory(prefix="seams-bench-boundaries-") as tmp:
        results = {size: measure(size, rounds, Path(tmp)) for size in sizes}
    text = report(results, rounds, load_start, _load())
    Path(args.output).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
