"""pytest fixtures for projects built on Seams. Enable with ``pytest_plugins = ["contracts.kernel.pytest_plugin"]``.

* ``published_events`` — a ``PublishedEvents`` list recording everything published during the test.
* ``deliver_events`` — call it to deliver every pending publication synchronously.
* ``scenario`` — a ``Scenario`` (stimulate → wait for an event or a state change → verify).
* ``fake_contract`` — ``fake_contract(Catalog, FakeCatalog())`` serves a contract with a fake for the test.

Marker ``@pytest.mark.seams_module("orders")`` (or ``mode="direct"``): a module-isolated test — other
modules' contracts refuse to answer unless faked (``direct``: the consumed ones are real), other
modules' handlers are not subscribed, and only the reachable modules' databases (plus ``default``)
may be queried. See ``contracts.kernel.isolation``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from .isolation import isolate_module, module_scope
from .testing import PublishedEvents, Scenario, deliver_pending, override_contract, record_published


@pytest.fixture
def published_events() -> Iterator[PublishedEvents]:
    with record_published() as published:
        yield published


@pytest.fixture
def deliver_events() -> Callable[..., int]:
    return deliver_pending


@pytest.fixture
def scenario() -> Scenario:
    return Scenario(timeout=30.0)


@pytest.fixture
def fake_contract() -> Iterator[Callable[[Any, Any], Any]]:
    with ExitStack() as stack:
        yield lambda contract, fake: stack.enter_context(override_contract(contract, fake))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "seams_module(label, mode='standalone'): test one module alone (or with its direct dependencies, "
        "mode='direct'); other modules' contracts, handlers and databases are out of reach",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A module test gets the databases of its scope, unless it names its own with ``django_db``."""
    for item in items:
        marker = item.get_closest_marker("seams_module")
        if marker is None or item.get_closest_marker("django_db") is not None:
            continue
        item.add_marker(pytest.mark.django_db(databases=module_scope(*marker.args, **marker.kwargs).databases))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After each test body, before its databases are torn down: write the completion marks the
    outbox still holds back (``outbox.completions``), so none leaks into the next test."""
    yield
    from .outbox.completions import deferred

    try:
        deferred.flush()
    except Exception:  # the test's databases are no longer usable: nothing to write them to
        deferred.discard()


@pytest.fixture(autouse=True)
def _seams_module_isolation(request: pytest.FixtureRequest) -> Iterator[None]:
    marker = request.node.get_closest_marker("seams_module")
    if marker is None:
        yield
        return
    with isolate_module(*marker.args, **marker.kwargs):
        yield
