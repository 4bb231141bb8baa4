"""Fixtures of the outbox integration tests: real module databases, the shop's demo products."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client
from django.test.utils import override_settings

from tests.eventprobe.handlers import attempts
from tests.integration.shop import add_product

#: Retries without waiting, and few of them, so the tests can drive a publication to its end.
FAST = {"DISPATCH": "inline", "MAX_ATTEMPTS": 3, "BACKOFF_BASE": 0.0, "BACKOFF_MAX": 0.0, "LEASE": 60, "STALE_AFTER": 30}


@pytest.fixture
def outbox_settings() -> Iterator[dict[str, object]]:
    with override_settings(SEAMS_EVENT_BACKEND="contracts.kernel.outbox.OutboxEventBackend", SEAMS_EVENTS=FAST):
        yield FAST


@pytest.fixture
def shop(transactional_db: None, outbox_settings: dict[str, object]) -> Client:
    attempts.clear()
    client = Client()
    add_product(client, "KB-101", 4999, stock=10)
    add_product(client, "MS-202", 1999, stock=10)
    return client
