"""extraction/internal.py: /internal/ is served only where a binding needs it, on the internal
listener when one is configured, and never shows next to the public routes."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.test.utils import override_settings

from contracts.kernel import ConfigurationError
from contracts.kernel.isolation import isolate_module
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


def test_the_remembered_answer_follows_a_narrowed_subscriber_table() -> None:
    # exposed_modules() is worked out once, not per request; isolate_module swaps the subscriber
    # table, and then inventory's and notifications' handlers are no longer this process's to serve.
    bound = {"orders": {"TRANSPORT": "http", "MODULE": "orders", "URL": "http://orders:8000"}}
    with internal("auto"), override_settings(SEAMS_BINDINGS=bound):
        assert exposed_modules() == {"catalog", "inventory", "notifications"}
        with isolate_module("orders"):
            assert exposed_modules() == {"catalog"}
        assert exposed_modules() == {"catalog", "inventory", "notifications"}
    with internal("auto"):
        assert exposed_modules() == set()  # a setting changed: worked out again


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


#: Paths that went through the middleware placed after InternalSurfaceMiddleware (test below).
SEEN_AFTER: list[str] = []


class RecordAfter:
    """A middleware placed after the internal surface's: it sees only what is not dispatched past it."""

    def __init__(self, get_response: object) -> None:
        self.get_response = get_response

    def __call__(self, request: object) -> object:
        SEEN_AFTER.append(request.path)  # type: ignore[attr-defined]
        return self.get_response(request)  # type: ignore[operator]


def test_an_internal_request_goes_straight_to_its_view_past_the_browser_middleware() -> None:
    """Sessions, CSRF, messages and the rest are for browsers; an internal call skips them (a fifth
    of its serving CPU) while what comes before the internal surface (metrics, security) still runs."""
    from django.conf import settings

    middleware = list(settings.MIDDLEWARE)
    after = middleware.index("extraction.internal.InternalSurfaceMiddleware") + 1
    middleware.insert(after, f"{__name__}.RecordAfter")
    SEEN_AFTER.clear()
    with internal("all"), override_settings(MIDDLEWARE=middleware):
        answer = get()
        assert answer.status_code == 200 and answer.json()["info"]["title"].startswith("catalog.Catalog")
        assert "X-Frame-Options" not in answer and "X-Content-Type-Options" in answer  # security ran, the frame header did not
        refused = Client().get(OPENAPI)  # no token: the view's own 401, through the lean dispatch
        assert refused.status_code == 401
        assert Client().get("/health/live").status_code == 200
    assert SEEN_AFTER == ["/health/live"]


def test_an_internal_answer_carries_its_content_length() -> None:
    """As CommonMiddleware gives every other answer (gunicorn would otherwise send it chunked), for
    a view's answer and for a refusal alike."""
    with internal("all"):
        for answer in (get(), Client().get(OPENAPI)):
            assert answer["Content-Length"] == str(len(answer.content)), answer.status_code


def test_an_internal_request_with_a_host_outside_allowed_hosts_is_still_a_400() -> None:
    """CommonMiddleware checks ALLOWED_HOSTS for other requests; the lean dispatch checks it itself
    (without the tracing middleware, which happens to check it too when tracing is on)."""
    from django.conf import settings

    untraced = [m for m in settings.MIDDLEWARE if not m.startswith("opentelemetry")]
    with internal("all"), override_settings(MIDDLEWARE=untraced):
        call = "/internal/catalog/v1/catalog/get_products"
        body = json.dumps({})  # refused by the view itself (422): no database needed
        ok = Client().post(call, body, content_type="application/json", headers=service_headers("orders", "catalog"))
        assert ok.status_code == 422
        answer = Client().post(
            call, body, content_type="application/json", headers=service_headers("orders", "catalog"), HTTP_HOST="evil.example"
        )
        assert answer.status_code == 400
