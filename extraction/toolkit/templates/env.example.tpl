# Environment of the {{ service }}. Copy to .env, adjust, then either
#   set -a; . ./.env; set +a        (a shell)   or   docker run --env-file .env ...
# Fill in every empty value; nothing here is a usable secret. SECRET_KEY: a long random string, e.g.
#   python -c "import secrets; print(secrets.token_urlsafe(50))"
SECRET_KEY=
DEBUG=false
ALLOWED_HOSTS=localhost,127.0.0.1,{{ service }}
PORT={{ port }}
SEAMS_MODULES={{ label }}

# The data stays where it is. PostgreSQL: the monolith's database; the service uses schema "{{ alias }}".
DATABASE_URL=postgres://postgres@127.0.0.1:5432/seams
# SQLite instead (leave DATABASE_URL unset): the monolith's var/ directory, file {{ alias }}.sqlite3.
# SEAMS_VAR_DIR=/path/to/monolith/var

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
