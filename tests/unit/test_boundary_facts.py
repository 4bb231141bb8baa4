"""The source facts behind ``lint-imports`` (``boundaries.check_project``) and ``manage.py check``:
read through one screen, parsed at most once between the two, and never trusted from the cache
when a file may have changed.

Each test writes a two-module project under its own package names (``mods``, ``decl``), so grimp
does not find this project's ``modules`` and ``contracts`` on ``sys.path`` instead.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from contracts.kernel.boundaries import check_project
from contracts.kernel.factcache import FactCache, read_source
from contracts.kernel.sourcefacts import KNOWN_PACKAGES, worth_reading

APPS = """\
from decl.{me} import {Me}
from decl.kernel import ModuleConfig


class {Me}Config(ModuleConfig):
    name = "mods.{me}"
    label = "{me}"
    provides = [{Me}]
    consumes = []
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    files = {
        "decl/__init__.py": "",
        "decl/kernel/__init__.py": "def use(contract): ...\n\n\nclass ModuleConfig: ...\n",
        "mods/__init__.py": "",
    }
    for me in ("alpha", "beta"):
        files[f"decl/{me}.py"] = f"class {me.title()}: ...\n"
        files[f"mods/{me}/__init__.py"] = ""
        files[f"mods/{me}/apps.py"] = APPS.format(me=me, Me=me.title())
        files[f"mods/{me}/models.py"] = "VALUE = 1\n"
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.chdir(root)
    return root


def rules(root: Path, **options: object) -> list[str]:
    violations = check_project(root, modules_package="mods", contracts_package="decl", **options)  # type: ignore[arg-type]
    return sorted(f"{v.rule}: {v.headline}" for v in violations)


def write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text))


def test_a_use_written_with_a_space_before_the_bracket_is_read(project: Path) -> None:
    """``use (Beta)`` is the same call as ``use(Beta)``; the old text screen looked for 'use(' only."""
    write(
        project / "mods" / "alpha" / "services.py",
        """\
        from decl.kernel import use
        from decl.beta import Beta


        def price():
            return use (Beta)
        """,
    )
    assert "undeclared-use: alpha calls use(Beta) but does not consume it" in rules(project)


def test_a_file_rewritten_with_the_same_size_and_time_is_read_again(project: Path) -> None:
    """A cached file is trusted only if it had not changed for a while when it was read: here it is
    rewritten at once, with the same size and its old modification time put back."""
    models = project / "mods" / "alpha" / "models.py"
    write(models, "from decl.kernel import use\nfrom decl.alpha import Alpha\nX = use(Alpha)\n")
    assert rules(project, cache_dir=".cache") == []
    before = models.stat()
    leak = "from decl.kernel import use\nfrom decl.beta import Beta\nX = use(Beta)\n"
    leak = leak[:-1].ljust(before.st_size - 1) + "\n"  # the same size
    models.write_text(leak)
    os.utime(models, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert "undeclared-use: alpha calls use(Beta) but does not consume it" in rules(project, cache_dir=".cache")


def test_lint_and_check_parse_each_file_once_between_them(project: Path) -> None:
    """lint-imports parses the files that could call use/publish (and apps.py, for the manifest) and
    records the files neither half needs; check, sharing the cache, reads none of them again; a
    second run parses nothing."""
    services = project / "mods" / "alpha" / "services.py"
    write(services, "from decl.kernel import use\nfrom decl.alpha import Alpha\n\n\ndef f():\n    return use(Alpha)\n")
    cache_dir = project / ".cache"
    old = 1_000_000_000  # files older than the racy window, so that cached facts are trusted
    for path in project.rglob("*.py"):
        os.utime(path, ns=(old, old))

    lint = FactCache(cache_dir, racy_seconds=0)
    assert rules(project, facts_cache=lint) == []
    assert lint.parsed == 1  # services.py: the only file that calls anything
    lint.save()

    check = FactCache(cache_dir, racy_seconds=0)
    screen = ("module", KNOWN_PACKAGES | {"decl", "mods"}, 2, "alpha")  # what manage.py check screens for here
    for path in sorted((project / "mods" / "alpha").glob("*.py")):
        name = "mods.alpha" + ("" if path.stem == "__init__" else f".{path.stem}")
        check.facts(
            str(path), name, is_package=path.stem == "__init__", kernel="decl.kernel", screen=screen,
            worth_parsing=lambda source: worth_reading(source, project=screen[1], leaving=2, own="alpha"),
        )
    assert check.read == 0  # services.py and apps.py (parsed for the manifest) came from lint, models.py is quiet
    check.save()

    again = FactCache(cache_dir, racy_seconds=0)
    assert rules(project, facts_cache=again) == []
    assert again.parsed == 0


def test_the_facts_of_a_deleted_file_are_dropped(project: Path) -> None:
    services = project / "mods" / "alpha" / "services.py"
    write(services, "from decl.kernel import use\nfrom decl.alpha import Alpha\nX = use(Alpha)\n")
    first = FactCache(project / ".cache", racy_seconds=0)
    rules(project, facts_cache=first)
    first.save()
    assert str(services) in FactCache(project / ".cache").entries
    services.unlink()
    second = FactCache(project / ".cache", racy_seconds=0)
    rules(project, facts_cache=second)
    second.save()
    assert str(services) not in FactCache(project / ".cache").entries


@pytest.mark.parametrize("raw", [b"", b"x = 1\n", b"a\r\nb\rc\n", "caf\u00e9 = 1\n".encode(), b"y" * 200_000])
def test_a_source_is_read_as_text_mode_reads_it(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "f.py"
    path.write_bytes(raw)
    with open(path, encoding="utf-8") as handle:
        expected = handle.read()
    assert read_source(str(path), len(raw)) == expected
    assert read_source(str(path), 10) == expected  # a stale size reads the whole file all the same


def test_a_warm_run_reads_no_file_and_an_edited_manifest_is_read_again(project: Path) -> None:
    services = project / "mods" / "alpha" / "services.py"
    write(services, "from decl.kernel import use\nfrom decl.beta import Beta\n\n\ndef f():\n    return use(Beta)\n")
    old = 1_000_000_000
    for path in project.rglob("*.py"):
        os.utime(path, ns=(old, old))
    first = FactCache(project / ".cache", racy_seconds=0)
    assert "undeclared-use: alpha calls use(Beta) but does not consume it" in rules(project, facts_cache=first)
    first.save()

    warm = FactCache(project / ".cache", racy_seconds=0)
    assert "undeclared-use: alpha calls use(Beta) but does not consume it" in rules(project, facts_cache=warm)
    assert (warm.read, warm.changed) == (0, False)  # apps.py's manifest came from the cache too

    apps = project / "mods" / "alpha" / "apps.py"
    apps.write_text(apps.read_text().replace("from decl.alpha import Alpha", "from decl.alpha import Alpha\nfrom decl.beta import Beta").replace("consumes = []", "consumes = [Beta]"))
    os.utime(apps, ns=(old, old))
    edited = FactCache(project / ".cache", racy_seconds=0)
    assert rules(project, facts_cache=edited) == []
