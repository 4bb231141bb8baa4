# Environment of the {{ service }}. Copy to .env, adjust, then either
#   set -a; . ./.env; set +a        (a shell)   or   docker run --env-file .env ...
SECRET_KEY=change-me
DEBUG=false
ALLOWED_HOSTS=localhost,127.0.0.1,{{ service }}
PORT={{ port }}
SEAMS_MODULES={{ label }}

# The data stays where it is. PostgreSQL: the monolith's database; the service uses schema "{{ alias }}".
DATABASE_URL=postgres://postgres@127.0.0.1:5432/seams
# SQLite instead (leave DATABASE_URL unset): the monolith's var/ directory, file {{ alias }}.sqlite3.
# SEAMS_VAR_DIR=/path/to/monolith/var
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

CELERY_BROKER_URL=redis://127.0.0.1:6379/0
CELERY_RESULT_BACKEND=redis://127.0.0.1:6379/1
# Events for {{ label }} are delivered by the service's worker (queue seams.{{ label }}).
SEAMS_EVENT_DISPATCH=celery

# The monolith{% if monolith_modules %}, which serves {{ monolith_modules|join:", " }}{% endif %}.
MONOLITH_URL=http://127.0.0.1:8000
{% for variable in bind_variables %}
{{ variable }}={% if transport == "celery" %}celery{% else %}http://127.0.0.1:8000{% endif %}
{% endfor %}
