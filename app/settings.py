"""Settings of the monolith, read from the environment (12-factor).

With no environment at all this runs embedded: one SQLite file per module under ``var/`` and
events delivered in-process. ``DATABASE_URL=postgres://...`` moves every module to PostgreSQL, one
schema per module.

What every Seams process shares (databases per module, the public API's security, the outbox,
Celery, logs) is built by ``extraction.settings``, which a generated service's settings call too;
each group's docstring lists its variables. This file says what is the monolith's own.
"""

import os
from pathlib import Path

from contracts.kernel.discovery import discover_modules
from extraction import settings as seams
from extraction.bindings import bindings_from_env, gateway_from_env
from extraction.identity.config import allowed_callers_from_env, identity_from_env
from extraction.internal import internal_from_env

BASE_DIR = Path(__file__).resolve().parent.parent
env = seams.Env(os.environ)

#: Off unless explicitly on: ``make run`` and the tests turn it on (DEBUG=true).
DEBUG = env.bool("DEBUG", False)
VAR_DIR = env.path("SEAMS_VAR_DIR", BASE_DIR / "var", create=True)
#: Required with DEBUG off (ImproperlyConfigured naming SECRET_KEY); under DEBUG a key generated into var/.
SECRET_KEY = seams.secret_key(env, debug=DEBUG, var_dir=VAR_DIR)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")

#: Every package under modules/ is a module; SEAMS_MODULES narrows the set (an extracted service).
SEAMS_DISCOVERED_MODULES = discover_modules(BASE_DIR / "modules")
SEAMS_MODULES = env.list("SEAMS_MODULES", choices=SEAMS_DISCOVERED_MODULES) or SEAMS_DISCOVERED_MODULES

#: The monolith has the Django admin; "app" is the composition root (its commands: seed_shop, dev_tokens).
INSTALLED_APPS = seams.installed_apps(SEAMS_MODULES, admin=True, own=("app",))
#: With the gateway: /api/<module>/ of an extracted module is forwarded to its service.
MIDDLEWARE = seams.middleware(gateway=True, admin=True)
TEMPLATES = seams.templates(admin=True)
ROOT_URLCONF = "app.urls"
WSGI_APPLICATION = "app.wsgi.application"
ASGI_APPLICATION = "app.asgi.application"

#: One alias per module: PostgreSQL schemas, or SQLite files under VAR_DIR (WAL; SEAMS_SQLITE_SYNCHRONOUS).
DATABASES = seams.databases(env, SEAMS_MODULES, var_dir=VAR_DIR)
globals().update(seams.django_defaults(env, var_dir=VAR_DIR))  # the module router, UTC, static files, e-mail
#: Tokens (SEAMS_API_JWKS_URL...), rate limits, trusted proxies, body limit, cookies, HTTPS (docs/security.md).
globals().update(seams.public_api_security(env, debug=DEBUG, var_dir=VAR_DIR))
#: Contract validation, the outbox (SEAMS_EVENT_*), transports, the broker probe, LOGGING.
globals().update(seams.seams_defaults(env, debug=DEBUG))
#: Celery; tasks with no queue of their own go to the monolith's workers' default queue.
globals().update(seams.celery_settings(env, default_queue="celery"))

# --- The monolith's place among the services ---------------------------------------------------
#: How each module's contracts are served, from SEAMS_BIND_<MODULE> (see extraction/bindings.py);
#: absent means in-process.
SEAMS_BINDINGS = bindings_from_env(env, SEAMS_DISCOVERED_MODULES)
#: The gateway: an extracted module's public paths forwarded to its service (extraction/gateway.py).
SEAMS_GATEWAY = gateway_from_env(env, SEAMS_DISCOVERED_MODULES)
#: Service identity: this process's name and key, and the services it accepts calls from
#: (extraction/identity, docs/security.md). With DEBUG off, no key refuses to start.
SEAMS_IDENTITY = identity_from_env(env, debug=DEBUG, default_name="monolith", var_dir=VAR_DIR)
#: Callers allowed beyond the manifests' ``consumes`` (JSON; empty by default: the manifests decide).
SEAMS_ALLOWED_CALLERS = allowed_callers_from_env(env)
#: Which modules' /internal/ endpoints this process serves, and on which port (extraction/internal.py):
#: by default only those a module served elsewhere needs; nothing when nothing is extracted.
SEAMS_INTERNAL = internal_from_env(env, SEAMS_DISCOVERED_MODULES)
