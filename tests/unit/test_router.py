# ruff: noqa: DJ008  (throwaway models defined inside tests need no __str__)
"""contracts/kernel/router.py: each module's models in its own alias, no relation across modules."""

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.test.utils import isolate_apps

from contracts.kernel import ModuleConfig
from contracts.kernel.models import Publication
from contracts.kernel.router import ModuleRouter
from modules.catalog.models import Product

router = ModuleRouter()


def test_a_modules_models_are_read_and_written_in_its_alias() -> None:
    assert router.db_for_read(Product) == "catalog"
    assert router.db_for_write(Product) == "catalog"


@pytest.mark.parametrize("model", [User, ContentType, Publication])
def test_other_models_get_no_opinion(model: type[models.Model]) -> None:
    assert router.db_for_read(model) is None
    assert router.db_for_write(model) is None


def test_relations_inside_one_module_or_outside_modules_get_no_opinion() -> None:
    assert router.allow_relation(Product(), Product()) is None
    assert router.allow_relation(User(), ContentType()) is None
    assert router.allow_relation(Product(), User()) is None  # not two modules: Django's own rules apply


@isolate_apps("modules.catalog")
def test_a_relation_between_two_modules_is_refused(probe_module: ModuleConfig) -> None:
    class Gadget(models.Model):
        class Meta:
            app_label = "probe"

    assert router.allow_relation(Product(), Gadget()) is False
    assert router.allow_relation(Gadget(), Product()) is False
    assert router.allow_relation(Gadget(), Gadget()) is None


@pytest.mark.parametrize(
    ("db", "app_label", "expected"),
    [
        ("catalog", "catalog", True),  # a module migrates in its alias
        ("default", "catalog", False),  # and nowhere else
        ("catalog", "auth", False),  # Django's apps stay out of module aliases
        ("catalog", "contenttypes", False),
        ("default", "auth", None),  # and get no opinion elsewhere
        ("default", "unknownapp", None),
        ("catalog", "seams", True),  # the kernel's outbox/inbox tables live in every module alias
        ("default", "seams", False),
    ],
)
def test_allow_migrate(db: str, app_label: str, expected: bool | None) -> None:
    assert router.allow_migrate(db, app_label) is expected


def test_a_module_with_its_own_database_setting_migrates_there(probe_module: ModuleConfig) -> None:
    assert probe_module.database_alias == "catalog"
    assert router.allow_migrate("catalog", "probe") is True
    assert router.allow_migrate("default", "probe") is False


def test_a_module_model_and_a_shared_framework_model_may_relate(settings) -> None:
    """SEAMS_SHARED_MODELS (seams.E001's allow-list) opens exactly the listed models to modules."""
    settings.SEAMS_SHARED_MODELS = ["auth.User"]
    assert router.allow_relation(Product(), User()) is True
    assert router.allow_relation(User(), Product()) is True
    assert router.allow_relation(Product(), ContentType()) is None  # not listed
    assert router.allow_relation(User(), ContentType()) is None  # no module involved
    settings.SEAMS_SHARED_MODELS = ["auth"]
    assert router.allow_relation(Product(), User()) is True
