"""Settings, read from the environment (12-factor).

With no environment at all this runs embedded: one SQLite file per module under ``var/`` and
events delivered in-process. ``DATABASE_URL=postgres://...`` moves every module to PostgreSQL, one
schema per module.
"""

import os
from pathlib import Path

from contracts.kernel.databases import module_databases
from contracts.kernel.discovery import discover_modules
from contracts.kernel.public.config import api_auth_from_env
from contracts.kernel.telemetry.logs import logging_config
from extraction.bindings import bindings_from_env, gateway_from_env
from extraction.celery.redis_transport import broker_transport
from extraction.hardening import api_rate_limits_from_env, caches_from_env, secret_key_from_env
from extraction.identity.config import allowed_callers_from_env, identity_from_env
from extraction.internal import internal_from_env

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


#: Off unless explicitly on: ``make run`` and the tests turn it on (DEBUG=true).
DEBUG = env_bool("DEBUG", False)
VAR_DIR = Path(os.environ.get("SEAMS_VAR_DIR", BASE_DIR / "var"))
#: Required with DEBUG off (ImproperlyConfigured naming SECRET_KEY); under DEBUG a key generated into var/.
SECRET_KEY = secret_key_from_env(os.environ, debug=DEBUG, var_dir=VAR_DIR)
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",") if h]

#: Every package under modules/ is a module; SEAMS_MODULES narrows the set (an extracted service).
SEAMS_MODULES = [m for m in os.environ.get("SEAMS_MODULES", "").split(",") if m] or discover_modules(BASE_DIR / "modules")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "app",  # the composition root: its management commands (seed_shop)
    "extraction",  # its management commands: extract_module, module_data
    "extraction.console",  # the operator console's templates (/console/)
    "contracts.kernel",
    *[f"modules.{label}" for label in SEAMS_MODULES],
]

MIDDLEWARE = [
    "contracts.kernel.telemetry.middleware.MetricsMiddleware",  # first: it counts the gateway's answers too
    "django.middleware.security.SecurityMiddleware",
    "extraction.publicapi.middleware.JsonOnlyMiddleware",  # /api/ bodies: application/json or 415/413
    "extraction.internal.InternalSurfaceMiddleware",  # /internal/<module>/ only where a binding needs it
    "extraction.gateway.GatewayMiddleware",  # /api/<module>/ of an extracted module -> its service
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "app.urls"
WSGI_APPLICATION = "app.wsgi.application"
ASGI_APPLICATION = "app.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = module_databases(
    SEAMS_MODULES,
    database_url=os.environ.get("DATABASE_URL"),
    sqlite_dir=VAR_DIR,
    conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),  # PostgreSQL: reuse connections
    # SQLite (embedded): WAL + NORMAL by default; FULL trades commit speed for surviving a power
    # loss with every commit (docs/events.md, "The embedded default's SQLite settings").
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

# --- Security of the public API (docs/security.md) ----------------------------------------------
#: Who issues the API's bearer tokens and where their keys are: SEAMS_API_JWKS_URL or _FILE, _JWT_ISSUER,
#: _JWT_AUDIENCE (required with DEBUG off); under DEBUG a development key pair in var/dev-keys/.
SEAMS_API_AUTH = api_auth_from_env(os.environ, debug=DEBUG, var_dir=VAR_DIR)
#: Per-client rate limits (SEAMS_API_RATE_ANONYMOUS, SEAMS_API_RATE_AUTHENTICATED; "off" for none),
#: counted in the "seams-rate" cache: Redis when SEAMS_API_RATE_LIMIT_REDIS_URL is set, shared by every
#: worker; in memory, per process, otherwise.
SEAMS_API_RATE_LIMITS = api_rate_limits_from_env(os.environ)
CACHES = caches_from_env(os.environ)
#: Trusted proxies in front of the API (X-Forwarded-For is believed only this far): 0 by default.
NINJA_NUM_PROXIES = int(os.environ.get("SEAMS_TRUSTED_PROXIES", "0"))
#: Larger request bodies under /api/ are 413.
SEAMS_API_MAX_BODY_BYTES = int(os.environ.get("SEAMS_API_MAX_BODY_BYTES", str(64 * 1024)))
#: HTTPS (docs/security.md, production checklist): cookies are secure whenever DEBUG is off; the
#: redirect and HSTS are for the deployment to turn on once TLS is in front of the process.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SEAMS_SECURE_COOKIES", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^health/"]  # probes talk plain HTTP inside the cluster
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
#: Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SEAMS_BEHIND_TLS_PROXY", False) else None

