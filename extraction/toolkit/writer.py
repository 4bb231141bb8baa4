"""Write a generated service to disk, idempotently, reporting each file.

* a new file is **created**; a file whose content is already right is left alone (**unchanged**);
* a file the toolkit wrote before and nobody touched since is **updated** when its content changes;
* a file changed by hand since the toolkit wrote it (or that it never wrote) is **kept**: it is
  not overwritten unless ``force`` (the report says so);
* nothing is ever deleted.

What the toolkit last wrote is remembered in ``.seams-extract.json`` at the service's root (path ->
SHA-256 of the generated content). With ``dry_run`` nothing is written and the report says what
would happen.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

MANIFEST = ".seams-extract.json"

CREATED, UPDATED, UNCHANGED, KEPT = "created", "updated", "unchanged", "kept"
DRY_RUN_WORDS = {CREATED: "would create", UPDATED: "would update", UNCHANGED: "unchanged", KEPT: "would keep"}
KEPT_NOTE = "(changed by hand since it was generated; not overwritten, --force overwrites)"


@dataclass(frozen=True)
class GeneratedFile:
    """One file of the service: its path relative to the service root and its content."""

    path: str
    content: bytes
    executable: bool = False


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class Writer:
    def __init__(
        self,
        root: Path,
        *,
        dry_run: bool = False,
        force: bool = False,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.root = root
        self.dry_run = dry_run
        self.force = force
        self.echo = echo
        self.manifest_path = root / MANIFEST
        self.manifest: dict[str, str] = self._read_manifest()

    def _read_manifest(self) -> dict[str, str]:
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.get("files", {}).items()} if isinstance(data, dict) else {}

    def status_of(self, file: GeneratedFile) -> str:
        target = self.root / file.path
        if not target.exists():
            return CREATED
        current = target.read_bytes()
        if current == file.content:
            return UNCHANGED
        if self.force or self.manifest.get(file.path) == digest(current):
            return UPDATED
        return KEPT

    def write_all(self, files: Sequence[GeneratedFile]) -> Counter[str]:
        """Write every file (or say what would happen); returns the count per status."""
        counts: Counter[str] = Counter()
        width = len(str(len(files)))
        manifest = dict(self.manifest)
        for number, file in enumerate(files, 1):
            status = self.status_of(file)
            counts[status] += 1
            word = DRY_RUN_WORDS[status] if self.dry_run else status
            note = f"  {KEPT_NOTE}" if status == KEPT else ""
            self.echo(f"  [{number:>{width}}/{len(files)}] {word:<12} {file.path}{note}")
            if status in (CREATED, UPDATED):
                manifest[file.path] = digest(file.content)
                if not self.dry_run:
                    self._write(self.root / file.path, file.content, file.executable)
            elif status == UNCHANGED:
                manifest[file.path] = digest(file.content)
        if not self.dry_run and manifest != self.manifest:
            text = json.dumps({"generator": "manage.py extract_module", "files": dict(sorted(manifest.items()))}, indent=1)
            self._write(self.manifest_path, (text + "\n").encode(), False)
            self.manifest = manifest
        return counts

    @staticmethod
    def _write(target: Path, content: bytes, executable: bool) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(content)
            os.chmod(temporary, 0o755 if executable else 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def summary(counts: Counter[str], *, dry_run: bool) -> str:
    total = sum(counts.values())
    words = DRY_RUN_WORDS if dry_run else {s: s for s in DRY_RUN_WORDS}
    parts = ", ".join(f"{counts.get(status, 0)} {words[status]}" for status in (CREATED, UPDATED, UNCHANGED, KEPT))
    return f"{total} files: {parts}"
