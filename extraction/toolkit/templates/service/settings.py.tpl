"""Settings of the {{ label }} service, read from the environment (12-factor).

Generated from the Seams monolith by ``manage.py extract_module {{ label }}``. The service serves
one module, ``{{ label }}``, on the data it had in the monolith, with nothing copied: with
``DATABASE_URL=postgres://...`` the alias ``{{ alias }}`` is confined to the PostgreSQL schema
``{{ alias }}``; without it, the SQLite file ``{{ alias }}.sqlite3`` under ``SEAMS_VAR_DIR`` (point it
at the monolith's ``var/``). The contracts it calls are served by the monolith, reached as
``SEAMS_BIND_<MODULE>`` says.
"""

import os
from pathlib import Path

from contracts.kernel.databases import module_databases
from contracts.kernel.public.config import api_auth_from_env
from contracts.kernel.telemetry.logs import logging_config
from extraction.bindings import bindings_from_env
from extraction.celery.redis_transport import broker_transport
from extraction.hardening import api_rate_limits_from_env, caches_from_env, secret_key_from_env
from extraction.identity.config import allowed_callers_from_env, identity_from_env
from extraction.internal import internal_from_env

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


#: Off unless explicitly on; with it off SECRET_KEY and the token keys are required (docs/security.md).
DEBUG = env_bool("DEBUG", False)
#: SQLite files (when DATABASE_URL is unset): the monolith's var/ to share its data.
VAR_DIR = Path(os.environ.get("SEAMS_VAR_DIR", BASE_DIR / "var"))
SECRET_KEY = secret_key_from_env(os.environ, debug=DEBUG, var_dir=VAR_DIR)
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],{{ service }}").split(",") if h]

#: The module(s) this service serves.
SEAMS_MODULES = [m for m in os.environ.get("SEAMS_MODULES", "{{ label }}").split(",") if m]
#: The service's own top-level packages: a module importing any but contracts fails the checks.
SEAMS_PROJECT_PACKAGES = ("service", "modules", "contracts", "extraction")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",  # the operator console's staff login
    "django.contrib.staticfiles",
    "ninja",
    "contracts.kernel",
    "extraction",  # manage.py module_data
    "extraction.console",  # the operator console (/console/), staff only
    *[f"modules.{label}" for label in SEAMS_MODULES],
]

MIDDLEWARE = [
    "contracts.kernel.telemetry.middleware.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "extraction.publicapi.middleware.JsonOnlyMiddleware",  # /api/ bodies: application/json or 415/413
    "extraction.internal.InternalSurfaceMiddleware",  # /internal/{{ label }}/..., token required
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",  # the console's pages are never framed
]

ROOT_URLCONF = "service.urls"
WSGI_APPLICATION = "service.wsgi.application"
ASGI_APPLICATION = "service.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    },
]

DATABASES = module_databases(
    SEAMS_MODULES,
    database_url=os.environ.get("DATABASE_URL"),
    sqlite_dir=VAR_DIR,
    # PostgreSQL: keep connections between requests and tasks (health-checked), as the monolith does.
    conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    # SQLite: WAL, a busy timeout and immediate transactions, as in the monolith (NORMAL or FULL).
    sqlite_synchronous=os.environ.get("SEAMS_SQLITE_SYNCHRONOUS", "NORMAL"),
    sqlite_timeout=float(os.environ.get("SEAMS_SQLITE_TIMEOUT", "20")),
)
DATABASE_ROUTERS = ["contracts.kernel.router.ModuleRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "shop@seams.example")

# --- Security of the public API (as in the monolith; docs/security.md) ---------------------------
SEAMS_API_AUTH = api_auth_from_env(os.environ, debug=DEBUG, var_dir=VAR_DIR)
SEAMS_API_RATE_LIMITS = api_rate_limits_from_env(os.environ)
CACHES = caches_from_env(os.environ)
NINJA_NUM_PROXIES = int(os.environ.get("SEAMS_TRUSTED_PROXIES", "0"))
SEAMS_API_MAX_BODY_BYTES = int(os.environ.get("SEAMS_API_MAX_BODY_BYTES", str(64 * 1024)))
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SEAMS_SECURE_COOKIES", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SEAMS_BEHIND_TLS_PROXY", False) else None