# --- Seams ------------------------------------------------------------------------------------
#: Validate DTOs on in-process contract calls (on under DEBUG and in tests; off in production).
SEAMS_VALIDATE_CONTRACTS = env_bool("SEAMS_VALIDATE_CONTRACTS", DEBUG)
#: How events reach subscribers (a dotted path to an EventBackend): the durable outbox by default.
SEAMS_EVENT_BACKEND = os.environ.get("SEAMS_EVENT_BACKEND", "contracts.kernel.outbox.OutboxEventBackend")
#: The outbox: dispatch mode (inline | celery), retries, leases, completion (see docs/events.md).
SEAMS_EVENTS = {
    "DISPATCH": os.environ.get("SEAMS_EVENT_DISPATCH", "inline"),
    "MAX_ATTEMPTS": int(os.environ.get("SEAMS_EVENT_MAX_ATTEMPTS", "6")),
    "BACKOFF_BASE": float(os.environ.get("SEAMS_EVENT_BACKOFF_BASE", "1")),
    "BACKOFF_MAX": float(os.environ.get("SEAMS_EVENT_BACKOFF_MAX", "300")),
    "LEASE": float(os.environ.get("SEAMS_EVENT_LEASE", "60")),
    "STALE_AFTER": float(os.environ.get("SEAMS_EVENT_STALE_AFTER", "30")),
    "COMPLETION": os.environ.get("SEAMS_EVENT_COMPLETION", "keep"),
}
#: How each module's contracts are served, from SEAMS_BIND_<MODULE> (see extraction/bindings.py);
#: absent means in-process.
SEAMS_BINDINGS = bindings_from_env(os.environ, discover_modules(BASE_DIR / "modules"))
#: The gateway: an extracted module's public paths forwarded to its service (extraction/gateway.py).
SEAMS_GATEWAY = gateway_from_env(os.environ, discover_modules(BASE_DIR / "modules"))
#: Transports other than in-process, by name (dotted paths to client factories).
SEAMS_TRANSPORTS = {
    "http": "extraction.http.client.HttpTransport",
    "celery": "extraction.celery.client.CeleryTransport",
}

#: Service identity: this process's name and key, and the services it accepts calls from
#: (extraction/identity, docs/security.md). With DEBUG off, no key refuses to start.
SEAMS_IDENTITY = identity_from_env(os.environ, debug=DEBUG, default_name="monolith", var_dir=VAR_DIR)
#: Callers allowed beyond the manifests' ``consumes`` (JSON; empty by default: the manifests decide).
SEAMS_ALLOWED_CALLERS = allowed_callers_from_env(os.environ)
#: Which modules' /internal/ endpoints this process serves, and on which port (extraction/internal.py):
#: by default only those a module served elsewhere needs; nothing when nothing is extracted.
SEAMS_DISCOVERED_MODULES = discover_modules(BASE_DIR / "modules")
SEAMS_INTERNAL = internal_from_env(os.environ, SEAMS_DISCOVERED_MODULES)

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
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
#: Workers log through LOGGING (JSON when asked), not Celery's own root handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
#: Publishing a task never blocks a web request for long: if the broker is down the outbox keeps
#: the event and the relay sends it later.
CELERY_BROKER_CONNECTION_TIMEOUT = float(os.environ.get("CELERY_BROKER_CONNECTION_TIMEOUT", "2"))
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
#: Contract calls over Celery wait for their result: when Redis is gone, fail within seconds (the
#: caller gets ServiceUnavailable -> 503), not after the backend's default 20 one-second retries.
CELERY_RESULT_EXPIRES = int(os.environ.get("CELERY_RESULT_EXPIRES", "300"))
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = float(os.environ.get("CELERY_REDIS_SOCKET_CONNECT_TIMEOUT", "2"))
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
}
CELERY_BEAT_SCHEDULE = {
    "seams-relay": {"task": "seams.relay", "schedule": float(os.environ.get("SEAMS_RELAY_INTERVAL", "5"))},
}

#: Logs: SEAMS_LOG_FORMAT=json for one JSON object per line (trace and span ids, module, event
#: fields), plain by default; SEAMS_LOG_LEVEL, LOG_LEVEL (contracts/kernel/telemetry/logs.py).
LOGGING = logging_config(os.environ)
