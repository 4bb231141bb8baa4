"""``extraction.settings``: the settings code the monolith and every generated service call.

``Env`` reads typed values and names the variable when one is malformed; the groups give the
monolith and a service the same answers for the same environment, except where a parameter says
what is each process's own (the admin, the gateway, the default queue).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.kernel import ConfigurationError
from extraction import settings as seams
from extraction.celery import redis_transport


def test_flags_take_the_usual_words_and_refuse_a_typo_naming_the_variable() -> None:
    env = seams.Env({"A": "Yes", "B": " off ", "C": "1", "D": "", "TYPO": "ture"})
    assert [env.bool(name, default=False) for name in "ABCD"] == [True, False, True, False]
    assert env.bool("UNSET", True) is True
    with pytest.raises(ConfigurationError, match=r"TYPO='ture' is not a flag: use true or false"):
        env.bool("TYPO", False)


def test_numbers_name_the_variable_and_the_default_when_malformed() -> None:
    env = seams.Env({"N": "6", "X": "six", "F": "2.5", "G": "soon", "BLANK": " "})
    assert (env.int("N", 1), env.float("F", 1.0), env.int("BLANK", 7), env.float("UNSET", 20.0)) == (6, 2.5, 7, 20.0)
    with pytest.raises(ConfigurationError, match=r"X='six' is not a whole number \(default 3\)"):
        env.int("X", 3)
    with pytest.raises(ConfigurationError, match=r"G='soon' is not a number \(default 20\)"):
        env.float("G", 20.0)


def test_lists_drop_blanks_and_paths_fall_back_when_empty(tmp_path: Path) -> None:
    env = seams.Env({"HOSTS": " a.example, b.example,,", "EMPTY": "", "VAR": str(tmp_path)})
    assert env.list("HOSTS") == ["a.example", "b.example"]
    assert env.list("EMPTY", "x") == [] and env.list("UNSET", "x,y") == ["x", "y"]
    assert env.path("VAR", Path("var")) == tmp_path and env.path("EMPTY", Path("var")) == Path("var")


def test_env_is_a_mapping_the_from_env_helpers_take() -> None:
    env = seams.Env({"SEAMS_EVENT_MAX_ATTEMPTS": "9"})
    assert dict(env) == {"SEAMS_EVENT_MAX_ATTEMPTS": "9"} and len(env) == 1 and env.get("MISSING") is None
    assert {**env, "SEAMS_INTERNAL": "all"} == {"SEAMS_EVENT_MAX_ATTEMPTS": "9", "SEAMS_INTERNAL": "all"}


def test_the_admin_and_the_gateway_are_the_only_differences_in_apps_and_middleware() -> None:
    monolith = seams.middleware(gateway=True, admin=True)
    service = seams.middleware(gateway=False, admin=False)
    assert [m for m in monolith if m not in service] == [
        "extraction.gateway.GatewayMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ]
    assert service == [m for m in monolith if m in service]  # the same order
    assert monolith.index("extraction.gateway.GatewayMiddleware") < monolith.index(
        "django.contrib.sessions.middleware.SessionMiddleware"
    )  # the gateway answers before a session is loaded
    apps = seams.installed_apps(["catalog"], admin=False, own=("service_extra",))
    assert apps[-2:] == ["service_extra", "modules.catalog"] and "django.contrib.admin" not in apps
    assert "django.contrib.messages" in seams.installed_apps([], admin=True)
    processors = seams.templates(admin=False)[0]["OPTIONS"]["context_processors"]
    assert "django.contrib.messages.context_processors.messages" not in processors


def test_every_group_reads_its_variables(tmp_path: Path) -> None:
    env = seams.Env(
        {
            "SEAMS_EVENT_MAX_ATTEMPTS": "9",
            "SEAMS_EVENT_DISPATCH": "celery",
            "SEAMS_EVENT_PREPARED_STATEMENTS": "false",
            "SEAMS_TRUSTED_PROXIES": "2",
            "SEAMS_BEHIND_TLS_PROXY": "on",
            "CELERY_BROKER_URL": "redis://broker.example:6379/3",
            "CELERY_RESULT_EXPIRES": "7",
            "SEAMS_RELAY_INTERVAL": "2.5",
            "SEAMS_SQLITE_SYNCHRONOUS": "FULL",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        }
    )
    outbox = seams.seams_defaults(env, debug=True)
    assert outbox["SEAMS_EVENTS"]["MAX_ATTEMPTS"] == 9 and outbox["SEAMS_EVENTS"]["DISPATCH"] == "celery"
    assert outbox["SEAMS_EVENTS"]["PREPARED_STATEMENTS"] is False
    assert seams.seams_defaults(seams.Env({}), debug=True)["SEAMS_EVENTS"]["PREPARED_STATEMENTS"] is True
    assert outbox["SEAMS_VALIDATE_CONTRACTS"] is True and set(outbox["SEAMS_TRANSPORTS"]) == {"http", "celery"}
    security = seams.public_api_security(env, debug=True, var_dir=tmp_path)
    assert security["NINJA_NUM_PROXIES"] == 2
    assert security["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert security["SESSION_COOKIE_SECURE"] is security["CSRF_COOKIE_SECURE"] is False  # DEBUG on
    celery = seams.celery_settings(env, default_queue="seams.catalog")
    assert celery["CELERY_TASK_DEFAULT_QUEUE"] == "seams.catalog" and celery["CELERY_RESULT_EXPIRES"] == 7
    assert celery["CELERY_BROKER_TRANSPORT"] == redis_transport.TRANSPORT
    assert celery["CELERY_BEAT_SCHEDULE"]["seams-relay"]["schedule"] == 2.5
    databases = seams.databases(env, ["catalog"], var_dir=tmp_path)
    assert set(databases) == {"default", "catalog"}
    assert databases["catalog"]["NAME"] == str(tmp_path / "catalog.sqlite3")
    assert "synchronous=FULL" in databases["catalog"]["OPTIONS"]["init_command"]
    defaults = seams.django_defaults(env, var_dir=tmp_path)
    assert defaults["EMAIL_BACKEND"].endswith("locmem.EmailBackend") and defaults["STATIC_ROOT"] == tmp_path / "static"


def test_workers_run_threads_unless_told_otherwise_and_an_unknown_pool_names_the_variable() -> None:
    """Seams' tasks wait on I/O: a threads pool costs less CPU per task than prefork's pipes."""
    assert seams.celery_settings(seams.Env({}), default_queue="celery")["CELERY_WORKER_POOL"] == "threads"
    chosen = seams.celery_settings(seams.Env({"CELERY_WORKER_POOL": " Prefork "}), default_queue="celery")
    assert chosen["CELERY_WORKER_POOL"] == "prefork"
    with pytest.raises(ConfigurationError, match="CELERY_WORKER_POOL='forks' is not a worker pool .*threads, prefork, solo"):
        seams.celery_settings(seams.Env({"CELERY_WORKER_POOL": "forks"}), default_queue="celery")


def test_a_worker_retries_its_broker_forever_not_a_hundred_times() -> None:
    """Celery's default ``broker_connection_max_retries`` is 100: kombu waits 2, 4, ... 30 s between
    reconnects, so a Redis outage of about 50 minutes made a worker (the monolith's and every
    generated service's: they share these settings) exit for good with ``OperationalError``
    (reproduced with the limit at 2: the worker exited 10 s into the outage and stayed down after
    Redis came back). The outbox keeps every event, but delivery stopped until someone restarted it."""
    from app.celery import celery_app

    assert seams.celery_settings(seams.Env({}), default_queue="celery")["CELERY_BROKER_CONNECTION_MAX_RETRIES"] is None
    assert celery_app.conf.broker_connection_max_retries is None
