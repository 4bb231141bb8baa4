"""The Seams environment of one in-process bench: the same for every bench that sets Django up in
its own process on throwaway files, so that they measure the same project.

DEBUG is off, as in production (so a SECRET_KEY and token keys, from :mod:`bench.security`);
contract validation is off and logging quiet, as the bench measures the transport and the outbox,
not the validators or the log handlers. Whatever ``SEAMS_*``, ``CELERY_*`` or ``DATABASE_URL`` the
calling shell has is dropped: a bench never measures a developer's local overrides."""

from __future__ import annotations

import os
from pathlib import Path


def bench_environment(var_dir: Path, **extra: str) -> dict[str, str]:
    """The variables of a bench process whose SQLite files go to ``var_dir``; ``extra`` adds or
    replaces some (a ``DATABASE_URL``, a Celery broker, ``PYTHONPATH`` for its subprocesses)."""
    from bench.security import api_env

    return {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "0",
        "SEAMS_VALIDATE_CONTRACTS": "0",
        "SEAMS_VAR_DIR": str(var_dir),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "SEAMS_LOG_LEVEL": "WARNING",
        **api_env(),
        **extra,
    }


def enter(environment: dict[str, str], **here: str) -> None:
    """Make ``environment`` (plus ``here``, for this process only: e.g. its dispatch mode) this
    process's, set Django up and migrate every module's database."""
    for key in [k for k in os.environ if k.startswith(("SEAMS_", "CELERY_"))]:
        del os.environ[key]
    os.environ.pop("DATABASE_URL", None)
    os.environ.update({**environment, **here})
    import django

    django.setup()
    from contracts.kernel.databases import migrate_all

    migrate_all(verbosity=0)


__all__ = ["bench_environment", "enter"]
