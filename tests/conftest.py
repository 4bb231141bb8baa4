"""Test set-up shared by every suite.

Django's test runner treats aliases that share a test database (our PostgreSQL aliases: one
database, one schema each) as one database and migrates only the first of them, and it never
creates schemas. ``django_db_setup`` therefore creates the test databases as usual, then creates
each module's schema and migrates every alias. It asks for ``django_db_modify_db_settings`` first,
as pytest-django's own does: under pytest-xdist that gives each worker test databases of its own
(``test_seams_gw0``...; ``tests/support/xdist_plan.py``).
"""

from __future__ import annotations

import pytest
from django.db import connections
from django.test.utils import setup_databases, teardown_databases

from contracts.kernel.databases import migrate_all

#: Seams' own fixtures for users' tests: published_events, deliver_events, scenario, fake_contract.
#: How ``make test`` shares the suite between pytest-xdist workers: tests.support.xdist_plan.
pytest_plugins = ["contracts.kernel.pytest_plugin", "tests.support.xdist_plan"]


@pytest.fixture(scope="session")
def django_db_setup(
    django_test_environment: None, django_db_modify_db_settings: None, django_db_blocker: pytest.FixtureRequest
) -> object:
    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=0, interactive=False, keepdb=False, aliases=set(connections), serialized_aliases=set()
        )
        migrate_all(verbosity=0)
    yield
    with django_db_blocker.unblock():
        # On PostgreSQL every module alias is a connection to the one test database: all must be
        # closed before it can be dropped, the completion flusher thread's included (CONN_MAX_AGE).
        from contracts.kernel.outbox.completions import deferred

        deferred.close_connections()
        connections.close_all()
        teardown_databases(config, verbosity=0)


@pytest.fixture(scope="session", autouse=True)
def _tracing() -> object:
    """Every test runs with the OpenTelemetry SDK on, its spans kept in memory (``spans`` fixture)."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from contracts.kernel.telemetry import tracing

    exporter = InMemorySpanExporter()
    tracing.configure("seams-tests", exporter=exporter)
    return exporter


@pytest.fixture
def spans(_tracing: object) -> object:
    """The in-memory span exporter, emptied before the test: ``spans.get_finished_spans()``."""
    _tracing.clear()  # type: ignore[attr-defined]
    return _tracing


@pytest.fixture(autouse=True)
def _celery_current_app_is_the_projects() -> object:
    """A test that makes another Celery app current (``Celery(...)`` without ``set_as_current=False``)
    leaks it into every later test: the transports send through ``current_app``, so later Celery
    calls went to that app's broker and timed out. Fail the test that leaks it, not the ones after."""
    from celery import current_app

    from app.celery import celery_app

    yield
    leaked = current_app._get_current_object()
    if leaked is not celery_app:
        celery_app.set_current()
        pytest.fail(f"this test left Celery app {leaked!r} current: create it with set_as_current=False")
