"""contracts/kernel/resolution.py: use(Contract) as seen by a caller."""

import pytest
from django.test import override_settings

from contracts.catalog import Catalog
from contracts.kernel import (
    ConfigurationError,
    Contract,
    ModuleConfig,
    NotReady,
    UndeclaredDependency,
    implements,
    use,
)
from contracts.kernel.registry import get_registry, isolated_registry
from contracts.kernel.resolution import binding_for, reset_resolution_cache
from tests.unit.fake_transport import RemoteCatalog


class Pricing(Contract, module="pricing"):
    """A contract of a module that nobody installs: only the manifest check runs before lookup."""

    def price_of(self, sku: str) -> int: ...


@override_settings(SEAMS_VALIDATE_CONTRACTS=False)
def test_without_validation_use_calls_the_implementation_instance_itself() -> None:
    served = use(Catalog, consumer="tests.unit.some_caller")
    # Observed (a span, the call metrics: telemetry/calls.py), with nothing else in between.
    assert isinstance(served, Catalog) and type(served).__name__ == "ObservedCatalog"
    assert served.__seams_target__ is get_registry().instance_of(Catalog)


@override_settings(SEAMS_VALIDATE_CONTRACTS=True)
def test_with_validation_use_returns_a_validating_proxy() -> None:
    served = use(Catalog, consumer="tests.unit.some_caller")
    assert isinstance(served, Catalog)
    assert type(served.__seams_target__).__name__ == "ValidatingCatalog"


@pytest.mark.parametrize("validate", [True, False])
def test_resolution_is_cached_per_calling_module(validate: bool) -> None:
    with override_settings(SEAMS_VALIDATE_CONTRACTS=validate):
        first = use(Catalog, consumer="tests.unit.caller_a")
        assert use(Catalog, consumer="tests.unit.caller_a") is first
        other = use(Catalog, consumer="tests.unit.caller_b")
        assert other is not first  # each caller gets its own proxy
        assert (other.__seams_target__ is first.__seams_target__) is (not validate)  # the bare instance is shared


def test_the_caller_defaults_to_the_calling_python_module() -> None:
    assert use(Catalog) is use(Catalog, consumer=__name__)


def test_a_changed_setting_forgets_earlier_resolutions() -> None:
    with override_settings(SEAMS_VALIDATE_CONTRACTS=True):
        proxy = use(Catalog, consumer="tests.unit.caller")
    with override_settings(SEAMS_VALIDATE_CONTRACTS=False):
        assert use(Catalog, consumer="tests.unit.caller") is not proxy


def test_a_module_may_use_its_own_contract_without_declaring_it() -> None:
    assert isinstance(use(Catalog, consumer="modules.catalog.api"), Catalog)


def test_an_undeclared_dependency_names_the_line_to_add() -> None:
    with pytest.raises(UndeclaredDependency) as caught:
        use(Pricing, consumer="modules.catalog.services")
    assert str(caught.value) == (
        "Module 'catalog' uses pricing.Pricing without declaring it. Add Pricing (from contracts.pricing) "
        "to 'consumes' in modules/catalog/apps.py (CatalogConfig)."
    )


def test_a_declared_dependency_resolves(probe_module: ModuleConfig) -> None:
    assert Catalog in probe_module.consumes
    assert isinstance(use(Catalog, consumer="tests.unit.probe.services"), Catalog)
    with pytest.raises(UndeclaredDependency, match=r"Module 'probe' uses pricing\.Pricing"):
        use(Pricing, consumer="tests.unit.probe.services")


@override_settings(SEAMS_BINDINGS={"catalog": {"TRANSPORT": "http", "URL": "http://catalog"}}, SEAMS_TRANSPORTS={})
def test_an_unknown_transport_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        use(Catalog, consumer="tests.unit.caller")
    message = str(caught.value)
    assert "Module 'catalog' is bound to transport 'http', which is not configured" in message
    assert "Known transports: inprocess." in message
    assert "Add it to SEAMS_TRANSPORTS" in message


@override_settings(
    SEAMS_BINDINGS={"catalog": {"TRANSPORT": "fake", "URL": "http://catalog"}},
    SEAMS_TRANSPORTS={"fake": "tests.unit.fake_transport.client_factory"},
)
def test_a_configured_transport_serves_the_contract_through_its_factory() -> None:
    served = use(Catalog, consumer="tests.unit.caller")
    assert isinstance(served, RemoteCatalog)
    assert served.binding == {"TRANSPORT": "fake", "URL": "http://catalog"}
    assert served.get_product("A-1").name == "remote via http://catalog"


