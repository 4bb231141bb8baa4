"""Every variable ``extraction.settings`` reads, given what a new user types.

Each value either works (a documented normalisation: blank is unset, any case, spaces stripped)
or stops with ``ConfigurationError`` naming the variable and what it takes; ``manage.py`` prints
that one line (exit 2), never a traceback. Every refused case below was a bare ``ValueError``
traceback, a later failure, or silently taken, before the checks it exercises.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from contracts.kernel import ConfigurationError
from contracts.kernel.outbox.config import COMPLETION_MODES, DISPATCH_MODES
from extraction import settings as seams
from extraction.settings import seams as seams_group
from tests.support.processes import ROOT, project_env


def settings_of(environ: dict[str, str], var_dir: Path) -> dict[str, Any]:
    """What a settings module gets from the shared groups (as app/settings.py calls them)."""
    env = seams.Env(environ)
    debug = env.bool("DEBUG", True)
    return {
        "DEBUG": debug,
        "DATABASES": seams.databases(env, ["catalog"], var_dir=var_dir),
        **seams.django_defaults(env, var_dir=var_dir),
        **seams.public_api_security(env, debug=debug, var_dir=var_dir),
        **seams.seams_defaults(env, debug=debug),
        **seams.celery_settings(env, default_queue="celery"),
    }


def sqlite_init(settings: dict[str, Any]) -> str:
    return settings["DATABASES"]["catalog"]["OPTIONS"]["init_command"]


#: (variable, value, what the settings then hold): values that work, normalised.
ACCEPTED = [
    ("SEAMS_SQLITE_SYNCHRONOUS", "", lambda s: "synchronous=NORMAL;" in sqlite_init(s)),
    ("SEAMS_SQLITE_SYNCHRONOUS", "  ", lambda s: "synchronous=NORMAL;" in sqlite_init(s)),
    ("SEAMS_SQLITE_SYNCHRONOUS", "full", lambda s: "synchronous=FULL;" in sqlite_init(s)),
    ("SEAMS_SQLITE_SYNCHRONOUS", " Full ", lambda s: "synchronous=FULL;" in sqlite_init(s)),
    ("SEAMS_SQLITE_TIMEOUT", "", lambda s: s["DATABASES"]["catalog"]["OPTIONS"]["timeout"] == 20.0),
    ("SEAMS_SQLITE_TIMEOUT", " 5 ", lambda s: s["DATABASES"]["catalog"]["OPTIONS"]["timeout"] == 5.0),
    ("DATABASE_URL", "", lambda s: s["DATABASES"]["catalog"]["ENGINE"] == "django.db.backends.sqlite3"),
    ("DATABASE_URL", " ", lambda s: s["DATABASES"]["catalog"]["ENGINE"] == "django.db.backends.sqlite3"),
    ("DATABASE_URL", "postgresql://u@db:5432/shop", lambda s: s["DATABASES"]["catalog"]["HOST"] == "db"),
    ("DATABASE_CONN_MAX_AGE", "0", lambda s: s["DATABASES"]["catalog"]["CONN_MAX_AGE"] == 0),
    ("DEBUG", "", lambda s: s["DEBUG"] is True),  # blank is unset: the default (here True)
    ("DEBUG", " TRUE ", lambda s: s["DEBUG"] is True),
    ("SEAMS_EVENT_PREPARED_STATEMENTS", "", lambda s: s["SEAMS_EVENTS"]["PREPARED_STATEMENTS"] is True),  # the default, not off
    ("SEAMS_EVENT_DISPATCH", "Celery", lambda s: s["SEAMS_EVENTS"]["DISPATCH"] == "celery"),
    ("SEAMS_EVENT_DISPATCH", "", lambda s: s["SEAMS_EVENTS"]["DISPATCH"] == "inline"),
    ("SEAMS_EVENT_COMPLETION", "DELETE", lambda s: s["SEAMS_EVENTS"]["COMPLETION"] == "delete"),
    ("SEAMS_EVENT_MAX_ATTEMPTS", "1", lambda s: s["SEAMS_EVENTS"]["MAX_ATTEMPTS"] == 1),
    ("SEAMS_EVENT_BACKOFF_BASE", "0", lambda s: s["SEAMS_EVENTS"]["BACKOFF_BASE"] == 0.0),
    ("SEAMS_HEALTH_BROKER", "Always", lambda s: s["SEAMS_HEALTH_BROKER"] == "always"),
    ("SEAMS_HEALTH_BROKER", "off", lambda s: s["SEAMS_HEALTH_BROKER"] == "never"),
    ("SEAMS_HEALTH_BROKER", "", lambda s: s["SEAMS_HEALTH_BROKER"] == "auto"),
    ("SEAMS_LOG_FORMAT", "JSON", lambda s: s["LOGGING"]["formatters"]["seams"]["()"].endswith("JsonFormatter")),
    ("SEAMS_LOG_LEVEL", "debug", lambda s: s["LOGGING"]["loggers"]["seams"]["level"] == "DEBUG"),
    ("LOG_LEVEL", "error", lambda s: s["LOGGING"]["root"]["level"] == "ERROR"),
    ("LOG_LEVEL", "", lambda s: s["LOGGING"]["root"]["level"] == "WARNING"),
    ("SEAMS_CELERY_TASK_LOG_LEVEL", "info", lambda s: s["LOGGING"]["loggers"]["celery.app.trace"]["level"] == "INFO"),
    ("CELERY_WORKER_POOL", " Prefork ", lambda s: s["CELERY_WORKER_POOL"] == "prefork"),
    ("CELERY_WORKER_POOL", "", lambda s: s["CELERY_WORKER_POOL"] == "threads"),
    ("CELERY_BROKER_URL", "", lambda s: s["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/0"),
    ("CELERY_BROKER_URL", " redis://r:6379/2 ", lambda s: s["CELERY_BROKER_URL"] == "redis://r:6379/2"),
    ("CELERY_RESULT_BACKEND", "rpc://", lambda s: s["CELERY_RESULT_BACKEND"] == "rpc://"),
    ("CELERY_RESULT_EXPIRES", "", lambda s: s["CELERY_RESULT_EXPIRES"] == 300),
    ("SEAMS_RELAY_INTERVAL", "0.5", lambda s: s["CELERY_BEAT_SCHEDULE"]["seams-relay"]["schedule"] == 0.5),
    ("SEAMS_TRUSTED_PROXIES", "0", lambda s: s["NINJA_NUM_PROXIES"] == 0),
    ("SECURE_HSTS_SECONDS", "", lambda s: s["SECURE_HSTS_SECONDS"] == 0),
    ("SEAMS_API_JWT_LEEWAY", "0", lambda s: s["SEAMS_API_AUTH"]["LEEWAY"] == 0),
    ("EMAIL_BACKEND", "", lambda s: s["EMAIL_BACKEND"].endswith("console.EmailBackend")),
]

#: (variable, value, what the message says besides the variable and the value): refused.
REFUSED = [
    ("SEAMS_SQLITE_SYNCHRONOUS", "garbage", "is not one of NORMAL, FULL"),
    ("SEAMS_SQLITE_SYNCHRONOUS", "OFF", "is not one of NORMAL, FULL"),
    ("SEAMS_SQLITE_TIMEOUT", "0", "is not a number above 0"),
    ("SEAMS_SQLITE_TIMEOUT", "-1", "is not a number above 0"),
    ("SEAMS_SQLITE_TIMEOUT", "nan", "is not a number above 0"),
    ("SEAMS_SQLITE_TIMEOUT", "inf", "is not a number above 0"),
    ("SEAMS_SQLITE_TIMEOUT", "twenty", "is not a number above 0"),
    ("DATABASE_URL", "garbage", "is not a URL starting with postgres://, postgresql://, pgsql://"),
    ("DATABASE_URL", "mysql://u@db/shop", "is not a URL starting with postgres://"),
    ("DATABASE_URL", "sqlite:///var/x.sqlite3", "is not a URL starting with postgres://"),
    ("DATABASE_CONN_MAX_AGE", "-1", "is not a whole number of at least 0"),
    ("DATABASE_CONN_MAX_AGE", "1.5", "is not a whole number of at least 0"),
    ("DEBUG", "maybe", "is not a flag: use true or false"),
    ("SEAMS_EVENT_DISPATCH", "eventually", "is not one of inline, celery"),
    ("SEAMS_EVENT_COMPLETION", "purge", "is not one of keep, delete, archive"),
    ("SEAMS_EVENT_MAX_ATTEMPTS", "0", "is not a whole number of at least 1"),
    ("SEAMS_EVENT_MAX_ATTEMPTS", "-3", "is not a whole number of at least 1"),
    ("SEAMS_EVENT_MAX_ATTEMPTS", "six", "is not a whole number of at least 1"),
    ("SEAMS_EVENT_BACKOFF_BASE", "-1", "is not a number of at least 0"),
    ("SEAMS_EVENT_BACKOFF_MAX", "-1", "is not a number of at least 0"),
    ("SEAMS_EVENT_LEASE", "0", "is not a number above 0"),
    ("SEAMS_EVENT_STALE_AFTER", "-5", "is not a number of at least 0"),
    ("SEAMS_EVENT_PREPARED_STATEMENTS", "sometimes", "is not a flag"),
    ("SEAMS_HEALTH_BROKER", "sometimes", "is not one of auto, always, never"),
    ("SEAMS_HEALTH_DETAILS", "verbose", "is not a flag"),
    ("SEAMS_VALIDATE_CONTRACTS", "strict", "is not a flag"),
    ("SEAMS_LOG_FORMAT", "xml", "is not one of plain, json"),
    ("SEAMS_LOG_LEVEL", "loud", "is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("SEAMS_LOG_LEVEL", "10", "is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("SEAMS_CELERY_TASK_LOG_LEVEL", "chatty", "is not one of DEBUG, INFO"),
    ("LOG_LEVEL", "verbose", "is not one of DEBUG, INFO"),
    ("CELERY_WORKER_POOL", "forks", "is not a worker pool Seams runs: use one of threads, prefork, solo"),
    ("CELERY_BROKER_URL", "localhost:6379", "is not a URL starting with redis://"),
    ("CELERY_BROKER_URL", "http://broker", "is not a URL starting with redis://"),
    ("CELERY_RESULT_BACKEND", "nope", "is not a URL of the form <scheme>://"),
    ("CELERY_BROKER_CONNECTION_TIMEOUT", "0", "is not a number above 0"),
    ("CELERY_REDIS_SOCKET_CONNECT_TIMEOUT", "-2", "is not a number above 0"),
    ("CELERY_RESULT_EXPIRES", "0", "is not a whole number of at least 1"),
    ("CELERY_RESULT_EXPIRES", "5m", "is not a whole number of at least 1"),
    ("SEAMS_RELAY_INTERVAL", "0", "is not a number above 0"),
    ("SEAMS_RELAY_INTERVAL", "-1", "is not a number above 0"),
    ("SEAMS_TRUSTED_PROXIES", "-1", "is not a whole number of at least 0"),
    ("SEAMS_API_MAX_BODY_BYTES", "0", "is not a whole number of at least 1"),
    ("SEAMS_API_MAX_BODY_BYTES", "64k", "is not a whole number of at least 1"),
    ("SECURE_HSTS_SECONDS", "-1", "is not a whole number of at least 0"),
    ("SECURE_SSL_REDIRECT", "always", "is not a flag"),
    ("SEAMS_API_JWT_LEEWAY", "-5", "must be a whole number of seconds, 0 or more"),
    ("SEAMS_API_JWKS_COOLDOWN", "nan", "must be a number of seconds, 0 or more"),
    ("SEAMS_API_JWKS_COOLDOWN", "-1", "must be a number of seconds, 0 or more"),
]


@pytest.mark.parametrize(("name", "value", "holds"), ACCEPTED, ids=[f"{n}={v!r}" for n, v, _ in ACCEPTED])
def test_a_value_that_works_is_normalised(name: str, value: str, holds: Any, tmp_path: Path) -> None:
    assert holds(settings_of({name: value}, tmp_path))


@pytest.mark.parametrize(("name", "value", "says"), REFUSED, ids=[f"{n}={v!r}" for n, v, _ in REFUSED])
def test_a_value_that_does_not_stops_naming_the_variable(name: str, value: str, says: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as refused:
        settings_of({name: value}, tmp_path)
    assert str(refused.value).startswith(f"{name}={value!r} ") and says in str(refused.value)


def test_an_unknown_module_is_refused_and_a_label_in_the_wrong_case_is_taken() -> None:
    env = seams.Env({"SEAMS_MODULES": "Catalog, orders", "TYPO": "catalog,inventroy"})
    assert env.list("SEAMS_MODULES", choices=["catalog", "inventory", "orders"]) == ["catalog", "orders"]
    with pytest.raises(ConfigurationError, match=r"TYPO='catalog,inventroy' names inventroy: use a comma-separated list of catalog, inventory"):
        env.list("TYPO", choices=["catalog", "inventory"])


def test_a_var_dir_that_cannot_be_made_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigurationError, match="SEAMS_VAR_DIR=.*file/var.* is not a directory this process can create"):
        seams.Env({"SEAMS_VAR_DIR": str(tmp_path / "file" / "var")}).path("SEAMS_VAR_DIR", tmp_path, create=True)


def test_the_settings_choices_are_the_outboxs() -> None:
    """The settings name the outbox's modes without importing the outbox (start-up imports)."""
    assert (seams_group.DISPATCH_MODES, seams_group.COMPLETION_MODES) == (DISPATCH_MODES, COMPLETION_MODES)


