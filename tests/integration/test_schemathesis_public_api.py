"""Schemathesis against the public API, in process (WSGI), with every check: no 5xx, every status
and header documented, responses matching their schemas, schema-violating requests refused
(negative generation: ``price_cents: false`` must be a 4xx), valid ones accepted, auth not ignored.
Then the stateful run follows the OpenAPI links (product -> its stock and a price, order -> the
order read back by its owner).

The run is bounded (``MAX_EXAMPLES`` per operation, a few stateful steps) so it stays within a few
seconds per operation; the rate limits are lifted (they are tested on their own).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.cache import caches
from django.core.wsgi import get_wsgi_application
from django.test import override_settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from tests.support.tokens import customer, staff

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

MAX_EXAMPLES = 25
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
        "operations": [
            {
                # A schema-valid order naming a SKU the catalog does not sell is a documented 422
                # (a business refusal naming the line); everywhere else a 422 for valid data fails.
                "include-path": "/api/orders/",
                "include-method": "POST",
                "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]}},
            }
        ],
    }
)


def headers_for(path: str) -> dict[str, str]:
    """The token an operation needs: a customer's for orders and notifications, staff otherwise."""
    if path.startswith(("/api/orders", "/api/notifications")):
        return customer("schemathesis@example.com")
    return staff()


def load_schema() -> Any:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application(), config=CONFIG)

    @schema.auth(cache_by_key=lambda case, ctx: case.operation.path)
    class Tokens:
        """The token each operation needs, given to schemathesis as auth (so its ignored-auth check
        knows which requests carry valid credentials and sends its own invalid ones)."""

        def get(self, case: Any, ctx: Any) -> str:
            return headers_for(case.operation.path)["Authorization"]

        def set(self, case: Any, data: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": data}

    return schema


@pytest.fixture(autouse=True)
def no_rate_limits() -> Iterator[None]:
    with override_settings(SEAMS_API_RATE_LIMITS={"ANONYMOUS": None, "AUTHENTICATED": None}):
        caches["seams-rate"].clear()
        yield


def operation_ids() -> list[str]:
    from app.api import api

    return [
        f"{method.upper()} {path}"
        for path, item in api.get_openapi_schema()["paths"].items()
        for method in item
    ]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_every_operation_holds_under_generated_input(mode: GenerationMode) -> None:
    """Each operation, with valid input (it must be accepted or refused only as documented) and
    with invalid input (it must be refused with a 4xx): every check of schemathesis."""
    schema = load_schema()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} == set(operation_ids())
    answered: dict[str, set[int]] = {}
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis.settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call_and_validate()
            answered.setdefault(f"{case.operation.method.upper()} {case.operation.path}", set()).add(response.status_code)

        run()
    if mode == GenerationMode.POSITIVE:
        # The tokens were used: every operation answered something other than 401 to valid input.
        assert all(statuses - {401} for statuses in answered.values()), answered
        assert any(200 <= status < 300 for status in answered["POST /api/catalog/products/"]), answered


def test_stateful_links_hold() -> None:
    """Sequences that follow the OpenAPI links: create a product, then read it and set its stock;
    place an order, then read it back as its owner."""
    schema = load_schema()
    machine = schema.as_state_machine()
    # Links inferred from the responses' schemas and the paths' parameters.
    assert set(machine.bundles) >= {"POST /api/catalog/products/ -> 201", "POST /api/orders/ -> 201"}

    machine.run(
        settings=hypothesis.settings(
            max_examples=10,
            stateful_step_count=5,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
