"""``celery -A app worker -P prefork`` runs prefork although the settings name a pool (threads by default).

Celery's ``-P`` defaults to ``prefork`` and gives way to the ``worker_pool`` setting when it reads
``prefork`` (celery/celery#6711: it cannot tell the default from an explicit ``-P prefork``), so the
documented ``-P prefork`` for CPU-bound handlers ran threads (a real worker's banner said
``concurrency: 1 (thread)``). Checked on the worker command's own parsing, as ``celery -A app worker``
parses its arguments (the app loaded by ``-A`` first, which installs Seams' fix-up).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery.bin.base import CLIContext
from celery.bin.worker import worker

from app.celery import celery_app
from extraction.celery import fixup
from extraction.celery.pool import CommandLinePool


def pool_of(argv: list[str], monkeypatch: pytest.MonkeyPatch, environ: dict[str, str] | None = None) -> str:
    """The pool class ``celery worker <argv>`` would run, by its module's name (prefork, thread, solo)."""
    for name, value in (environ or {}).items():
        monkeypatch.setenv(name, value)
    obj = CLIContext(app=celery_app, no_color=True, workdir=None, quiet=True)
    with worker.make_context("worker", list(argv), obj=obj, auto_envvar_prefix="CELERY_WORKER") as ctx:
        return ctx.params["pool"].__module__.rsplit(".", 1)[-1]


@pytest.fixture(autouse=True)
def seams_fixup_installed() -> Iterator[None]:
    """As under ``celery -A app worker``: celery.bin.worker is loaded when the app's fix-up runs."""
    fixup.fixup(celery_app)
    yield


@pytest.mark.parametrize(
    ("argv", "setting", "pool"),
    [
        ([], "threads", "thread"),  # no -P: the setting (Seams' default)
        (["-P", "prefork"], "threads", "prefork"),  # was thread
        (["--pool=prefork"], "threads", "prefork"),  # was thread
        (["-P", "solo"], "threads", "solo"),
        (["-P", "threads"], "prefork", "thread"),
        ([], "prefork", "prefork"),
        ([], "solo", "solo"),
    ],
)
def test_the_command_line_pool_wins_over_the_setting(argv: list[str], setting: str, pool: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(celery_app.conf, "worker_pool", setting)
    assert pool_of(argv, monkeypatch) == pool


def test_the_variable_celery_reads_itself_is_the_settings_checked_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """Celery's command line reads CELERY_WORKER_POOL as ``--pool`` (auto_envvar_prefix); the settings
    take it in any case, so must the worker (``Prefork`` was click's "Invalid value for '-P'")."""
    monkeypatch.setitem(celery_app.conf, "worker_pool", "prefork")  # what the settings made of " Prefork "
    assert pool_of([], monkeypatch, {"CELERY_WORKER_POOL": " Prefork "}) == "prefork"
    assert pool_of(["-P", "solo"], monkeypatch, {"CELERY_WORKER_POOL": " Prefork "}) == "solo"


def test_installing_twice_keeps_one_command_line_type() -> None:
    fixup.fixup(celery_app)
    (param,) = [p for p in worker.params if p.name == "pool"]
    assert type(param.type) is CommandLinePool
