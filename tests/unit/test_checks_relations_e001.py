# ruff: noqa: DJ008  (throwaway models defined inside tests need no __str__)
"""seams.E001: a module's model relates (FK, M2M, O2O) to a model of another module."""

from django.contrib.auth.models import User
from django.db import models
from django.test.utils import isolate_apps

from contracts.kernel.checks import relation_errors

MODULES = {"catalog", "orders"}
HINT = "Store the other side's id in a plain field"


def e001(*model_classes: type[models.Model]) -> list[str]:
    errors = relation_errors(model_classes, MODULES)
    assert all(e.id == "seams.E001" and HINT in e.hint for e in errors)
    return [e.msg for e in errors]


@isolate_apps("modules.catalog")
def test_a_foreign_key_to_another_module() -> None:
    class Product(models.Model):
        class Meta:
            app_label = "catalog"

    class OrderLine(models.Model):
        product = models.ForeignKey(Product, on_delete=models.CASCADE)

        class Meta:
            app_label = "orders"

    (message,) = e001(Product, OrderLine)
    assert message == "orders.OrderLine.product is a ForeignKey to catalog.Product, a model of another module."


@isolate_apps("modules.catalog")
def test_a_foreign_key_by_name_to_another_module() -> None:
    class Product(models.Model):
        class Meta:
            app_label = "catalog"

    class OrderLine(models.Model):
        product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT)

        class Meta:
            app_label = "orders"

    assert e001(OrderLine) == [
        "orders.OrderLine.product is a ForeignKey to catalog.Product, a model of another module."
    ]


@isolate_apps("modules.catalog")
def test_many_to_many_and_one_to_one_to_another_module() -> None:
    class Product(models.Model):
        class Meta:
            app_label = "catalog"

    class Order(models.Model):
        products = models.ManyToManyField(Product)
        featured = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="+")

        class Meta:
            app_label = "orders"

    assert sorted(e001(Product, Order)) == [
        "orders.Order.featured is a OneToOneField to catalog.Product, a model of another module.",
        "orders.Order.products is a ManyToManyField to catalog.Product, a model of another module.",
    ]


@isolate_apps("modules.catalog")
def test_inheriting_a_concrete_model_of_another_module() -> None:
    """Multi-table inheritance is a one-to-one to the parent's table: a relation across modules."""

    class Product(models.Model):
        class Meta:
            app_label = "catalog"

    class SpecialProduct(Product):
        class Meta:
            app_label = "orders"

    (message,) = e001(Product, SpecialProduct)
    assert message.startswith("orders.SpecialProduct.product_ptr is a OneToOneField to catalog.Product")


@isolate_apps("modules.catalog")
def test_a_relation_to_one_of_djangos_apps_is_also_refused() -> None:
    class Order(models.Model):
        customer = models.ForeignKey(User, on_delete=models.CASCADE)

        class Meta:
            app_label = "orders"

    assert e001(Order) == ["orders.Order.customer is a ForeignKey to auth.User, a model of another module."]


@isolate_apps("modules.catalog")
def test_relations_inside_one_module_are_fine() -> None:
    class Order(models.Model):
        class Meta:
            app_label = "orders"

    class OrderLine(models.Model):
        order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
        parent = models.ForeignKey("self", null=True, on_delete=models.CASCADE)
        tags = models.ManyToManyField("orders.Order", related_name="+")

        class Meta:
            app_label = "orders"

    class SpecialOrder(Order):  # inheritance inside the module
        class Meta:
            app_label = "orders"

    assert e001(Order, OrderLine, SpecialOrder) == []


@isolate_apps("modules.catalog")
def test_models_outside_modules_are_not_checked() -> None:
    class Product(models.Model):
        class Meta:
            app_label = "catalog"

    class Report(models.Model):
        product = models.ForeignKey(Product, on_delete=models.CASCADE)

        class Meta:
            app_label = "reports"  # not a module

    assert e001(Product, Report) == []


# --- the allow-list of shared framework models (SEAMS_SHARED_MODELS) ---------------------------------
@isolate_apps("modules.orders")
def test_a_shared_model_may_be_pointed_at_without_a_database_constraint() -> None:
    class Order(models.Model):
        customer = models.ForeignKey(User, on_delete=models.CASCADE, db_constraint=False)

        class Meta:
            app_label = "orders"

    assert relation_errors([Order], MODULES, shared={"auth.User"}) == []
    assert relation_errors([Order], MODULES, shared={"auth"}) == []  # a whole app
    (error,) = relation_errors([Order], MODULES, shared={"auth.Group"})  # another model of auth is not enough
    assert error.msg == "orders.Order.customer is a ForeignKey to auth.User, a model of another module."


@isolate_apps("modules.orders")
def test_a_shared_model_with_a_database_constraint_is_still_e001_saying_why() -> None:
    class Order(models.Model):
        customer = models.ForeignKey(User, on_delete=models.CASCADE)

        class Meta:
            app_label = "orders"

    (error,) = relation_errors([Order], MODULES, shared={"auth.User"})
    assert error.id == "seams.E001"
    assert error.msg == "orders.Order.customer is a ForeignKey to the shared model auth.User with a database constraint."
    assert "db_constraint=False" in error.hint and "'default' database" in error.hint


@isolate_apps("modules.catalog")
def test_the_allow_list_never_opens_another_module() -> None:
    class Product(models.Model):
        class Meta:
            app_label = "catalog"

    class OrderLine(models.Model):
        product = models.ForeignKey(Product, on_delete=models.CASCADE, db_constraint=False)

        class Meta:
            app_label = "orders"

    assert relation_errors([Product, OrderLine], MODULES, shared={"auth.User"}) != []
    assert relation_errors([Product, OrderLine], MODULES, shared={"catalog.Product", "catalog"}) != []  # a module's model is never shared
