"""Schemathesis against every internal contract API, in process (WSGI), with a valid service token:
each operation's documented statuses and schemas hold for generated inputs, valid and invalid,
with every check; then the stateful phase follows the OpenAPI links between a contract's methods
(``extraction.http.links``: ``Catalog.get_products -> get_product -> get_products``; the other
contracts have one method each, so no sequence of their calls feeds one answer into the next).

The schema is loaded from the endpoint itself (``/internal/<m>/v<N>/<contract>/openapi.json``, which
needs the token too). Each request gets a new token (a token is good for one request: replay
protection), given to schemathesis as auth so that its ignored-auth check sends its own invalid
ones. Bounded (``MAX_EXAMPLES`` per operation, a few stateful steps) so that it stays fast in
``make test``.
"""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from contracts.catalog import Catalog
from contracts.kernel.modules import module_configs
from extraction.http.wire import contract_prefix
from tests.integration.shop import add_product
from tests.support.identity import TEST_CALLERS, service_headers

MAX_EXAMPLES = 25

#: A schema-valid string holding the NUL character is refused with 422 (PostgreSQL's text columns
#: cannot store it; before, it was a 500 from the database): the one 422 schema-valid input gets.
#: 404: a SKU or order id that does not exist. Never 401/403 (the token is valid and allowed) nor 5xx.
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422"]}}}
)

CONTRACTS = [contract for config in module_configs() for contract in config.provides]

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)  # autocommit: the WSGI handler closes connections caught in a test transaction (PostgreSQL)


def load_schema(contract: type) -> Any:
    module = contract.__seams_module__
    schema = schemathesis.openapi.from_wsgi(
        f"/{contract_prefix(contract)}/openapi.json",
        get_wsgi_application(),
        headers=service_headers(TEST_CALLERS[module], module),
        config=CONFIG,
    )

    @schema.auth(refresh_interval=None)  # never cached: a token is good for one request
    class ServiceToken:
        def get(self, case: Any, ctx: Any) -> str:
            return service_headers(TEST_CALLERS[module], module)["Authorization"]

        def set(self, case: Any, data: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": data}

    return schema


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.__seams_name__)
def test_every_internal_contract_api_holds_its_schema(contract: type, mode: GenerationMode) -> None:
    schema = load_schema(contract)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the contract's OpenAPI document lists no operation"
    for operation in operations:

        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate()

        try:
            run()
        except Exception as exc:  # every operation's failure, then one assertion naming them all
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_the_catalog_links_are_followed_by_the_stateful_phase() -> None:
    """Products exist (so the answers carry SKUs to follow); the state machine chains get_products
    and get_product through the links and validates every step with every check."""
    client = Client()
    for sku, price in (("KB-101", 4999), ("LAMP-1", 2500)):
        add_product(client, sku, price)
    schema = load_schema(Catalog)
    machine = schema.as_state_machine()
    prefix = f"/{contract_prefix(Catalog)}"
    assert {f"POST {prefix}/get_products -> 200", f"POST {prefix}/get_product -> 200"} <= set(machine.bundles)
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
