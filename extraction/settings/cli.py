"""``manage.py``'s entry point: a settings mistake is one line naming the variable, not a traceback.

A settings module that refuses its environment raises ``ConfigurationError`` (``Env``'s typed reads)
or Django's ``ImproperlyConfigured`` (``SECRET_KEY``, the rate limits). Django's command line lets
either escape as a traceback, whatever the command (``check``, ``runserver``, ``migrate``), so the
settings are loaded here first and a refusal is printed as ``ConfigurationError: <message>`` with
exit status 2 (``--traceback`` still shows the traceback). The monolith's ``manage.py`` and each
generated service's call it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["execute_from_command_line"]

#: The exit status of a refused configuration (a usage error, as argparse exits).
EXIT_CONFIGURATION = 2


def execute_from_command_line(argv: Sequence[str]) -> None:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line as django_execute

    from contracts.kernel import ConfigurationError

    try:
        settings.INSTALLED_APPS  # noqa: B018 - loads the settings module
    except (ConfigurationError, ImproperlyConfigured) as exc:
        if "--traceback" in argv:
            raise
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        sys.exit(EXIT_CONFIGURATION)
    django_execute(list(argv))
