"""Settings of the {{ label }} service, read from the environment (12-factor).

Generated from the Seams monolith by ``manage.py extract_module {{ label }}``. The service serves
one module, ``{{ label }}``, on the data it had in the monolith, with nothing copied: with
``DATABASE_URL=postgres://...`` the alias ``{{ alias }}`` is confined to the PostgreSQL schema
``{{ alias }}``; without it, the SQLite file ``{{ alias }}.sqlite3`` under ``SEAMS_VAR_DIR`` (point it
at the monolith's ``var/``). The contracts it calls are served by the monolith, reached as
``SEAMS_BIND_<MODULE>`` says.

What it shares with the monolith (databases per module, the public API's security, the outbox,
Celery, logs) is built by ``extraction.settings``, the code the monolith's ``app/settings.py`` calls,
copied here with ``extraction/``; each group's docstring lists its variables. This file says what
is the service's own.
"""

import os
from pathlib import Path

from contracts.kernel.discovery import discover_modules
from extraction import settings as seams
from extraction.bindings import bindings_from_env
from extraction.identity.config import allowed_callers_from_env, identity_from_env
from extraction.internal import internal_from_env

BASE_DIR = Path(__file__).resolve().parent.parent
env = seams.Env(os.environ)

#: Off unless explicitly on; with it off SECRET_KEY and the token keys are required (docs/security.md).
DEBUG = env.bool("DEBUG", False)
#: SQLite files (when DATABASE_URL is unset): the monolith's var/ to share its data.
VAR_DIR = env.path("SEAMS_VAR_DIR", BASE_DIR / "var", create=True)  # one that cannot be made names the variable
SECRET_KEY = seams.secret_key(env, debug=DEBUG, var_dir=VAR_DIR)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],{{ service }}")

#: The module(s) this service serves: those under modules/ (another label names the variable, the
#: labels and the closest one).
SEAMS_MODULES = env.list("SEAMS_MODULES", "{{ label }}", choices=discover_modules(BASE_DIR / "modules"))
#: The service's own top-level packages: a module importing any but contracts fails the checks.
SEAMS_PROJECT_PACKAGES = ("service", "modules", "contracts", "extraction")

#: No admin (the operator console has its own staff login) and no gateway: the service serves its own API.
INSTALLED_APPS = seams.installed_apps(SEAMS_MODULES, admin=False)
MIDDLEWARE = seams.middleware(gateway=False, admin=False)
TEMPLATES = seams.templates(admin=False)
ROOT_URLCONF = "service.urls"
WSGI_APPLICATION = "service.wsgi.application"
ASGI_APPLICATION = "service.asgi.application"

#: The alias {{ alias }}: the same PostgreSQL schema or SQLite file as in the monolith (its pragmas too).
DATABASES = seams.databases(env, SEAMS_MODULES, var_dir=VAR_DIR)
globals().update(seams.django_defaults(env, var_dir=VAR_DIR))  # the module router, UTC, static files, e-mail
#: As in the monolith: tokens, rate limits, trusted proxies, body limit, cookies, HTTPS (docs/security.md).
globals().update(seams.public_api_security(env, debug=DEBUG, var_dir=VAR_DIR))
#: As in the monolith: contract validation, the outbox (SEAMS_EVENT_*), transports, the broker probe, LOGGING.
globals().update(seams.seams_defaults(env, debug=DEBUG))
#: Celery as in the monolith; tasks with no queue of their own (the relay) go to the queue this service's
#: worker consumes.
globals().update(seams.celery_settings(env, default_queue="seams.{{ label }}"))

# --- The service's place among the services ---------------------------------------------------
#: The service's name in traces (``service.name``) unless OTEL_SERVICE_NAME says otherwise.
SEAMS_SERVICE_NAME = "{{ service }}"
#: Where the monolith answers: it still serves every other module.
MONOLITH_URL = env.str("MONOLITH_URL", "http://127.0.0.1:8000")
{% if monolith_modules %}
#: Modules {{ label }} reaches in the monolith: those whose contracts it calls and those that handle
#: the events it publishes. Each is reached as SEAMS_BIND_<MODULE> says; by default
#: {% if transport == "celery" %}over Celery (the monolith's workers serve it){% else %}over HTTP, at MONOLITH_URL{% endif %}.
MONOLITH_MODULES = {{ monolith_modules_list }}
{% else %}
#: {{ label }} calls no contract of another module, and no other module handles its events.
MONOLITH_MODULES: list[str] = []
{% endif %}
#: Every module of the project when the service was generated: a SEAMS_BIND_* variable naming another
#: label stops start-up (a typo), one naming a module the service does not reach has no effect, and
#: binding a module of SEAMS_MODULES (served here) is refused.
PROJECT_MODULES = {{ project_modules_list }}
SEAMS_BINDINGS = bindings_from_env(
    {**{f"SEAMS_BIND_{label.upper()}": {{ default_binding_expr }} for label in MONOLITH_MODULES}, **env},
    MONOLITH_MODULES,
    known=PROJECT_MODULES,
    served=SEAMS_MODULES,
)
#: The handlers of the events {{ label }} publishes that stayed in the monolith. The service cannot import
#: them; it forwards those events to their modules (docs/events.md, "Events across a cut").
SEAMS_REMOTE_SUBSCRIBERS = {{ remote_subscribers_py }}
#: Service identity (docs/security.md in the monolith): this service's name and key, and the services
#: it accepts calls from (the monolith, speaking for the modules that stayed in it). With DEBUG off,
#: no key refuses to start: SEAMS_IDENTITY_KEY (or _FILE), SEAMS_IDENTITY_PEERS (or _FILE).
SEAMS_IDENTITY = identity_from_env(env, debug=DEBUG, default_name="{{ service }}", var_dir=VAR_DIR)
#: Who may call {{ label }}'s contracts: the modules whose manifests consume them, as the monolith's
#: manifests said when the service was generated (SEAMS_ALLOWED_CALLERS, JSON, adds to it).
SEAMS_ALLOWED_CALLERS = allowed_callers_from_env(env, {{ allowed_callers_py }})
#: The service's /internal/ endpoints: all its modules (it exists to be called), on the main port
#: unless SEAMS_INTERNAL_PORT names the internal listener (gunicorn --bind ... --bind ...:PORT).
SEAMS_INTERNAL = internal_from_env({"SEAMS_INTERNAL": "all", **env}, SEAMS_MODULES)
#: The operator console's login (the service has no admin); staff users live in the default database.
SEAMS_CONSOLE_LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:index"
