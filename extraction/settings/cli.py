"""``manage.py``'s entry point: a settings mistake is one line naming the variable, not a traceback.

A settings module that refuses its environment raises ``ConfigurationError`` (``Env``'s typed reads)
or Django's ``ImproperlyConfigured`` (``SECRET_KEY``, the rate limits). Django's command line lets
either escape as a traceback, whatever the command (``check``, ``runserver``, ``migrate``), so the
settings are loaded here first and a refusal is printed as ``ConfigurationError: <message>`` with
exit status 2 (``--traceback`` still shows the traceback). The monolith's ``manage.py`` and each
generated service's call it; under Celery's command line (``celery -A app worker``, where Celery
loads the settings while it parses the worker's options) Seams' fix-up does the same.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["execute_from_command_line", "load_settings"]

#: The exit status of a refused configuration (a usage error, as argparse exits).
EXIT_CONFIGURATION = 2


def execute_from_command_line(argv: Sequence[str]) -> None:
    from django.core.management import execute_from_command_line as django_execute

    load_settings(traceback="--traceback" in argv)
    django_execute(list(argv))


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
