"""contracts/kernel/databases.py: one alias per module, SQLite files or PostgreSQL schemas."""

from pathlib import Path

import pytest
from django.db import connections

from contracts.kernel.databases import ensure_schemas, module_databases, schema_of, sqlite_options

WAL_NORMAL = {
    "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA wal_autocheckpoint=8000",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20.0,
}


def test_without_url_every_module_gets_a_sqlite_file(tmp_path: Path) -> None:
    directory = tmp_path / "var" / "data"
    databases = module_databases(["catalog", "orders"], database_url=None, sqlite_dir=directory)
    assert directory.is_dir()  # created
    assert databases == {
        alias: {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(directory / f"{alias}.sqlite3"),
            "OPTIONS": WAL_NORMAL,
            "CONN_MAX_AGE": 0,
        }
        for alias in ["default", "catalog", "orders"]
    }
    assert module_databases([], database_url="", sqlite_dir=directory) == {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(directory / "default.sqlite3"),
            "OPTIONS": WAL_NORMAL,
            "CONN_MAX_AGE": 0,
        }
    }


def test_sqlite_full_synchronous_and_timeout_are_configurable(tmp_path: Path) -> None:
    databases = module_databases(
        ["orders"], database_url=None, sqlite_dir=tmp_path, sqlite_synchronous="full", sqlite_timeout=5
    )
    assert databases["orders"]["OPTIONS"] == {
        "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=FULL;PRAGMA wal_autocheckpoint=8000",
        "transaction_mode": "IMMEDIATE",
        "timeout": 5,
    }


@pytest.mark.parametrize(("options", "message"), [
    ({"synchronous": "OFF"}, "synchronous must be one of NORMAL, FULL, got 'OFF'"),
    ({"synchronous": "NORMAL; DROP TABLE x"}, "synchronous must be one of"),
    ({"timeout": 0}, "timeout must be a positive number of seconds"),
])
def test_unsafe_or_unknown_sqlite_settings_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sqlite_options(**options)


def test_a_sqlite_connection_gets_wal_the_pragma_and_immediate_transactions(
    tmp_path: Path, django_db_blocker: pytest.FixtureRequest
) -> None:
    """The options reach a real connection (a file of its own): Django's backend applies them on connect."""
    from django.db.backends.sqlite3.base import DatabaseWrapper

    settings_dict = module_databases(["orders"], database_url=None, sqlite_dir=tmp_path)["orders"]
    wrapper = DatabaseWrapper({**_django_defaults(), **settings_dict}, alias="orders_probe")
    try:
        with django_db_blocker.unblock(), wrapper.cursor() as cursor:
            assert cursor.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert cursor.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
            assert cursor.execute("PRAGMA busy_timeout").fetchone() == (20000,)
            assert cursor.execute("PRAGMA wal_autocheckpoint").fetchone() == (8000,)  # the thread checkpoints
        assert wrapper.transaction_mode == "IMMEDIATE"
    finally:
        wrapper.close()


def test_synchronous_full_reaches_a_real_connection_from_the_environment(
    tmp_path: Path, django_db_blocker: pytest.FixtureRequest
) -> None:
    """``SEAMS_SQLITE_SYNCHRONOUS=FULL make run`` (docs/events.md): the variable, read by the shared
    settings, is what a connection's ``PRAGMA synchronous`` reports (2 = FULL), WAL kept."""
    from django.db.backends.sqlite3.base import DatabaseWrapper

    from extraction import settings as seams

    env = seams.Env({"SEAMS_SQLITE_SYNCHRONOUS": "FULL"})
    settings_dict = seams.databases(env, ["orders"], var_dir=tmp_path)["orders"]
    wrapper = DatabaseWrapper({**_django_defaults(), **settings_dict}, alias="orders_full_probe")
    try:
        with django_db_blocker.unblock(), wrapper.cursor() as cursor:
            assert cursor.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
            assert cursor.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        wrapper.close()


def _django_defaults() -> dict[str, object]:
    """The keys Django's ConnectionHandler fills in for every alias."""
    return {"ATOMIC_REQUESTS": False, "AUTOCOMMIT": True, "CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": False,
            "TIME_ZONE": None, "USER": "", "PASSWORD": "", "HOST": "", "PORT": "", "TEST": {}}


