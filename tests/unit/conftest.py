"""Fixtures of the kernel unit tests.

* Contracts and events declared inside a test are forgotten afterwards, so that a deliberately
  broken declaration never reaches ``manage.py check`` in a later test.
* ``probe_module`` installs ``tests.unit.probe`` next to the real modules for one test.
"""

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test.utils import override_settings

from contracts.kernel.contract import declared_contracts
from contracts.kernel.events import declared_events
from contracts.kernel.modules import ModuleConfig, get_module
from contracts.kernel.resolution import reset_resolution_cache


@pytest.fixture(autouse=True)
def forget_test_declarations() -> Iterator[None]:
    contracts, events = dict(declared_contracts), dict(declared_events)
    yield
    declared_contracts.clear()
    declared_contracts.update(contracts)
    declared_events.clear()
    declared_events.update(events)
    reset_resolution_cache()


@pytest.fixture
def probe_module() -> Iterator[ModuleConfig]:
    """The probe module, installed (with every real app) for the duration of the test."""
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, "tests.unit.probe"]):
        yield get_module("probe")
