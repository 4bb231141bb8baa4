# Environment of the {{ service }}. Copy to .env, adjust, then either
#   set -a; . ./.env; set +a        (a shell)   or   docker run --env-file .env ...
# Required with DEBUG off (the service refuses to start without it): a random value of 50 characters,
#   python -c 'import secrets; print(secrets.token_urlsafe(50))'
SECRET_KEY=
DEBUG=false
ALLOWED_HOSTS=localhost,127.0.0.1,{{ service }}
PORT={{ port }}
SEAMS_MODULES={{ label }}

# The data stays where it is. PostgreSQL: the monolith's database; the service uses schema "{{ alias }}".
DATABASE_URL=postgres://postgres@127.0.0.1:5432/seams
# SQLite instead (leave DATABASE_URL unset): the monolith's var/ directory, file {{ alias }}.sqlite3.
# SEAMS_VAR_DIR=/path/to/monolith/var

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
