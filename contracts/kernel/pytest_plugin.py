"""pytest fixtures for projects built on Seams. Enable with ``pytest_plugins = ["contracts.kernel.pytest_plugin"]``.

* ``published_events`` — a ``PublishedEvents`` list recording everything published during the test.
* ``deliver_events`` — call it to deliver every pending publication synchronously.
* ``scenario`` — a ``Scenario`` (stimulate → wait for an event or a state change → verify).
* ``fake_contract`` — ``fake_contract(Catalog, FakeCatalog())`` serves a contract with a fake for the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

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
