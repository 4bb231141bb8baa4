"""Fixtures of the console tests: the shop with the outbox, a staff user and a logged-in client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import override_settings

from tests.eventprobe.handlers import attempts
from tests.integration.shop import add_product

#: One attempt: a failing handler is a dead letter at once.
ONE_ATTEMPT = {"DISPATCH": "inline", "MAX_ATTEMPTS": 1, "BACKOFF_BASE": 0.0, "BACKOFF_MAX": 0.0}


@pytest.fixture
def shop(transactional_db: None) -> Iterator[Client]:
    with override_settings(SEAMS_EVENT_BACKEND="contracts.kernel.outbox.OutboxEventBackend", SEAMS_EVENTS=ONE_ATTEMPT):
        attempts.clear()
        client = Client()
        add_product(client, "KB-101", 4999, stock=10)
        yield client


@pytest.fixture
def operator(shop: Client) -> Client:
    get_user_model().objects.create_user("operator", password="op-pass", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="operator", password="op-pass")
    return client
