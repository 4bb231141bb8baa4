"""The settings code the monolith and every generated service share.

The monolith's ``app/settings.py`` and a service's ``service/settings.py`` (written by
``extract_module``, which copies ``extraction/`` into the service, this package with it) both call
these functions, so a variable means the same everywhere and a fix reaches every process: the
service no longer carries a copy of the monolith's settings that drifts from it. Each settings file
keeps only what is its own: its name, its modules, its apps and URLs, its bindings and trust.

Each function returns the settings of one concern as a dict; a settings module takes them with
``globals().update(...)`` (Django reads a settings module's upper-case names, however they were
set), and a later assignment in the file overrides one of them::

    import os
    from pathlib import Path

    from extraction import settings as seams

    env = seams.Env(os.environ)
    DEBUG = env.bool("DEBUG", False)
    VAR_DIR = env.path("SEAMS_VAR_DIR", Path("var"))
    SEAMS_MODULES = env.list("SEAMS_MODULES", "catalog")
    DATABASES = seams.databases(env, SEAMS_MODULES, var_dir=VAR_DIR)
    globals().update(seams.celery_settings(env, default_queue="seams.catalog"))

What each group sets, and from which variables, is in its docstring:

* ``Env``: typed reads; blank is unset, spaces are stripped, words are taken in any case, and a
  malformed or out-of-range value is a ``ConfigurationError`` naming the variable and what it takes
  (``manage.py`` prints that one line, exit 2: ``extraction.settings.cli``);
* ``installed_apps``, ``middleware``, ``templates``: the admin and the gateway are the monolith's;
* ``databases``: one alias per module, PostgreSQL schemas or SQLite files (pragmas included);
* ``django_defaults``: the module router, UTC, static files, e-mail;
* ``secret_key``, ``public_api_security``: tokens, rate limits, proxies, cookies, HTTPS;
* ``seams_defaults``: contract validation, the outbox, transports, the broker probe, logs;
* ``celery_settings``: broker, results, timeouts, the relay's schedule.
"""

from .celery import celery_settings
from .env import Env
from .framework import INSTALLED_APPS, databases, django_defaults, installed_apps, middleware, templates
from .seams import TRANSPORTS, seams_defaults
from .security import public_api_security, secret_key

__all__ = [
    "INSTALLED_APPS",
    "TRANSPORTS",
    "Env",
    "celery_settings",
    "databases",
    "django_defaults",
    "installed_apps",
    "middleware",
    "public_api_security",
    "secret_key",
    "seams_defaults",
    "templates",
]
