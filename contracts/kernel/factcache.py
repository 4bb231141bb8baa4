"""The source facts of each file, kept between runs and shared by ``lint-imports`` and ``manage.py check``.

Both halves of the boundary gate read the same files: the ``seams`` import-linter contract for the
``use()``/``publish()``/``@subscribe`` calls, ``manage.py check`` for those and every import and
model name (seams.E002/E006/E013/E015/E016). Parsing is what costs, so each file is parsed at most
once, by whichever runs first, and the result is kept in ``<cache dir>/seams-facts.marshal``
(``.import_linter_cache/`` beside manage.py, where import-linter keeps its own graph cache).

A file that a screen (``sourcefacts.mentions_calls`` / ``worth_reading``) shows cannot hold a fact
that matters is not parsed at all; the cache remembers under which screens it was quiet, so a
screen that asks for more (a top-level package added since) reads it again.

An entry is trusted only while the file's ``stat`` (size, modification and change times, inode) is
unchanged *and* the file had not changed for ``RACY_SECONDS`` when it was read: a file rewritten
with the same size within the clock's granularity would otherwise look unchanged (git's "racy
clean" problem). The change time cannot be set back by ``touch`` or ``os.utime``.

The file is written with ``marshal`` (plain tuples, read back in a few milliseconds for thousands
of files; pickling dataclasses took ten times as long) under a format number and the Python version.
"""

from __future__ import annotations

import marshal
import os
import sys
import time
from collections.abc import Callable, Hashable
from dataclasses import fields
from pathlib import Path

from .sourcefacts import FileFacts, Reference, StaticManifest, file_facts

FILENAME = "seams-facts.marshal"
#: Bumped whenever ``FileFacts`` or the screens change meaning: an older file is ignored.
FORMAT = (2, sys.version_info[:2])
RACY_SECONDS = 2.0

#: The screen ``lint-imports`` applies: only files that could call use/publish/subscribe/get_model.
CALLS = ("calls",)

# An entry: (stamp, dotted name, read at (ns), facts as tuples or None, screens it was quiet under).
Stamp = tuple[int, int, int, int]
Entry = tuple[Stamp, str, int, tuple | None, frozenset]


