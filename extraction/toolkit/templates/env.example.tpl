# Environment of the {{ service }}. Copy to .env, adjust, then either
#   set -a; . ./.env; set +a        (a shell)   or   docker run --env-file .env ...
# Fill in every empty value; nothing here is a usable secret. SECRET_KEY: a long random string, e.g.
#   python -c "import secrets; print(secrets.token_urlsafe(50))"
SECRET_KEY=
DEBUG=false
ALLOWED_HOSTS=localhost,127.0.0.1,{{ service }}
PORT={{ port }}
SEAMS_MODULES={{ label }}

# The data stays where it is: the service uses the monolith's own {{ alias }} data, {% if data.database_url %}schema "{{ alias }}" of
# the monolith's PostgreSQL database (from the monolith's settings; a password shows as <password>).
DATABASE_URL={{ data.database_url }}{% elif data.sqlite_file %}the SQLite file
# {{ data.sqlite_file }} (the monolith's embedded default). Run the service on the same machine, or
# move the module to PostgreSQL first (docs/extraction.md, "Moving the data"); never a copy of the file.
SEAMS_VAR_DIR={{ data.sqlite_dir }}
# DATABASE_URL=    (leave it unset while the monolith is on SQLite){% else %}schema "{{ alias }}" of
# the monolith's PostgreSQL database, or (DATABASE_URL unset) the file {{ alias }}.sqlite3 under SEAMS_VAR_DIR.
DATABASE_URL=postgres://postgres@127.0.0.1:5432/seams{% endif %}
# PostgreSQL: seconds a connection is kept between requests and tasks (0: one per request).
# DATABASE_CONN_MAX_AGE=60
# SQLite: NORMAL (default; a power loss may lose the last commits, never corrupts) or FULL; busy timeout (s).
# SEAMS_SQLITE_SYNCHRONOUS=NORMAL
# SEAMS_SQLITE_TIMEOUT=20

# gunicorn (gunicorn.conf.py): workers, their class and threads, keep-alive seconds.
# WEB_CONCURRENCY=2
# GUNICORN_WORKER_CLASS=gthread
# GUNICORN_THREADS=4
# GUNICORN_KEEPALIVE=5

# The public API's bearer tokens (required with DEBUG off): your identity provider's JWKS document
# (or SEAMS_API_JWKS_FILE, a JWKS file), issuer and audience, as the monolith has them.
SEAMS_API_JWKS_URL=
SEAMS_API_JWT_ISSUER=
SEAMS_API_JWT_AUDIENCE=
# Rate limits per client, shared by every worker through this Redis (in memory per process if unset).
SEAMS_API_RATE_LIMIT_REDIS_URL=redis://127.0.0.1:6379/2
# Requests come through the monolith's gateway: trust one X-Forwarded-For hop to find the client.
SEAMS_TRUSTED_PROXIES=1

CELERY_BROKER_URL=redis://127.0.0.1:6379/0
CELERY_RESULT_BACKEND=redis://127.0.0.1:6379/1
# Events for {{ label }} are delivered by the service's worker (queue seams.{{ label }}).
SEAMS_EVENT_DISPATCH=celery

# The monolith{% if monolith_modules %}, which serves {{ monolith_modules|join:", " }}{% endif %}.
MONOLITH_URL=http://127.0.0.1:8000
{% for variable in bind_variables %}
{{ variable }}={% if transport == "celery" %}celery{% else %}http://127.0.0.1:8000{% endif %}
{% endfor %}

# Service identity (docs/security.md). Create this service's key pair with
#   python -m extraction.identity {{ service }} --modules {{ label }}
# put the private key here (or mount it and set SEAMS_IDENTITY_KEY_FILE), and give the printed
# trust entry to the monolith (its SEAMS_IDENTITY_PEERS): {{ service_peer }}
SEAMS_IDENTITY_NAME={{ service }}
SEAMS_IDENTITY_KEY=
# SEAMS_IDENTITY_KEY_FILE=/run/secrets/seams-identity/key.pem
# The services this one accepts calls from: the monolith, with its public key (not a secret).
SEAMS_IDENTITY_PEERS={{ monolith_peers }}
