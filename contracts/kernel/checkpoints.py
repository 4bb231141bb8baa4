"""WAL checkpoints of the modules' SQLite files, off the request's path: a background thread of each process.

In WAL mode every commit appends the pages it dirtied to the ``-wal`` file; a *checkpoint* copies
them back into the database file (and, with ``synchronous=NORMAL``, syncs both), after which the
next writer starts the WAL over. SQLite's default runs that checkpoint inside the commit that takes
the WAL past ``wal_autocheckpoint`` pages (1000): a few milliseconds, paid by whichever request or
handler happened to commit then, about one commit in a hundred for an event's transactions, a good
share of the per-event p99 (see docs/events.md, "SQLite settings").

Here that work moves to a thread (``seams-checkpoints``) that wakes every ``INTERVAL`` seconds and,
for each SQLite file whose WAL holds frames not yet copied back, runs a ``PASSIVE`` checkpoint on a
connection of its own once at least ``MIN_FRAMES`` of them wait, or the WAL went quiet since the
last pass, or ``MAX_PASSES`` passes held it back. ``PASSIVE`` never waits for readers or writers
and never takes the write lock: requests keep committing meanwhile, and while the thread copies
pages SQLite releases the GIL. ``wal_autocheckpoint`` is raised to ``AUTOCHECKPOINT`` pages
(``databases.sqlite_options``), so the commit path checkpoints only as a fallback: in a process
that runs no thread (it never opened a connection with these settings), or if the thread falls far
behind. The cost of the fallback is a WAL file that may grow to that many pages before a commit
checkpoints it.

Why not at every pass the WAL changed (as until 2026-12): each checkpoint that copies the whole WAL
makes the next writer start the WAL over, and that writer (a request's ``COMMIT``) syncs the new WAL
header (SQLite does, with ``synchronous=NORMAL`` too); each pass that copies syncs the WAL, and the
database file too when it copied everything; and a page written many times between two
checkpoints is copied once, so fewer, larger checkpoints copy less. Counted on the inline event
bench (``fdatasync`` calls, one process): at ~80 events a second the request thread synced 104-129
times per 800 events (a restart after nearly every pass), now 6-8; flat out (6000 events, three
runs) it syncs 10-13 times either way (fewer restarts, more commit-path fallbacks), the thread
57-85 -> 15-16.
Why a quiet WAL and ``MAX_PASSES`` still checkpoint: with ``synchronous=NORMAL`` the WAL is synced
only at checkpoints, so their spacing is how many commits a power loss can take (docs/events.md
promises about the last second): ``MAX_PASSES`` passes of ``INTERVAL``, at most.
What the thread does *not* cause: SQLite busy waits. ``PASSIVE`` takes no write lock, and on that
bench no ``BEGIN IMMEDIATE`` of the request slept in SQLite's busy handler (zero ``usleep`` calls
in 18 000 events); its slow ones wait, CPU idle, for the GIL and the two shared cores.

The frames waiting are read from the ``-shm`` file's wal-index header (``mxFrame`` less
``nBackfill``, https://sqlite.org/walformat.html), without a lock: a torn read only changes when
the next checkpoint comes, and an unreadable header means "checkpoint if the WAL changed". The
``-shm`` descriptor is closed only once its file is removed (``waiting_frames``: closing it
earlier would drop SQLite's locks).

A checkpoint only copies what the WAL already holds; what its spacing changes is how long commits
stay unsynced with ``synchronous=NORMAL`` (at most ``MAX_PASSES`` passes, about a second).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("seams.sqlite")

#: ``PRAGMA wal_autocheckpoint`` of the modules' files: the commit path's fallback (pages of 4 KiB:
#: 32 MiB of WAL at most before a commit checkpoints).
AUTOCHECKPOINT = 8000
#: How often (seconds) the thread looks for WAL files that changed.
INTERVAL = 0.1
#: Frames (pages) waiting in a WAL that make a pass checkpoint it while it is still being written:
#: a quarter of the fallback, 8 MiB.
MIN_FRAMES = 2000
#: Passes that may hold back the checkpoint of a WAL with frames waiting (``INTERVAL`` each: about
#: a second of commits unsynced, at most, before a power loss could take them).
MAX_PASSES = 10
#: The init command's marker of a file whose checkpoints are this thread's.
MARKER = f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT}"


@dataclass
class _File:
    path: str
    seen: tuple[int, int] = (0, 0)  # the -wal file's (mtime_ns, size) at the last pass
    checkpoints: int = 0  # passes that copied frames (read by tests)
    held: int = 0  # passes in a row that left frames waiting in the WAL
    connection: sqlite3.Connection | None = field(default=None, repr=False)
    inode: int = 0  # of the file ``connection`` opened: a file deleted and made again gets a new connection
    shm: int = -1  # a descriptor of the -shm file, never closed (see ``waiting_frames``)
    shm_inode: int = 0


class Checkpointer:
    """The files to checkpoint and the thread that does it."""

    def __init__(self, interval: float = INTERVAL, min_frames: int = MIN_FRAMES, max_passes: int = MAX_PASSES) -> None:
        self.interval = interval
        self.min_frames = min_frames
        self.max_passes = max_passes
        self._lock = threading.Lock()
        self._files: dict[str, _File] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def watch(self, path: str) -> None:
        """Checkpoint ``path`` from now on (and start the thread if it is not running)."""
        with self._lock:
            if path not in self._files:
                self._files[path] = _File(path)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="seams-checkpoints", daemon=True)
                self._thread.start()

    def checkpoints(self, path: str) -> int:
        with self._lock:
            file = self._files.get(path)
            return file.checkpoints if file else 0

    def run_once(self) -> list[tuple[str, int, int]]:
        """One pass: a PASSIVE checkpoint of each watched file whose WAL holds ``min_frames``
        frames not yet copied back, or holds some and did not change since the last pass, or held
        some through ``max_passes`` passes; returns
        (path, frames in the WAL, frames checkpointed) of each checkpointed file."""
        with self._lock:
            files = list(self._files.values())
        done = []
        for file in files:
            try:
                stat = os.stat(file.path + "-wal")
                inode = os.stat(file.path).st_ino
            except FileNotFoundError:  # no WAL (the last connection removed it and the -shm file)
                _drop_removed_shm(file)
                continue
            seen = (stat.st_mtime_ns, stat.st_size)
            quiet, file.seen = seen == file.seen, seen
            waiting = waiting_frames(file)
            if waiting is None:  # no readable header: as if every frame waited since the WAL changed
                if quiet:
                    continue
            elif waiting <= 0:
                file.held = 0
                continue
            elif waiting < self.min_frames and not quiet and file.held + 1 < self.max_passes:
                file.held += 1
                continue
            file.held = 0
            try:
                if file.connection is not None and file.inode != inode:
                    file.connection.close()
                    file.connection = None
                if file.connection is None:
                    file.connection = sqlite3.connect(file.path, timeout=1.0, check_same_thread=False, isolation_level=None)
                    file.inode = inode
                busy, frames, copied = file.connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as exc:  # another checkpoint runs, or the file went: the next pass tries again
                log.debug("No checkpoint of %s this time: %s", file.path, exc)
                continue
            if copied > 0:
                file.checkpoints += 1
            done.append((file.path, frames, copied))
        return done

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # never let the thread die: commits would checkpoint only at the fallback
                log.exception("WAL checkpoint pass failed")

    def _forget(self) -> None:
        """In a forked child: the thread is gone; the parent's connections are not this process's."""
        self._lock = threading.Lock()
        self._files, self._thread, self._stop = {}, None, threading.Event()


def waiting_frames(file: _File) -> int | None:
    """Frames of ``file``'s WAL not yet copied back into it, read from the wal-index header in its
    ``-shm`` file (native byte order: ``mxFrame`` at byte 16 of each of the header's two copies,
    ``nBackfill`` at byte 96); None when there is no such file or its two copies differ (a writer
    was updating it).

    The descriptor is opened once per ``-shm`` file and kept while it has a name: closing any descriptor of a
    file drops every POSIX lock the *process* holds on it, SQLite's on the ``-shm`` included; another
    process then takes this one's mapping for stale and truncates the file under it (SIGBUS, seen
    in tests/e2e/test_embedded_concurrency.py). Once the ``-shm`` file it opened is removed (the last
    connection to a database removes it; the next one makes a new file) the descriptor is closed
    (``_drop_removed_shm``), at the first pass that finds the file gone or made anew."""
    try:
        inode = os.stat(file.path + "-shm").st_ino
    except OSError:
        _drop_removed_shm(file)
        return None
    try:
        if inode != file.shm_inode or file.shm < 0:
            _drop_removed_shm(file)
            file.shm, file.shm_inode = os.open(file.path + "-shm", os.O_RDONLY), inode
        head = os.pread(file.shm, 100, 0)
    except OSError:
        return None
    if len(head) < 100 or head[:48] != head[48:96] or not head[12]:
        return None
    (max_frame,) = struct.unpack_from("=I", head, 16)
    (backfilled,) = struct.unpack_from("=I", head, 96)
    return int(max_frame) - int(backfilled)


def _drop_removed_shm(file: _File) -> None:
    """Close ``file``'s ``-shm`` descriptor if its file has no name left (removed: the path is gone
    or names a new file). Its POSIX locks go with it, but no connection can open a removed file, so
    no other process takes a mapping of it for stale; one still named is kept (``waiting_frames``)."""
    if file.shm < 0:
        return
    try:
        removed = os.fstat(file.shm).st_nlink == 0
    except OSError:
        removed = True
    if removed:
        try:
            os.close(file.shm)
        except OSError:
            pass
        file.shm, file.shm_inode = -1, 0


#: This process's checkpointer.
checkpointer = Checkpointer()
os.register_at_fork(after_in_child=checkpointer._forget)


def on_connection_created(sender: Any, connection: Any, **_: Any) -> None:
    """``connection_created``: a module's SQLite file (``databases.sqlite_options``) is checkpointed
    by the thread. Other SQLite databases (in memory, or configured otherwise) keep SQLite's own."""
    if connection.vendor != "sqlite" or MARKER not in connection.settings_dict.get("OPTIONS", {}).get("init_command", ""):
        return
    name = str(connection.settings_dict.get("NAME", ""))
    if connection.is_in_memory_db() or not name:
        return
    checkpointer.watch(os.path.abspath(name))
