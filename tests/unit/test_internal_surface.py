"""extraction/internal.py: /internal/ is served only where a binding needs it, on the internal
listener when one is configured, and never shows next to the public routes."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.test.utils import override_settings

from contracts.kernel import ConfigurationError
from extraction.internal import exposed_modules, internal_from_env
from tests.support.identity import service_headers

OPENAPI = "/internal/catalog/v1/catalog/openapi.json"
EVERY = ["catalog", "inventory", "orders", "notifications"]


def internal(modules: object = "auto", port: int | None = None) -> override_settings:
    return override_settings(SEAMS_INTERNAL={"MODULES": modules, "PORT": port})


def get(path: str = OPENAPI, **extra: object) -> object:
    return Client().get(path, headers=service_headers("orders", path.split("/")[2]), **extra)


def test_with_nothing_extracted_the_monolith_exposes_nothing() -> None:
    with internal("auto"):
        assert exposed_modules() == set()
        answer = get()
        assert answer.status_code == 404 and answer.json() == {"detail": "Not Found"}  # even with a valid token
        events = Client().post("/internal/notifications/events/", "{}", content_type="application/json")
        assert events.status_code == 404


def test_the_monolith_exposes_what_a_module_served_elsewhere_needs() -> None:
    bound = {"orders": {"TRANSPORT": "http", "MODULE": "orders", "URL": "http://orders:8000"}}
    with internal("auto"), override_settings(SEAMS_BINDINGS=bound):
        # orders consumes Catalog; inventory and notifications handle its events; orders is elsewhere.
        assert exposed_modules() == {"catalog", "inventory", "notifications"}
        assert get().status_code == 200
        assert get("/internal/orders/v1/orders/openapi.json").status_code == 404


def test_a_process_serving_a_cut_of_the_project_exposes_its_modules() -> None:
    with internal("auto"), override_settings(SEAMS_MODULES=["catalog"], SEAMS_DISCOVERED_MODULES=EVERY):
        assert exposed_modules() == {"catalog"}


@pytest.mark.parametrize(("modules", "expected"), [("all", set(EVERY)), ("none", set()), (["catalog"], {"catalog"})])
def test_an_explicit_list_or_all_or_none(modules: object, expected: set[str]) -> None:
    with internal(modules):
        assert exposed_modules() == expected


def test_with_an_internal_port_only_requests_on_that_port_reach_the_endpoints() -> None:
    with internal("all", port=9000):
        assert get(SERVER_PORT="8000").status_code == 404
        assert get(SERVER_PORT="9000").status_code == 200


def test_internal_routes_never_show_in_the_public_openapi_or_the_debug_404_page() -> None:
    with internal("all"), override_settings(DEBUG=True):
        page = Client().get("/no-such-page/")
        assert page.status_code == 404 and b"internal/" not in page.content
        unknown = get("/internal/catalog/v1/catalog/nope")
        assert unknown.status_code == 404 and unknown.json() == {"detail": "Not Found"}
    schema = Client().get("/api/openapi.json").json()
    assert not [path for path in schema["paths"] if "internal" in path]
    assert "internal" not in json.dumps(schema.get("components", {})).lower()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SEAMS_INTERNAL": "catalog,shipping"}, "SEAMS_INTERNAL names unknown modules"),
        ({"SEAMS_INTERNAL_PORT": "http"}, "SEAMS_INTERNAL_PORT must be a TCP port number"),
    ],
)
def test_bad_settings_are_refused_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        internal_from_env(environ, EVERY)


def test_the_default_is_auto_on_the_main_port() -> None:
    assert internal_from_env({}, EVERY) == {"MODULES": "auto", "PORT": None}
    assert internal_from_env({"SEAMS_INTERNAL": "catalog, orders", "SEAMS_INTERNAL_PORT": "9000"}, EVERY) == {
        "MODULES": ["catalog", "orders"],
        "PORT": 9000,
    }
