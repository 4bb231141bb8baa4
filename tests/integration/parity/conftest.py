"""The parity suite: each reference module's contract tests, written once against ``use(Contract)``,
run against every binding through ONE parametrized fixture, ``binding``:

* ``inprocess`` — the implementation in this process (with boundary validation, as in tests), on
  the test databases;
* ``http`` — the HTTP transport to a real gunicorn serving ``app.wsgi``;
* ``celery`` — the Celery transport to a real worker consuming the modules' RPC queues.

The remote processes share one fresh database (see ``served.py``) and start once per session. A test
sets up its data with ``binding.shop`` (the public REST API of wherever the contracts are served:
Django's test client in-process, the gunicorn process otherwise), with SKUs of its own, and then
only calls contracts. Nothing else differs between the three runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.test import Client
from django.test.utils import override_settings
from django.urls import get_resolver

from . import served

BINDINGS = ["inprocess", "http", "celery"]


@dataclass(frozen=True)
class Binding:
    name: str
    shop: served.Shop

    def sku(self) -> str:
        """A SKU of this test's own (the remote database lives for the whole session)."""
        return f"P-{uuid.uuid4().hex[:10].upper()}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In-process runs use the test databases (every module alias, committed, so that events are
    delivered); remote runs touch no database of this process at all."""
    here = str(config.rootpath / "tests" / "integration" / "parity")
    for item in items:
        callspec = getattr(item, "callspec", None)
        if str(item.path).startswith(here) and callspec is not None and callspec.params.get("binding") == "inprocess":
            item.add_marker(pytest.mark.django_db(transaction=True, databases="__all__"))


@pytest.fixture(scope="session")
def served_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[served.ServedShop]:
    shop = served.acquire(tmp_path_factory)
    try:
        yield shop
    finally:
        served.release()


def _require_http_transport(shop: served.ServedShop) -> None:
    """Fail (never skip) with a clear message when the HTTP transport is missing or not mounted."""
    try:
        from extraction.http.client import HttpTransport  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"The 'http' binding needs the HTTP transport (extraction/http/client.py): {exc}", pytrace=False)
    import httpx

    from tests.support.identity import service_headers

    url = f"{shop.web()}/internal/catalog/v1/catalog/openapi.json"
    status = httpx.get(url, timeout=30, headers=service_headers("orders", "catalog")).status_code
    if status != 200:
        pytest.fail(
            f"The 'http' binding needs the internal endpoints mounted (app/urls.py: include('extraction.http.urls')); "
            f"GET {url} answered {status}.",
            pytrace=False,
        )


@pytest.fixture(params=BINDINGS)
def binding(request: pytest.FixtureRequest) -> Iterator[Binding]:
    """How the contracts under test are served; ``use(Contract)`` inside the test picks it up."""
    # app.api mounts the routers of in-process modules once, when first imported: load it as
    # configured, never under a remote binding of ours.
    get_resolver().url_patterns  # noqa: B018
    if request.param == "inprocess":
        with override_settings(SEAMS_BINDINGS={}):
            yield Binding("inprocess", served.ApiShop(Client()))
        return
    shop: served.ServedShop = request.getfixturevalue("served_shop")
    if request.param == "http":
        _require_http_transport(shop)
    with override_settings(SEAMS_BINDINGS=shop.bindings(request.param)):
        yield Binding(request.param, shop.shop)