# --- Seams ------------------------------------------------------------------------------------
#: The service's name in traces (``service.name``) unless OTEL_SERVICE_NAME says otherwise.
SEAMS_SERVICE_NAME = "{{ service }}"
SEAMS_VALIDATE_CONTRACTS = env_bool("SEAMS_VALIDATE_CONTRACTS", DEBUG)
SEAMS_EVENT_BACKEND = os.environ.get("SEAMS_EVENT_BACKEND", "contracts.kernel.outbox.OutboxEventBackend")
SEAMS_EVENTS = {
    "DISPATCH": os.environ.get("SEAMS_EVENT_DISPATCH", "inline"),
    "MAX_ATTEMPTS": int(os.environ.get("SEAMS_EVENT_MAX_ATTEMPTS", "6")),
    "BACKOFF_BASE": float(os.environ.get("SEAMS_EVENT_BACKOFF_BASE", "1")),
    "BACKOFF_MAX": float(os.environ.get("SEAMS_EVENT_BACKOFF_MAX", "300")),
    "LEASE": float(os.environ.get("SEAMS_EVENT_LEASE", "60")),
    "STALE_AFTER": float(os.environ.get("SEAMS_EVENT_STALE_AFTER", "30")),
    "COMPLETION": os.environ.get("SEAMS_EVENT_COMPLETION", "keep"),
}
#: Where the monolith answers: it still serves every other module.
MONOLITH_URL = os.environ.get("MONOLITH_URL", "http://127.0.0.1:8000")
{% if monolith_modules %}
#: Modules {{ label }} reaches in the monolith: those whose contracts it calls and those that handle
#: the events it publishes. Each is reached as SEAMS_BIND_<MODULE> says; by default
#: {% if transport == "celery" %}over Celery (the monolith's workers serve it){% else %}over HTTP, at MONOLITH_URL{% endif %}.
MONOLITH_MODULES = {{ monolith_modules_list }}
{% else %}
#: {{ label }} calls no contract of another module, and no other module handles its events.
MONOLITH_MODULES: list[str] = []
{% endif %}
SEAMS_BINDINGS = bindings_from_env(
    {**{f"SEAMS_BIND_{label.upper()}": {{ default_binding_expr }} for label in MONOLITH_MODULES}, **os.environ},
    MONOLITH_MODULES,
)
#: The handlers of the events {{ label }} publishes that stayed in the monolith. The service cannot import
#: them; it forwards those events to their modules (docs/events.md, "Events across a cut").
SEAMS_REMOTE_SUBSCRIBERS = {{ remote_subscribers_py }}
#: Service identity (docs/security.md in the monolith): this service's name and key, and the services
#: it accepts calls from (the monolith, speaking for the modules that stayed in it). With DEBUG off,
#: no key refuses to start: SEAMS_IDENTITY_KEY (or _FILE), SEAMS_IDENTITY_PEERS (or _FILE).
SEAMS_IDENTITY = identity_from_env(os.environ, debug=DEBUG, default_name="{{ service }}", var_dir=VAR_DIR)
#: Who may call {{ label }}'s contracts: the modules whose manifests consume them, as the monolith's
#: manifests said when the service was generated (SEAMS_ALLOWED_CALLERS, JSON, adds to it).
SEAMS_ALLOWED_CALLERS = allowed_callers_from_env(os.environ, {{ allowed_callers_py }})
#: The service's /internal/ endpoints: all its modules (it exists to be called), on the main port
#: unless SEAMS_INTERNAL_PORT names the internal listener (gunicorn --bind ... --bind ...:PORT).
SEAMS_INTERNAL = internal_from_env({"SEAMS_INTERNAL": "all", **os.environ}, SEAMS_MODULES)
SEAMS_TRANSPORTS = {
    "http": "extraction.http.client.HttpTransport",
    "celery": "extraction.celery.client.CeleryTransport",
}
#: The operator console's login (the service has no admin); staff users live in the default database.
SEAMS_CONSOLE_LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:index"
#: /health/ready checks the Celery broker: "auto" (when events or a binding use Celery), "always", "never".
SEAMS_HEALTH_BROKER = os.environ.get("SEAMS_HEALTH_BROKER", "auto")

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
#: kombu's Redis transport with the fix that keeps a busy worker alive when Redis drops
#: (extraction/celery/redis_transport.py); other brokers keep kombu's own transport.
CELERY_BROKER_TRANSPORT = broker_transport(CELERY_BROKER_URL)
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/1")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
#: Tasks with no queue of their own (the relay) go to the queue this service's worker consumes.
CELERY_TASK_DEFAULT_QUEUE = "seams.{{ label }}"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
#: Workers log through LOGGING (JSON when asked), not Celery's own root handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_TIMEOUT = float(os.environ.get("CELERY_BROKER_CONNECTION_TIMEOUT", "2"))
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "seams-relay": {"task": "seams.relay", "schedule": float(os.environ.get("SEAMS_RELAY_INTERVAL", "5"))},
}

#: Logs: SEAMS_LOG_FORMAT=json for one JSON object per line (trace and span ids, module, event
#: fields), plain by default; SEAMS_LOG_LEVEL, LOG_LEVEL (contracts/kernel/telemetry/logs.py).
LOGGING = logging_config(os.environ)
