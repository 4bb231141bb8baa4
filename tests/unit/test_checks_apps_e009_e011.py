"""seams.E009 (an app under modules/ that is not a module) and E011 (a module's database alias is missing)."""

from contracts.kernel.checks import app_errors
from tests.unit.manifests import module_config, plain_app_config

DATABASES = {"default": {}, "catalog": {}}


def test_a_plain_app_under_modules_is_e009() -> None:
    (error,) = app_errors([plain_app_config("modules.legacy")], "modules", DATABASES)
    assert error.id == "seams.E009"
    assert error.msg == "App 'modules.legacy' lives under modules/ but its AppConfig (PlainConfig) is not a module."
    assert (
        error.hint
        == "Make its AppConfig subclass contracts.kernel.ModuleConfig and declare provides/consumes/publishes."
    )
    assert error.obj == "modules.legacy"


def test_plain_apps_elsewhere_are_fine() -> None:
    configs = [
        plain_app_config("django.contrib.auth"),
        plain_app_config("modulesextra.app"),
        plain_app_config("modules"),
    ]
    assert app_errors(configs, "modules", DATABASES) == []


def test_the_modules_package_is_configurable() -> None:
    (error,) = app_errors([plain_app_config("bounded.legacy")], "bounded", DATABASES)
    assert error.id == "seams.E009"


def test_a_module_without_its_database_alias_is_e011() -> None:
    (error,) = app_errors([module_config("orders")], "modules", DATABASES)
    assert error.id == "seams.E011"
    assert error.msg == "Module 'orders' keeps its data in database alias 'orders', which DATABASES lacks."
    assert "module_databases()" in error.hint
    (error,) = app_errors([module_config("orders", database="orders_db")], "modules", DATABASES)
    assert "alias 'orders_db'" in error.msg


def test_a_module_with_its_alias_is_fine() -> None:
    assert (
        app_errors([module_config("catalog"), module_config("orders", database="catalog")], "modules", DATABASES) == []
    )
