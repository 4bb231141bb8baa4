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

Install it instead of the built-in one: ``Celery("app", fixups=["extraction.celery.fixup:fixup"])``.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from celery import Celery
from celery.exceptions import FixupWarning
from celery.fixups.django import ERR_NOT_INSTALLED, DjangoFixup, DjangoWorkerFixup, _verify_django_version

__all__ = ["KeptConnectionsFixup", "KeptConnectionsWorkerFixup", "fixup"]


class KeptConnectionsWorkerFixup(DjangoWorkerFixup):
    """The worker side: connections are kept or dropped between tasks by Django's own rules."""

    def close_database(self, **kwargs: Any) -> None:
        """Before and after each task (and at worker start): close the connections Django would
        close at the end of a request; keep the rest."""
        for connection in self._db.connections.all(initialized_only=True):
            try:
                connection.close_if_unusable_or_obsolete()
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
    """Install the fix-up when Django settings are configured (as ``celery.fixups.django.fixup`` does)."""
    if os.environ.get(env) and "django" not in app.loader_cls.lower():
        try:
            import django
        except ImportError:  # pragma: no cover - Django is a dependency of this project
            warnings.warn(FixupWarning(ERR_NOT_INSTALLED), stacklevel=2)
            return None
        _verify_django_version(django)
        return KeptConnectionsFixup(app).install()
    return None
