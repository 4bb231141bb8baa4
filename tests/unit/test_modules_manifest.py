"""contracts/kernel/modules.py: module manifests and finding the module of a Python path."""

import pytest
from django.apps import apps
from django.conf import settings
from django.test import override_settings

from contracts.catalog import Catalog
from contracts.kernel import Contract, Event, ModuleConfig, UnknownName, get_module, module_configs, subscribe
from contracts.kernel.modules import module_of
from contracts.kernel.registry import isolated_registry
from tests.unit.manifests import module_config


class Ledger(Contract, module="ledger"):
    def balance(self, account: str) -> int: ...


class Posted(Event):
    publisher = "ledger"
    account: str


def test_installed_modules_are_the_module_configs_among_the_apps() -> None:
    configs = module_configs()
    assert apps.get_app_config("catalog") in configs
    assert all(isinstance(c, ModuleConfig) for c in configs)
    assert apps.get_app_config("seams") not in configs  # the kernel is an app, not a module


def test_get_module_finds_by_label_or_names_the_known_ones() -> None:
    assert get_module("catalog") is apps.get_app_config("catalog")
    with pytest.raises(UnknownName) as caught:
        get_module("nosuchmodule")
    message = str(caught.value)
    assert "No module is labelled 'nosuchmodule'. Known modules: " in message
    assert "catalog" in message
    assert "subclasses contracts.kernel.ModuleConfig" in message


@pytest.mark.parametrize(
    ("python_module", "label"),
    [
        ("modules.catalog", "catalog"),
        ("modules.catalog.services", "catalog"),
        ("modules.catalog.migrations.0001_initial", "catalog"),
        ("modules.catalogue.services", None),  # a prefix of a name is not the module
        ("modules", None),
        ("contracts.catalog", None),
        ("tests.unit.test_modules_manifest", None),
        ("", None),
    ],
)
def test_module_of_a_python_path(python_module: str, label: str | None) -> None:
    found = module_of(python_module)
    assert (found.label if found else None) == label


def test_module_of_follows_installed_apps(probe_module: ModuleConfig) -> None:
    assert module_of("tests.unit.probe.services") is probe_module


def test_module_of_forgets_a_module_that_was_uninstalled() -> None:
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, "tests.unit.probe"]):
        assert module_of("tests.unit.probe.services") is get_module("probe")
    assert module_of("tests.unit.probe.services") is None
    assert module_of("modules.catalog.services") is apps.get_app_config("catalog")


def test_database_alias_defaults_to_the_label() -> None:
    assert module_config("ledger").database_alias == "ledger"
    assert module_config("ledger", database="money").database_alias == "money"
    assert get_module("catalog").database_alias == "catalog"


def test_manifest_location_points_at_the_apps_file() -> None:
    assert get_module("catalog").manifest_location() == "modules/catalog/apps.py (CatalogConfig)"
    assert module_config("ledger").manifest_location() == "modules/ledger/apps.py (LedgerConfig)"


def test_a_module_config_subclass_is_djangos_default_but_the_base_is_not() -> None:
    assert ModuleConfig.default is False
    assert type(module_config("ledger")).default is True


def test_allowed_contract_modules_are_own_consumed_and_handled() -> None:
    assert module_config("shop").allowed_contract_modules() == {"shop"}
    assert module_config("shop", consumes=[Catalog, Ledger]).allowed_contract_modules() == {"shop", "catalog", "ledger"}
    assert module_config("shop", handles=[Posted]).allowed_contract_modules() == {"shop", "ledger"}


def test_handled_events_are_derived_from_subscribers_of_the_module() -> None:
    shop = module_config("shop")
    with isolated_registry():

        @subscribe(Posted, module="shop")
        def on_posted(event: Posted) -> None: ...

        @subscribe(Posted, module="elsewhere")
        def elsewhere(event: Posted) -> None: ...

        assert shop.handled_events() == [Posted]
        assert shop.allowed_contract_modules() == {"shop", "ledger"}
        assert module_config("idle").handled_events() == []