def read_source(path: str, size: int = 1 << 16) -> str:
    """The text of a source file as ``open(path, encoding="utf-8").read()`` gives it (newlines
    translated), at less than half the cost: one ``os.read`` for a file of ``size`` bytes."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        chunks = [os.read(descriptor, size + 1)]
        while chunks[-1]:
            chunks.append(os.read(descriptor, 1 << 16))
    finally:
        os.close(descriptor)
    text = b"".join(chunks).decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def stamp_of(path: str) -> Stamp:
    return _stamp(os.stat(path))


def _stamp(result: os.stat_result) -> Stamp:
    return (result.st_size, result.st_mtime_ns, result.st_ctime_ns, result.st_ino)


def _flat(facts: FileFacts) -> tuple:
    refs = [[(r.target, r.text, r.line) for r in kind] for kind in (facts.uses, facts.publishes, facts.subscribes, facts.model_lookups, facts.model_strings)]
    return (list(facts.imports), *refs, facts.syntax_error)


def _unflat(flat: tuple) -> FileFacts:
    imports, *refs, syntax_error = flat
    uses, publishes, subscribes, lookups, strings = ([Reference(*r) for r in kind] for kind in refs)
    return FileFacts([tuple(i) for i in imports], uses, publishes, subscribes, lookups, strings, syntax_error)


class FactCache:
    """``facts(path, ...)``: the file's ``FileFacts``, or None if the screen shows it holds none.

    ``directory`` None keeps the facts for this process only (``--no-cache``, unit tests).
    ``racy_seconds``: how long a file must have been left alone, when read, for its facts to be
    trusted later (tests that age their files set 0).
    """

    def __init__(self, directory: str | Path | None, *, racy_seconds: float = RACY_SECONDS) -> None:
        self.path = Path(directory) / FILENAME if directory else None
        self.racy_ns = int(racy_seconds * 1e9)
        self.entries: dict[str, Entry] = {}
        #: ``apps.py`` path -> (stamp, read at, dotted name, the StaticManifest's fields or None).
        self.manifests: dict[str, tuple[Stamp, int, str, tuple | None]] = {}
        self.changed = False
        #: Files parsed and files read by this instance (what the tests and the bench look at).
        self.parsed = 0
        self.read = 0
        self._built: dict[str, FileFacts] = {}
        #: Files asked about this run: ``save`` drops the entries of the others (deleted or renamed files).
        self.seen: set[str] = set()
        if self.path is not None:
            try:
                stored = marshal.loads(self.path.read_bytes())
                if isinstance(stored, tuple) and len(stored) == 3 and stored[0] == FORMAT:
                    self.entries, self.manifests = dict(stored[1]), dict(stored[2])
            except (OSError, EOFError, ValueError, TypeError):
                self.entries, self.manifests = {}, {}

    def facts(
        self,
        path: str,
        module_name: str,
        *,
        is_package: bool,
        kernel: str,
        screen: Hashable,
        worth_parsing: Callable[[str], bool],
        implied_by: Callable[[Hashable], bool] = lambda quiet_under: False,
        quiet_also: Callable[[str], Hashable | None] | None = None,
    ) -> FileFacts | None:
        """The facts of ``path`` (dotted name ``module_name``), parsed only if ``worth_parsing(source)``.

        ``screen`` names the test ``worth_parsing`` applies; a file found quiet under ``screen``
        (or under a screen for which ``implied_by`` is true, one that looks for at least as much)
        is not read again while it is unchanged. ``quiet_also(source)`` tries a screen that looks
        for at least as much first: if it names one, the file is quiet under both without
        ``worth_parsing`` (``lint-imports`` tries ``manage.py check``'s, so that most files take one
        pass and check need not read them again).
        """
        stamp = _stamp(os.stat(path))
        self.seen.add(path)
        entry = self.entries.get(path)
        if entry is not None and entry[0] == stamp and entry[1] == module_name and stamp[2] < entry[2] - self.racy_ns:
            if entry[3] is not None:
                built = self._built.get(path)
                if built is None:
                    built = self._built[path] = _unflat(entry[3])
                return built
            quiet = entry[4]
            if screen in quiet or any(implied_by(q) for q in quiet):
                return None
        else:
            quiet = frozenset()
        read_at = time.time_ns()
        self.read += 1
        self.changed = True
        try:
            source = read_source(path, stamp[0])
        except UnicodeDecodeError as exc:  # reported as unreadable (seams.E002), never a traceback
            facts = FileFacts(syntax_error=f"not UTF-8 text: {exc.reason} at byte {exc.start}")
            self.entries[path] = (stamp, module_name, read_at, _flat(facts), frozenset())
            return facts
        also = quiet_also(source) if quiet_also is not None else None
        if also is not None:  # quiet under a screen that looks for more: quiet under this one too
            self.entries[path] = (stamp, module_name, read_at, None, frozenset(quiet | {screen, also}))
            return None
        if worth_parsing(source):
            facts = file_facts(source, module_name, is_package=is_package, kernel=kernel)
            self.parsed += 1
            self.entries[path] = (stamp, module_name, read_at, _flat(facts), frozenset())
            self._built[path] = facts
            return facts
        self.entries[path] = (stamp, module_name, read_at, None, frozenset(quiet | {screen}))
        return None

    def store(
        self, path: str, module_name: str, stamp: Stamp, read_at_ns: int, facts: FileFacts,
        *, manifest: tuple[StaticManifest | None] | None = None,
    ) -> None:
        """Keep facts worked out elsewhere from the file's text (``stamp``/``read_at_ns`` taken before
        reading it), and for an ``apps.py`` the static manifest read from it (``manifest``: a 1-tuple,
        its element None if the file declares none)."""
        self.entries[path] = (stamp, module_name, read_at_ns, _flat(facts), frozenset())
        self._built[path] = facts
        self.seen.add(path)
        if manifest is not None:
            found = manifest[0]
            flat = None if found is None else tuple(getattr(found, f.name) for f in fields(StaticManifest))
            self.manifests[path] = (stamp, read_at_ns, module_name, flat)
        self.changed = True

    def manifest(self, path: str, package: str, stamp: Stamp) -> tuple[StaticManifest | None] | None:
        """The static manifest kept for ``apps.py`` at ``path`` (a 1-tuple), or None if it must be read again."""
        kept = self.manifests.get(path)
        if kept is None or kept[0] != stamp or kept[2] != f"{package}.apps" or not stamp[2] < kept[1] - self.racy_ns:
            return None
        if path not in self.entries or self.entries[path][0] != stamp:
            return None
        self.seen.add(path)
        return (None if kept[3] is None else StaticManifest(*kept[3]),)

    def save(self) -> None:
        """Write the cache (atomically: a concurrent reader sees the old file or the new one)."""
        if self.path is None:
            return
        if len(self.seen) < len(self.entries) or len(self.seen) < len(self.manifests):
            self.entries = {path: entry for path, entry in self.entries.items() if path in self.seen}
            self.manifests = {path: kept for path, kept in self.manifests.items() if path in self.seen}
            self.changed = True
        if not self.changed:
            return
        import tempfile  # only when something changed: most runs read the cache and write nothing

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".seams-facts-")
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(marshal.dumps((FORMAT, self.entries, self.manifests)))
            os.replace(temporary, self.path)
        except (OSError, ValueError):
            pass  # a read-only checkout, or something marshal cannot write: the facts are simply not kept
        self.changed = False
