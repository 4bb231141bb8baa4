"""``celery worker -P <pool>`` wins over ``CELERY_WORKER_POOL``, as a command line wins over configuration.

Celery's ``-P/--pool`` defaults to ``prefork``, and since 5.0.x (celery/celery#6711) a ``prefork``
from the command line gives way to the ``worker_pool`` setting: Celery's option type cannot tell an
explicit ``-P prefork`` from its own default. Seams always sets ``worker_pool`` (``threads`` unless
``CELERY_WORKER_POOL`` says otherwise, ``extraction/settings/celery.py``), so the documented
``celery -A app worker -P prefork`` for CPU-bound handlers ran threads (the banner said
``concurrency: 1 (thread)``), while ``-P solo`` was obeyed.

:func:`command_line_pool_wins` gives the worker command's ``--pool`` an option type that asks click
where the value came from (click records a parameter's source before converting its value, so that
a conversion can inspect it): typed on the command line, it is the pool; otherwise the setting is
(Celery's rule). Celery's command line also reads ``CELERY_WORKER_POOL`` itself (its
``auto_envvar_prefix``), bypassing the settings' check: ``CELERY_WORKER_POOL=Prefork`` stopped the
worker with click's "Invalid value for '-P'"; the setting's checked value is taken instead. Seams' fix-up
(``extraction/celery/fixup.py``), which the monolith's and every generated service's Celery app
install, calls it when Celery's command line is loaded (``celery.bin.worker`` imported): a web
process neither imports this nor changes anything.
"""

from __future__ import annotations

from typing import Any

import click
from celery import concurrency
from celery.bin.worker import WorkersPool, worker
from click.core import ParameterSource

__all__ = ["CommandLinePool", "command_line_pool_wins"]

class CommandLinePool(WorkersPool):
    """Celery's ``WorkersPool``, except that a pool given on the command line is the pool."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        source = ctx.get_parameter_source(param.name or "") if param is not None and ctx is not None else None
        if source is ParameterSource.COMMANDLINE and isinstance(value, str):
            return concurrency.get_implementation(click.Choice.convert(self, value, param, ctx))
        if source is ParameterSource.ENVIRONMENT and ctx is not None and ctx.obj.app.conf.worker_pool:
            # Celery's command line reads CELERY_<COMMAND>_<OPTION> (auto_envvar_prefix): CELERY_WORKER_POOL,
            # which the settings already read and checked (any case, blank is threads): take theirs.
            return concurrency.get_implementation(ctx.obj.app.conf.worker_pool)
        return super().convert(value, param, ctx)


def command_line_pool_wins() -> None:
    """Give ``celery worker``'s ``--pool`` the command-line-first type (idempotent)."""
    for param in worker.params:
        if param.name == "pool" and not isinstance(param.type, CommandLinePool):
            param.type = CommandLinePool()
