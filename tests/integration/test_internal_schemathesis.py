"""Schemathesis against every internal contract API, in process (WSGI), with a valid service token:
each operation's documented statuses and schemas hold for generated inputs, valid and invalid.

The schema is loaded from the endpoint itself (``/internal/<m>/v<N>/<contract>/openapi.json``, which
needs the token too). Bounded (``MAX_EXAMPLES`` per operation) so that it stays fast in ``make test``.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from schemathesis.config import SchemathesisConfig

from contracts.kernel.modules import module_configs
from extraction.http.wire import contract_prefix
from tests.support.identity import TEST_CALLERS, service_headers

MAX_EXAMPLES = 25

#: A schema-valid string holding the NUL character is refused with 422 (PostgreSQL's text columns
#: cannot store it; before, it was a 500 from the database): the one 422 schema-valid input gets.
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422"]}}}
)

CONTRACTS = [contract for config in module_configs() for contract in config.provides]


@pytest.mark.django_db(databases="__all__", transaction=True)  # autocommit: the WSGI handler closes connections caught in a test transaction (PostgreSQL)
@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.__seams_name__)
def test_every_internal_contract_api_holds_its_schema(contract: type) -> None:
    module = contract.__seams_module__
    headers = service_headers(TEST_CALLERS[module], module)
    schema = schemathesis.openapi.from_wsgi(
        f"/{contract_prefix(contract)}/openapi.json", get_wsgi_application(), headers=headers, config=CONFIG
    )
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the contract's OpenAPI document lists no operation"
    for operation in operations:

        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            # A token is good for one request (replay protection): a new one for every case.
            case.call_and_validate(headers=service_headers(TEST_CALLERS[module], module))

        try:
            run()
        except Exception as exc:  # every operation's failure, then one assertion naming them all
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
