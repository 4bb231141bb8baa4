"""A hand-written django-ninja endpoint doing what ``Catalog.get_product`` does, without Seams."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import NinjaAPI, Schema

from contracts.catalog import ProductDTO, ProductNotFound

api = NinjaAPI(title="bench raw baseline", urls_namespace="bench-raw", docs_url=None)


class SkuIn(Schema):
    sku: str


class ErrorOut(Schema):
    message: str


_catalog = None


def catalog():  # type: ignore[no-untyped-def]
    """The catalog implementation, called directly (imported late: the app registry must be ready)."""
    global _catalog
    if _catalog is None:
        from modules.catalog.implementation import CatalogImplementation

        _catalog = CatalogImplementation()
    return _catalog


@api.post("/get_product", response={200: ProductDTO, 404: ErrorOut})
def get_product(request: HttpRequest, body: SkuIn):  # type: ignore[no-untyped-def]
    try:
        return catalog().get_product(body.sku)
    except ProductNotFound as exc:
        return 404, {"message": str(exc)}
