"""Celery's Django fix-up, with database connections kept between tasks as Django keeps them between requests.

Celery's own fix-up (``celery.fixups.django``, 5.6 and 5.7: the change that honoured ``CONN_MAX_AGE``
was reverted upstream, celery/celery#9824) *closes every database connection before and after every
task*. A worker then pays a new connection per task and per database alias: on PostgreSQL a TCP
connect, authentication and ``search_path`` (about 3-5 ms on loopback), on SQLite a file open and
the ``PRAGMA`` init command. An outbox delivery touches two aliases (the publisher's outbox and the
subscriber's tables), so it paid that twice; ``CONN_MAX_AGE`` in the settings changed nothing.

This fix-up is Celery's, except that around a task it does what Django does around a request
(``django.db.close_old_connections``): a connection is closed only if it outlived ``CONN_MAX_AGE``,
was left in a transaction or with autocommit changed, or had an error and fails its health check;
with ``CONN_HEALTH_CHECKS`` a kept connection is checked before its first use in the next task.
``CONN_MAX_AGE = 0`` (Django's default) still closes after every task, as before. Connections a
prefork child inherits are still dropped at fork (Celery's ``worker_process_init`` handling is kept).

One difference from Django's per-request rule: a kept connection's health check (``CONN_HEALTH_CHECKS``,
on whenever connections are kept: a ``SELECT 1`` round trip before the connection's first use) is
run at most once per :attr:`KeptConnectionsWorkerFixup.HEALTH_CHECK_INTERVAL` (1 s), not before
every task. A worker draining a backlog runs hundreds of tasks a second, and each paid a ping per
database alias it touched (an outbox delivery two: the outbox and the handler's database) for a
connection it had used a millisecond before. After a pause longer than the interval the first task
checks again, as Django would; a connection the server dropped within the last second fails that
task's query instead (the outbox retries it; the error makes the fix-up drop the connection).

A task that starts on the thread whose previous task ended less than ``HEALTH_CHECK_INTERVAL`` ago
skips the pass before it (``task_prerun``): the pass after that previous task (``task_postrun``) has
just applied every rule to this thread's connections (they are the thread's own: nothing used them
since), a health check would not be due yet, and the pass costs a lookup per database alias in
Django's thread-local connection handler (about 2% of a Celery-extracted shop worker's CPU, py-spy).
The one rule that can change in between is ``CONN_MAX_AGE``: such a connection is closed after this
task instead of before it, at most the interval past its age.

Install it instead of the built-in one: ``Celery("app", fixups=["extraction.celery.fixup:fixup"])``.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
import weakref
from typing import Any

from celery import Celery
from celery.exceptions import FixupWarning
from celery.fixups.django import ERR_NOT_INSTALLED, DjangoFixup, DjangoWorkerFixup, _verify_django_version

__all__ = ["KeptConnectionsFixup", "KeptConnectionsWorkerFixup", "fixup"]


class KeptConnectionsWorkerFixup(DjangoWorkerFixup):
    """The worker side: connections are kept or dropped between tasks by Django's own rules."""

    #: Seconds between two health checks of one kept connection (see the module's docstring).
    HEALTH_CHECK_INTERVAL = 1.0

    def __init__(self, app: Celery) -> None:
        super().__init__(app)
        # When each kept connection (one wrapper per alias and thread) was last let be checked.
        self._checked_at: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        # Per thread: when close_database last ran there (see on_task_prerun).
        self._passed = threading.local()

    def on_task_prerun(self, sender: Any, **kwargs: Any) -> None:
        """Before a task: Celery's pass, unless this thread's last pass (after its previous task) is
        less than ``HEALTH_CHECK_INTERVAL`` old (see the module's docstring)."""
        if time.monotonic() - getattr(self._passed, "at", float("-inf")) < self.HEALTH_CHECK_INTERVAL:
            return
        super().on_task_prerun(sender, **kwargs)

    def close_database(self, **kwargs: Any) -> None:
        """Before and after each task (and at worker start): close the connections Django would
        close at the end of a request; keep the rest, and let a kept one be health-checked again
        before its next use only once per ``HEALTH_CHECK_INTERVAL``."""
        now = time.monotonic()
        self._passed.at = now
        for connection in self._db.connections.all(initialized_only=True):
            try:
                # Django's rule resets health_check_done every time; keep what it was unless a
                # check is due (or the connection had an error: then Django checks it right here).
                checked_at = self._checked_at.get(connection)
                due = checked_at is None or now - checked_at >= self.HEALTH_CHECK_INTERVAL or connection.errors_occurred
                done = connection.health_check_done
                connection.close_if_unusable_or_obsolete()
                if connection.connection is None:
                    self._checked_at.pop(connection, None)  # closed: the next connection starts afresh
                elif due:
                    self._checked_at[connection] = now  # checked before its next use, as Django does
                else:
                    connection.health_check_done = done
            except self.interface_errors:
                pass
            except self.DatabaseError as exc:  # as Celery's: a connection already gone is not an error
                text = str(exc)
                if "closed" not in text and "not connected" not in text:
                    raise


class KeptConnectionsFixup(DjangoFixup):
    """Celery's Django fix-up with :class:`KeptConnectionsWorkerFixup` as its worker side."""

    @property
    def worker_fixup(self) -> DjangoWorkerFixup:
        if self._worker_fixup is None:
            self._worker_fixup = KeptConnectionsWorkerFixup(self.app)
        return self._worker_fixup

    @worker_fixup.setter
    def worker_fixup(self, value: DjangoWorkerFixup) -> None:
        self._worker_fixup = value


def fixup(app: Celery, env: str = "DJANGO_SETTINGS_MODULE") -> KeptConnectionsFixup | None:
    """Install the fix-up when Django settings are configured (as ``celery.fixups.django.fixup`` does).

    Under Celery's command line (``celery -A app worker``), also load the settings first (a refused
    variable is one line, exit 2) and let ``-P/--pool`` win over ``CELERY_WORKER_POOL``
    (``extraction/celery/pool.py``): every Seams Celery app installs this fix-up.
    """
    if "celery.bin.celery" in sys.modules and os.environ.get(env):
        # Celery's command line: a settings mistake is one line naming the variable, not the traceback
        # Celery would print from deep in its option parsing (extraction/settings/cli.py).
        from extraction.settings.cli import load_settings

        load_settings()
    if "celery.bin.worker" in sys.modules:
        from .pool import command_line_pool_wins

        command_line_pool_wins()
    if os.environ.get(env) and "django" not in app.loader_cls.lower():
        try:
            import django
        except ImportError:  # pragma: no cover - Django is a dependency of this project
            warnings.warn(FixupWarning(ERR_NOT_INSTALLED), stacklevel=2)
            return None
        _verify_django_version(django)
        return KeptConnectionsFixup(app).install()
    return None
