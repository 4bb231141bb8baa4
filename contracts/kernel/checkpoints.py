"""WAL checkpoints of the modules' SQLite files, off the request's path: a background thread of each process.

In WAL mode every commit appends the pages it dirtied to the ``-wal`` file; a *checkpoint* copies
them back into the database file (and, with ``synchronous=NORMAL``, syncs both), after which the
next writer starts the WAL over. SQLite's default runs that checkpoint inside the commit that takes
the WAL past ``wal_autocheckpoint`` pages (1000): a few milliseconds, paid by whichever request or
handler happened to commit then, about one commit in a hundred for an event's transactions, a good
share of the per-event p99 (see docs/events.md, "SQLite settings").

Here that work moves to a thread (``seams-checkpoints``) that wakes every ``INTERVAL`` seconds and,
for each SQLite file this process wrote to since its last pass (the ``-wal`` file changed), runs a
``PASSIVE`` checkpoint on a connection of its own. ``PASSIVE`` never waits for readers or writers
and never takes the write lock: requests keep committing meanwhile, and while the thread copies
pages SQLite releases the GIL. ``wal_autocheckpoint`` is raised to ``AUTOCHECKPOINT`` pages
(``databases.sqlite_options``), so the commit path checkpoints only as a fallback: in a process
that runs no thread (it never opened a connection with these settings), or if the thread falls far
behind. The cost of the fallback is a WAL file that may grow to that many pages before a commit
checkpoints it.

Nothing about durability changes: a checkpoint only copies what the WAL already holds.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("seams.sqlite")

#: ``PRAGMA wal_autocheckpoint`` of the modules' files: the commit path's fallback (pages of 4 KiB:
#: 32 MiB of WAL at most before a commit checkpoints).
AUTOCHECKPOINT = 8000
#: How often (seconds) the thread looks for WAL files that changed.
INTERVAL = 0.1
#: The init command's marker of a file whose checkpoints are this thread's.
MARKER = f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT}"


@dataclass
class _File:
    path: str
    seen: tuple[int, int] = (0, 0)  # the -wal file's (mtime_ns, size) at the last checkpoint
    checkpoints: int = 0  # passes that copied frames (read by tests)
    connection: sqlite3.Connection | None = field(default=None, repr=False)
    inode: int = 0  # of the file ``connection`` opened: a file deleted and made again gets a new connection


class Checkpointer:
    """The files to checkpoint and the thread that does it."""

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
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
        """One pass: a PASSIVE checkpoint of each watched file whose WAL changed since the last
        one; returns (path, frames in the WAL, frames checkpointed) of each checkpointed file."""
        with self._lock:
            files = list(self._files.values())
        done = []
        for file in files:
            try:
                stat = os.stat(file.path + "-wal")
                inode = os.stat(file.path).st_ino
            except FileNotFoundError:
                continue
            seen = (stat.st_mtime_ns, stat.st_size)
            if seen == file.seen:
                continue
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
            file.seen = seen
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
