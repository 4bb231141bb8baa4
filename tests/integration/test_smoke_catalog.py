import pytest
from django.test import Client

from contracts.catalog import Catalog, ProductNotFound
from contracts.kernel import use
from tests.support.tokens import staff


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_create_and_get_product() -> None:
    client = Client(headers=staff())
    r = client.post("/api/catalog/products/", {"sku": "A-1", "name": "Apple", "price_cents": 120}, content_type="application/json")
    assert r.status_code == 201, r.content
    r = client.post("/api/catalog/products/", {"sku": "A-1", "name": "Apple", "price_cents": 120}, content_type="application/json")
    assert r.status_code == 409, r.content
    assert use(Catalog).get_product("A-1").price_cents == 120
    with pytest.raises(ProductNotFound):
        use(Catalog).get_product("nope")
    r = client.post("/api/catalog/products/", "{not json", content_type="application/json")
    assert r.status_code in (400, 422)
