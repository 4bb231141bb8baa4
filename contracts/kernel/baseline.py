"""The boundary baseline: today's violations, recorded so that only new ones fail (adopting Seams).

A team moving an existing Django project under ``modules/`` starts with imports across apps,
foreign keys between them and ``get_model`` look-ups. ``manage.py modules baseline`` records them in
``seams-baseline.json`` (committed, beside ``manage.py``); from then on

* a recorded violation passes (``manage.py check`` and ``lint-imports`` leave it out);
* a new one fails as usual;
* a recorded one that no longer occurs fails as stale (``seams.E017``), so the file only shrinks:
  ``manage.py modules baseline`` then removes it (and never adds an entry unless told ``--add``).

This is Packwerk's ``package_todo.yml`` for Seams. An entry names the kind of violation, the module,
where (a file relative to the project, or a model field) and what it reaches, never a line number,
so that editing a file does not invalidate its entries. Plain JSON, one entry per line, sorted: it
reviews well in a diff and needs nothing installed. Django-free, so that the ``seams``
import-linter contract can read it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FILENAME = "seams-baseline.json"

#: What can be recorded: imports of other project code (seams.E013 / foreign-import), relations
#: across modules (seams.E001), another module's model by name (seams.E002).
KINDS = ("import", "relation", "model-reference")


@dataclass(frozen=True, order=True)
class Entry:
    kind: str
    module: str
    where: str
    reaches: str

    def describe(self) -> str:
        return f"{self.kind} {self.module}: {self.where} -> {self.reaches}"


def reached(name: str, modules_package: str = "modules") -> str:
    """How an imported name is recorded: ``modules.catalog`` for a module's code, else its top-level package."""
    parts = name.split(".")
    if parts[0] == modules_package and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def load(path: Path) -> set[Entry]:
    """The recorded entries (none if the file does not exist); a malformed file is an error."""
    if not path.exists():
        return set()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {Entry(e["kind"], e["module"], e["where"], e["reaches"]) for e in data["violations"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a Seams baseline ({exc}). Rewrite it with `manage.py modules baseline`.") from exc


def render(entries: Iterable[Entry]) -> str:
    rows = [
        json.dumps({"kind": e.kind, "module": e.module, "where": e.where, "reaches": e.reaches}, sort_keys=False)
        for e in sorted(set(entries))
    ]
    body = ",\n".join(f"    {row}" for row in rows)
    return (
        "{\n"
        '  "about": "Boundary violations recorded by `manage.py modules baseline`: they pass until fixed; a fixed one '
        'must be removed (run the command again). Never add to this file by hand.",\n'
        f'  "violations": [\n{body}\n  ]\n'
        "}\n"
    ) if rows else '{\n  "about": "No recorded boundary violations.",\n  "violations": []\n}\n'


def relative(path: str | Path, root: Path) -> str:
    """A file as recorded: relative to the project, with forward slashes."""
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()
