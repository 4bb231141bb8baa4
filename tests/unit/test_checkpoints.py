"""WAL checkpoints of the modules' SQLite files run in a background thread (contracts/kernel/checkpoints.py).

Pinned: a module's file (``databases.sqlite_options``) is watched as soon as a connection to it
opens, its commits no longer checkpoint at SQLite's default 1000 pages, and the thread's pass
copies the WAL back into the file; a file configured otherwise is left to SQLite. A WAL still
being written is checkpointed only once ``min_frames`` frames wait in it (each checkpoint that
copies the whole WAL costs the next writer a sync of the WAL header), a quiet one at once.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from django.db.backends.sqlite3.base import DatabaseWrapper

from contracts.kernel.checkpoints import (
    MIN_FRAMES,
    Checkpointer,
    _File,
    checkpointer,
    on_connection_created,
    waiting_frames,
)
from contracts.kernel.databases import module_databases
from tests.support.waiting import eventually
from tests.unit.test_databases import _django_defaults


def _wrapper(tmp_path: Path, **options: object) -> DatabaseWrapper:
    settings_dict = module_databases(["orders"], database_url=None, sqlite_dir=tmp_path)["orders"]
    settings_dict["OPTIONS"].update(options)
    return DatabaseWrapper({**_django_defaults(), **settings_dict}, alias="orders_probe")


def _write(db: sqlite3.Connection, rows: int) -> None:
    """Commits that dirty pages in WAL mode, with no checkpoint of their own (the connection stays
    open: the last one to close a file checkpoints it and removes its WAL)."""
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("CREATE TABLE IF NOT EXISTS t (x TEXT)")
    for i in range(rows):
        db.execute("INSERT INTO t VALUES (?)", (str(i) * 500,))


def test_a_pass_checkpoints_each_changed_wal_once(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    try:
        _write(db, 50)
        watcher = Checkpointer(interval=3600, min_frames=0)  # its thread never gets to it: passes are run here
        watcher.watch(str(path))
        [(name, frames, copied)] = watcher.run_once()
        assert name == str(path) and frames > 0 and copied == frames
        assert watcher.run_once() == []  # nothing written since
        _write(db, 5)
        assert [copied > 0 for _, _, copied in watcher.run_once()] == [True]
    finally:
        db.close()


def _waiting(path: Path) -> int | None:
    return waiting_frames(_File(str(path)))


def test_the_frames_waiting_are_read_from_the_wal_index(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    assert _waiting(path) is None  # no file yet
    db = sqlite3.connect(path, isolation_level=None)
    try:
        _write(db, 50)
        waiting = _waiting(path)
        busy, frames, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert waiting == frames == copied > 0
        assert _waiting(path) == 0
        _write(db, 5)
        assert 0 < (_waiting(path) or 0) < waiting
    finally:
        db.close()


def _shm_locks(path: Path) -> int:
    """POSIX locks this process holds on ``path``'s -shm file (Linux's /proc/locks: ``... POSIX
    ADVISORY READ|WRITE pid major:minor:inode start end``)."""
    inode = (path.parent / (path.name + "-shm")).stat().st_ino
    held = 0
    for line in Path("/proc/locks").read_text().split("\n"):
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "POSIX" and fields[4] == str(os.getpid()) and fields[5].endswith(f":{inode}"):
            held += 1
    return held


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="counts the process's locks through Linux's /proc/locks")
def test_a_pass_keeps_the_locks_sqlite_holds_on_the_shm_file(tmp_path: Path) -> None:
    """Closing a descriptor of the -shm file would drop SQLite's locks on it (POSIX locks are the
    process's): another process would then truncate the file under this one's mapping (SIGBUS)."""
    path = tmp_path / "m.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    try:
        _write(db, 20)
        held = _shm_locks(path)
        assert held > 0  # SQLite's own, on the wal-index
        watcher = Checkpointer(interval=3600, min_frames=10)
        watcher.watch(str(path))
        for _ in range(3):
            watcher.run_once()
            _write(db, 5)
        assert _shm_locks(path) == held
    finally:
        db.close()


def test_a_wal_still_written_waits_for_min_frames_and_a_quiet_one_is_checkpointed(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    try:
        _write(db, 20)
        watcher = Checkpointer(interval=3600, min_frames=200)
        watcher.watch(str(path))
        assert watcher.run_once() == []  # written since the last pass, fewer than 200 frames wait
        _write(db, 20)
        assert watcher.run_once() == [] and 0 < (_waiting(path) or 0) < 200
        [(_, frames, copied)] = watcher.run_once()  # nothing written since: quiet, checkpointed
        assert copied == frames and _waiting(path) == 0 and watcher.checkpoints(str(path)) == 1
        assert watcher.run_once() == []  # quiet, nothing waits
        _write(db, 20)
        assert watcher.run_once() == []
        _write(db, 200)  # past min_frames: checkpointed although still written
        [(_, frames, copied)] = watcher.run_once()
        assert copied == frames >= 200 and watcher.checkpoints(str(path)) == 2
    finally:
        db.close()


def test_a_wal_always_written_is_checkpointed_after_max_passes(tmp_path: Path) -> None:
    """A WAL is synced only at checkpoints (``synchronous=NORMAL``): under writes too few to reach
    ``min_frames``, ``max_passes`` passes bound how long commits wait unsynced."""
    path = tmp_path / "m.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    try:
        watcher = Checkpointer(interval=3600, min_frames=10_000, max_passes=3)
        watcher.watch(str(path))
        done = []
        for _ in range(7):
            _write(db, 2)
            done.append(len(watcher.run_once()))
        assert done == [0, 0, 1, 0, 0, 1, 0]
    finally:
        db.close()


def test_the_default_threshold_is_a_quarter_of_the_commit_paths_fallback() -> None:
    from contracts.kernel.checkpoints import AUTOCHECKPOINT

    assert Checkpointer().min_frames == MIN_FRAMES == AUTOCHECKPOINT // 4


def test_a_module_file_is_watched_once_a_connection_opens(tmp_path: Path, django_db_blocker: pytest.FixtureRequest) -> None:
    wrapper = _wrapper(tmp_path)
    try:
        with django_db_blocker.unblock():
            wrapper.ensure_connection()
            on_connection_created(sender=type(wrapper), connection=wrapper)  # as the kernel's signal receiver does
            with wrapper.cursor() as cursor:
                cursor.execute("CREATE TABLE t (x TEXT)")
                for i in range(100):
                    cursor.execute("INSERT INTO t VALUES (%s)", [str(i) * 500])
        path = str(Path(wrapper.settings_dict["NAME"]).resolve())
        # the thread's pass comes within INTERVAL; a busy machine may delay it
        eventually("a checkpoint of the module file", lambda: checkpointer.checkpoints(path) > 0, every=0.02)
    finally:
        wrapper.close()


def test_a_file_configured_otherwise_is_left_to_sqlite(tmp_path: Path, django_db_blocker: pytest.FixtureRequest) -> None:
    wrapper = _wrapper(tmp_path, init_command="PRAGMA journal_mode=WAL")
    try:
        with django_db_blocker.unblock():
            wrapper.ensure_connection()
            on_connection_created(sender=type(wrapper), connection=wrapper)
        assert str(Path(wrapper.settings_dict["NAME"]).resolve()) not in checkpointer._files
    finally:
        wrapper.close()


def _deleted_shm_descriptors(path: Path) -> int:
    """This process's open descriptors of a removed ``-shm`` file of ``path`` (Linux's /proc/self/fd)."""
    gone = f"{path}-shm (deleted)"
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == gone
        except OSError:  # the listing's own descriptor, closed by now
            pass
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="counts the process's descriptors through Linux's /proc/self/fd")
def test_a_shm_file_made_anew_does_not_leak_the_old_ones_descriptor(tmp_path: Path) -> None:
    """The last connection to a file removes its -shm file and the next one makes it anew: the
    descriptor of the removed one is closed (no lock of SQLite's is on a file nobody can open)."""
    path = tmp_path / "m.sqlite3"
    watcher = Checkpointer(interval=3600, min_frames=10**9)  # reads the wal-index, never checkpoints
    watcher.watch(str(path))
    for _ in range(3):
        db = sqlite3.connect(path, isolation_level=None)
        try:
            _write(db, 5)
            held = _shm_locks(path)
            watcher.run_once()
            assert _shm_locks(path) == held  # the live -shm file's descriptor stays open
        finally:
            db.close()  # the last connection: the -shm file goes
        assert not (tmp_path / "m.sqlite3-shm").exists()
    assert _deleted_shm_descriptors(path) <= 1  # the last one's, until a pass sees its file gone
    watcher.run_once()
    assert _deleted_shm_descriptors(path) == 0
