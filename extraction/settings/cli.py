"""``manage.py``'s entry point: a settings mistake is one line naming the variable, not a traceback.

A settings module that refuses its environment raises ``ConfigurationError`` (``Env``'s typed reads)
or Django's ``ImproperlyConfigured`` (``SECRET_KEY``, the rate limits). Django's command line lets
either escape as a traceback, whatever the command (``check``, ``runserver``, ``migrate``), so the
settings are loaded here first and a refusal is printed as ``ConfigurationError: <message>`` with
exit status 2 (``--traceback`` still shows the traceback). The monolith's ``manage.py`` and each
generated service's call it; under Celery's command line (``celery -A app worker``, where Celery
loads the settings while it parses the worker's options) Seams' fix-up does the same, and so do the
WSGI and ASGI entry points (``load_settings_for_server``) under gunicorn and uvicorn.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["execute_from_command_line", "load_settings", "load_settings_for_server"]

#: The exit status of a refused configuration (a usage error, as argparse exits).
EXIT_CONFIGURATION = 2


def execute_from_command_line(argv: Sequence[str]) -> None:
    from django.core.management import execute_from_command_line as django_execute

    load_settings(traceback="--traceback" in argv)
    django_execute(list(argv))


#: gunicorn's exit status for an application that cannot load: its arbiter stops at once ("App failed
#: to load") instead of booting worker after worker.
EXIT_APP_LOAD_ERROR = 4


def load_settings_for_server() -> None:
    """``load_settings`` for a WSGI or ASGI entry point (``app/wsgi.py``, a service's ``wsgi.py``).

    Under gunicorn a settings refusal escaping the import is logged as "Exception in worker
    process" with its traceback, the worker exits and the arbiter halts with "Worker failed to
    boot". Raised as gunicorn's ``AppImportError`` instead, it is printed as its one line and the
    arbiter halts with "App failed to load"; anywhere else (uvicorn, another server, a script
    importing the module) it is the same one line on stderr and exit status 2. With
    ``SEAMS_TRACEBACK=1`` in the environment the refusal is raised as it is, traceback and all."""
    import os

    try:
        load_settings(traceback=True)
    except Exception as exc:
        from django.core.exceptions import ImproperlyConfigured

        from contracts.kernel import ConfigurationError

        if not isinstance(exc, ConfigurationError | ImproperlyConfigured) or os.environ.get("SEAMS_TRACEBACK"):
            raise
        line = f"{type(exc).__name__}: {exc}"
        if "gunicorn.arbiter" in sys.modules:
            from gunicorn.errors import AppImportError

            raise AppImportError(line) from None
        sys.stderr.write(line + "\n")
        sys.exit(EXIT_CONFIGURATION)


def load_settings(*, traceback: bool = False) -> None:
    """Load the settings module; a refusal is one line on stderr and exit status 2 (``traceback``:
    raise it instead). Also called by Seams' Celery fix-up under ``celery -A app worker|beat``."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from contracts.kernel import ConfigurationError

    try:
        settings.INSTALLED_APPS  # noqa: B018 - loads the settings module
    except (ConfigurationError, ImproperlyConfigured) as exc:
        if traceback:
            raise
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        sys.exit(EXIT_CONFIGURATION)