def test_a_postgres_url_gives_one_schema_per_module(tmp_path: Path) -> None:
    databases = module_databases(
        ["catalog", "orders"],
        database_url="postgres://shop:secret@db.example:6543/shop",
        sqlite_dir=tmp_path / "unused",
    )
    assert list(databases) == ["default", "catalog", "orders"]
    for settings_dict in databases.values():
        assert settings_dict["ENGINE"] == "django.db.backends.postgresql"
        assert (settings_dict["NAME"], settings_dict["USER"], settings_dict["PASSWORD"]) == ("shop", "shop", "secret")
        assert (settings_dict["HOST"], settings_dict["PORT"]) == ("db.example", 6543)
        assert settings_dict["CONN_MAX_AGE"] == 0
    assert databases["default"]["OPTIONS"] == {"options": "-c search_path=public"}
    assert databases["catalog"]["OPTIONS"] == {"options": "-c search_path=catalog"}
    assert databases["orders"]["OPTIONS"] == {"options": "-c search_path=orders"}
    assert not (tmp_path / "unused").exists()


def test_url_options_are_kept_next_to_the_search_path(tmp_path: Path) -> None:
    databases = module_databases(["catalog"], database_url="postgresql://u@h/db?sslmode=require", sqlite_dir=tmp_path)
    assert databases["catalog"]["OPTIONS"] == {"sslmode": "require", "options": "-c search_path=catalog"}
    assert databases["default"]["OPTIONS"] == {"sslmode": "require", "options": "-c search_path=public"}


@pytest.mark.parametrize("url", ["mysql://u:p@h/db", "sqlite:///tmp/x.sqlite3"])
def test_other_database_urls_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"DATABASE_URL must be postgres://\.\.\. or unset"):
        module_databases(["catalog"], database_url=url, sqlite_dir=tmp_path)


@pytest.mark.parametrize(
    ("settings_dict", "schema"),
    [
        ({"OPTIONS": {"options": "-c search_path=catalog"}}, "catalog"),
        ({"OPTIONS": {"options": "-c search_path=orders,public"}}, "orders"),
        ({"OPTIONS": {"options": "-c statement_timeout=5000 -c search_path=inventory"}}, "inventory"),
        ({"OPTIONS": {"options": "-c statement_timeout=5000"}}, None),
        ({"OPTIONS": {}}, None),
        ({}, None),
    ],
)
def test_schema_of(settings_dict: dict[str, object], schema: str | None) -> None:
    assert schema_of(settings_dict) == schema


def test_schema_of_reads_what_module_databases_wrote(tmp_path: Path) -> None:
    databases = module_databases(["catalog"], database_url="postgres://u@h/db", sqlite_dir=tmp_path)
    assert {alias: schema_of(d) for alias, d in databases.items()} == {"default": "public", "catalog": "catalog"}


@pytest.mark.django_db(databases="__all__")
def test_ensure_schemas_creates_the_schema_of_each_postgres_alias() -> None:
    expected = [
        schema_of(connections[alias].settings_dict)
        for alias in connections
        if connections[alias].vendor == "postgresql" and schema_of(connections[alias].settings_dict)
    ]
    assert ensure_schemas() == expected  # SQLite: nothing to create
    assert ensure_schemas() == expected  # idempotent


def test_postgres_connections_are_kept_and_health_checked_when_asked() -> None:
    from pathlib import Path

    from contracts.kernel.databases import module_databases

    kept = module_databases(["orders"], database_url="postgres://u@h/db", sqlite_dir=Path("/tmp"), conn_max_age=60)
    assert kept["orders"]["CONN_MAX_AGE"] == 60 and kept["orders"]["CONN_HEALTH_CHECKS"] is True
    fresh = module_databases(["orders"], database_url="postgres://u@h/db", sqlite_dir=Path("/tmp"))
    assert fresh["orders"]["CONN_MAX_AGE"] == 0 and fresh["orders"]["CONN_HEALTH_CHECKS"] is False


def test_sqlite_connections_are_kept_when_asked(tmp_path: Path) -> None:
    """A worker (or a request thread) keeps its SQLite files open for ``conn_max_age`` seconds,
    instead of reopening them and rerunning the PRAGMAs for every task."""
    kept = module_databases(["orders"], database_url=None, sqlite_dir=tmp_path, conn_max_age=60)
    assert kept["orders"]["CONN_MAX_AGE"] == 60 and "CONN_HEALTH_CHECKS" not in kept["orders"]
    assert module_databases(["orders"], database_url=None, sqlite_dir=tmp_path)["orders"]["CONN_MAX_AGE"] == 0