@override_settings(SEAMS_BINDINGS={"other": {"TRANSPORT": "http"}})
def test_a_module_without_binding_is_served_in_process() -> None:
    assert binding_for("catalog") == {"TRANSPORT": "inprocess"}
    assert binding_for("other") == {"TRANSPORT": "http"}


def test_use_before_the_registry_is_frozen_is_not_ready() -> None:
    with (
        isolated_registry(),
        pytest.raises(NotReady, match=r"use\(Catalog\) was called before Seams finished starting"),
    ):
        use(Catalog, consumer="tests.unit.early_caller")


def test_not_ready_even_if_the_same_caller_resolved_it_before() -> None:
    """A fresh registry must not be served resolutions cached for another one."""
    use(Catalog, consumer="tests.unit.early_caller")
    with isolated_registry(), pytest.raises(NotReady):
        use(Catalog, consumer="tests.unit.early_caller")


@override_settings(SEAMS_VALIDATE_CONTRACTS=False)
def test_an_isolated_frozen_registry_serves_its_own_implementation() -> None:
    class LocalCatalog(Catalog):
        def get_product(self, sku: str):  # type: ignore[no-untyped-def]
            raise NotImplementedError

        def get_products(self, skus: list[str]):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    project_instance = use(Catalog, consumer="tests.unit.caller")
    with isolated_registry() as registry:
        implements(Catalog)(LocalCatalog)
        registry.freeze()
        assert isinstance(use(Catalog, consumer="tests.unit.caller").__seams_target__, LocalCatalog)
    assert use(Catalog, consumer="tests.unit.caller") is project_instance


def test_use_of_a_subclass_resolves_its_contract() -> None:
    with override_settings(SEAMS_VALIDATE_CONTRACTS=False):
        assert use(RemoteCatalog, consumer="tests.unit.caller").__seams_target__ is get_registry().instance_of(Catalog)


@pytest.mark.parametrize("thing", [object, "catalog.Catalog", Contract], ids=repr)
def test_use_takes_only_a_declared_contract(thing: object) -> None:
    with pytest.raises(TypeError, match=r"use\(\) expects a declared contract class"):
        use(thing, consumer="tests.unit.caller")  # type: ignore[arg-type]


def test_reset_resolution_cache_forgets_everything() -> None:
    with override_settings(SEAMS_VALIDATE_CONTRACTS=True):
        proxy = use(Catalog, consumer="tests.unit.caller")
        reset_resolution_cache()
        assert use(Catalog, consumer="tests.unit.caller") is not proxy


def pricing_factory(*, contract: type[Contract], binding: dict[str, str]) -> Contract:
    class RemotePricing(Pricing):
        def price_of(self, sku: str) -> int:
            return 42

    return RemotePricing()


@override_settings(
    SEAMS_BINDINGS={"pricing": {"TRANSPORT": "fake"}},
    SEAMS_TRANSPORTS={"fake": "tests.unit.test_resolution_use.pricing_factory"},
)
def test_a_bound_module_that_is_not_installed_here_resolves_through_its_transport() -> None:
    """An extracted service calls the modules that stayed in the monolith: they are not installed
    in its process, only bound (found running the generated orders service)."""
    assert use(Pricing, consumer="tests.unit.caller").price_of("A-1") == 42


def test_a_module_that_is_neither_installed_nor_bound_says_how_to_bind_it() -> None:
    with pytest.raises(ConfigurationError, match=r"module 'pricing', which is not installed.*SEAMS_BIND_PRICING="):
        use(Pricing, consumer="tests.unit.caller")


@override_settings(
    SEAMS_BINDINGS={"catalog": {"TRANSPORT": "fake", "URL": "http://catalog"}},
    SEAMS_TRANSPORTS={"fake": "tests.unit.fake_transport.client_factory"},
)
def test_the_transport_is_told_which_module_calls_so_it_can_sign_in_its_name() -> None:
    served = use(Catalog, consumer="modules.orders.services")
    assert served.binding == {"TRANSPORT": "fake", "URL": "http://catalog", "CALLER": "orders"}