@pytest.mark.parametrize(
    ("command", "variable", "value", "says"),
    [
        ("check", "SEAMS_SQLITE_SYNCHRONOUS", "garbage", "is not one of NORMAL, FULL"),
        ("runserver", "SEAMS_SQLITE_SYNCHRONOUS", "garbage", "is not one of NORMAL, FULL"),
        ("check", "SEAMS_MODULES", "catalgo", "names catalgo: use a comma-separated list of catalog"),
        ("check", "DEBUG", "maybe", "is not a flag"),
        ("check", "SEAMS_API_RATE_ANONYMOUS", "fast", "Not a rate: 'fast'"),
    ],
)
def test_manage_py_prints_the_message_not_a_traceback(command: str, variable: str, value: str, says: str, tmp_path: Path) -> None:
    env = project_env({"SEAMS_VAR_DIR": str(tmp_path), variable: value})
    result = subprocess.run(
        [sys.executable, "manage.py", command, "127.0.0.1:43999"][: 4 if command == "runserver" else 3],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert says in line and (line.startswith(f"ConfigurationError: {variable}=") or variable in line)


def test_manage_py_takes_a_blank_value_as_unset(tmp_path: Path) -> None:
    env = project_env({"SEAMS_VAR_DIR": str(tmp_path), "SEAMS_SQLITE_SYNCHRONOUS": "", "SEAMS_SQLITE_TIMEOUT": " "})
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_celery_prints_the_message_not_a_traceback(command: str, tmp_path: Path) -> None:
    """Celery loads the settings while it parses the worker's options: the traceback came from there."""
    env = project_env({"SEAMS_VAR_DIR": str(tmp_path), "SEAMS_SQLITE_SYNCHRONOUS": "bogus", "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"})
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "app", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "ConfigurationError: SEAMS_SQLITE_SYNCHRONOUS='bogus' is not one of NORMAL, FULL (any case; default NORMAL)."
    ]
