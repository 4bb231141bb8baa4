"""The Django part every Seams process shares: apps, middleware, templates, databases, defaults.

The monolith and a generated service differ only in what they add: the monolith has the Django
admin (with its messages framework), its composition root ``app`` and the gateway that forwards an
extracted module's public paths; a service has none of these. Everything else, and the order of
the middleware, is the same, so it is written once here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contracts.kernel.databases import SQLITE_SYNCHRONOUS, module_databases

from .env import Env

__all__ = ["INSTALLED_APPS", "databases", "django_defaults", "installed_apps", "middleware", "templates"]

#: The apps of every Seams process, before its own and its modules.
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",  # the operator console's staff login
    "django.contrib.staticfiles",
    "ninja",
    "contracts.kernel",
    "extraction",  # its management commands: module_data (and extract_module in the monolith)
    "extraction.console",  # the operator console (/console/), staff only
]
#: ``DATABASE_URL``'s schemes (dj-database-url's names for PostgreSQL); unset is SQLite per module.
POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")
#: The Django admin needs its messages framework: app, middleware and context processor.
ADMIN_APPS = ["django.contrib.admin", "django.contrib.messages"]


def installed_apps(modules: list[str], *, admin: bool, own: tuple[str, ...] = ()) -> list[str]:
    """``INSTALLED_APPS``: the admin when asked, the shared apps, the process's own, then ``modules.<label>``."""
    return [*(ADMIN_APPS if admin else []), *INSTALLED_APPS, *own, *[f"modules.{label}" for label in modules]]


def middleware(*, gateway: bool, admin: bool) -> list[str]:
    """``MIDDLEWARE`` in the order the guarantees need (metrics first, the API's guards before sessions)."""
    return [
        "contracts.kernel.telemetry.middleware.MetricsMiddleware",  # first: it counts the gateway's answers too
        "extraction.paths.WsgiPathMiddleware",  # PATH_INFO in WSGI's form for tracing: /api/☃ is a 404, not a 500
        "extraction.hosts.BadHostMiddleware",  # a Host outside ALLOWED_HOSTS: JSON 400, not Django's HTML page
        "django.middleware.security.SecurityMiddleware",
        "extraction.publicapi.middleware.JsonOnlyMiddleware",  # /api/ bodies: application/json or 415/413
        "extraction.internal.InternalSurfaceMiddleware",  # /internal/<module>/ only where SEAMS_INTERNAL says
        # /api/<module>/ of an extracted module -> its service (the monolith's; a service serves its own)
        *(["extraction.gateway.GatewayMiddleware"] if gateway else []),
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        *(["django.contrib.messages.middleware.MessageMiddleware"] if admin else []),
        "django.middleware.clickjacking.XFrameOptionsMiddleware",  # the console's pages are never framed
    ]


def templates(*, admin: bool) -> list[dict[str, Any]]:
    """``TEMPLATES``: the apps' own templates (the console's, the admin's)."""
    processors = [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        *(["django.contrib.messages.context_processors.messages"] if admin else []),
    ]
    return [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [],
            "APP_DIRS": True,
            "OPTIONS": {"context_processors": processors},
        }
    ]


def databases(env: Env, modules: list[str], *, var_dir: Path) -> dict[str, dict[str, Any]]:
    """``DATABASES``: ``default`` plus one alias per module (contracts.kernel.databases).

    ``DATABASE_URL=postgres://...``: every alias on that database, each confined to its own schema,
    connections kept for ``DATABASE_CONN_MAX_AGE`` seconds (60, 0 closes them after each request or
    task; health-checked). Unset or empty: one SQLite
    file per alias under ``var_dir``, WAL with ``SEAMS_SQLITE_SYNCHRONOUS`` (NORMAL or FULL, any case;
    FULL trades commit speed for surviving a power loss with every commit, docs/events.md) and a busy
    timeout of ``SEAMS_SQLITE_TIMEOUT`` seconds (20, more than 0).
    """
    return module_databases(
        modules,
        database_url=env.url("DATABASE_URL", "", schemes=POSTGRES_SCHEMES) or None,
        sqlite_dir=var_dir,
        conn_max_age=env.int("DATABASE_CONN_MAX_AGE", 60, at_least=0),
        sqlite_synchronous=env.choice("SEAMS_SQLITE_SYNCHRONOUS", "NORMAL", SQLITE_SYNCHRONOUS),
        sqlite_timeout=env.float("SEAMS_SQLITE_TIMEOUT", 20.0, above=0),
    )


def django_defaults(env: Env, *, var_dir: Path) -> dict[str, Any]:
    """Django settings with one answer everywhere: the module router, UTC, static files, e-mail."""
    return {
        "DATABASE_ROUTERS": ["contracts.kernel.router.ModuleRouter"],
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "LANGUAGE_CODE": "en-us",
        "TIME_ZONE": "UTC",
        "USE_I18N": True,
        "USE_TZ": True,
        "STATIC_URL": "static/",
        "STATIC_ROOT": var_dir / "static",
        "EMAIL_BACKEND": env.dotted("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"),
        "DEFAULT_FROM_EMAIL": env.str("DEFAULT_FROM_EMAIL", "shop@seams.example"),
    }
