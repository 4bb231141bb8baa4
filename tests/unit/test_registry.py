"""contracts/kernel/registry.py: @implements, @subscribe, lookups and the frozen registry."""

import pytest

from contracts.kernel import Contract, Event, RegistryFrozen, UnknownName, implements, subscribe
from contracts.kernel.registry import Registry, get_registry, isolated_registry


class Greeter(Contract, module="testmod"):
    def greet(self, name: str) -> str: ...

    def wave(self) -> None: ...


class Greeted(Event):
    name: str


class GreeterImplementation(Greeter):
    def greet(self, name: str) -> str:
        return f"hello {name}"

    def wave(self) -> None:
        return None


def test_implements_registers_a_complete_subclass() -> None:
    with isolated_registry() as registry:
        assert implements(Greeter)(GreeterImplementation) is GreeterImplementation
        assert registry.implementation_of(Greeter) is GreeterImplementation
        instance = registry.instance_of(Greeter)
        assert isinstance(instance, GreeterImplementation)
        assert registry.instance_of(Greeter) is instance  # created once


def test_registering_the_same_class_twice_keeps_one() -> None:
    with isolated_registry() as registry:
        implements(Greeter)(GreeterImplementation)
        implements(Greeter)(GreeterImplementation)
        assert registry.implementations[Greeter] == [GreeterImplementation]


def test_implements_requires_a_subclass_of_the_contract() -> None:
    class Unrelated:
        def greet(self, name: str) -> str:
            return name

    with isolated_registry() as registry, pytest.raises(TypeError, match=r"must subclass Greeter to implement it"):
        implements(Greeter)(Unrelated)  # type: ignore[arg-type]
    assert not registry.implementations


def test_implements_requires_every_method() -> None:
    class HalfGreeter(Greeter):
        def greet(self, name: str) -> str:
            return name

    with (
        isolated_registry(),
        pytest.raises(TypeError, match=r"HalfGreeter does not implement testmod\.Greeter: missing wave"),
    ):
        implements(Greeter)(HalfGreeter)


def test_implements_takes_only_a_declared_contract() -> None:
    with pytest.raises(TypeError, match="expects a declared contract class"):
        implements(GreeterImplementation)
    with pytest.raises(TypeError, match="expects a declared contract class"):
        implements(object)  # type: ignore[arg-type]


def test_two_implementations_make_lookup_fail_naming_both() -> None:
    class OtherGreeter(GreeterImplementation):
        pass

    with isolated_registry() as registry:
        implements(Greeter)(GreeterImplementation)
        implements(Greeter)(OtherGreeter)
        with pytest.raises(UnknownName) as caught:
            registry.implementation_of(Greeter)
    message = str(caught.value)
    assert "testmod.Greeter has 2 implementations" in message
    assert "GreeterImplementation" in message and "OtherGreeter" in message
    assert "keep one" in message


def test_no_implementation_names_the_file_and_the_decorator() -> None:
    with isolated_registry() as registry, pytest.raises(UnknownName) as caught:
        registry.instance_of(Greeter)
    message = str(caught.value)
    assert "No implementation of testmod.Greeter is registered" in message
    assert "In the module 'testmod', add to implementation.py" in message
    assert "@implements(Greeter) class GreeterImplementation(Greeter)" in message


def test_an_override_wins_over_the_implementation() -> None:
    fake = GreeterImplementation()
    with isolated_registry() as registry:
        registry.overrides[Greeter] = fake
        assert registry.instance_of(Greeter) is fake


def test_a_frozen_registry_refuses_a_late_implementation_saying_where_it_belongs() -> None:
    with isolated_registry() as registry:
        registry.freeze()
        with pytest.raises(RegistryFrozen) as caught:
            implements(Greeter)(GreeterImplementation)
        assert not registry.implementations
    message = str(caught.value)
    assert "GreeterImplementation of testmod.Greeter was registered after start-up" in message
    assert "Put it in modules/<module>/implementation.py" in message


def test_a_frozen_registry_refuses_a_late_subscriber_saying_where_it_belongs() -> None:
    with isolated_registry() as registry:
        registry.freeze()
        with pytest.raises(RegistryFrozen) as caught:

            @subscribe(Greeted, module="testmod")
            def on_greeted(event: Greeted) -> None: ...

    assert f"of {Greeted.event_type} was registered after start-up" in str(caught.value)
    assert "Put it in modules/<module>/handlers.py" in str(caught.value)


def test_the_project_registry_is_frozen_once_django_is_set_up() -> None:
    registry = get_registry()
    assert registry.frozen
    with pytest.raises(RegistryFrozen):
        implements(Greeter)(GreeterImplementation)
    assert Greeter not in registry.implementations


def test_isolated_registry_restores_the_project_registry() -> None:
    project = get_registry()
    with isolated_registry() as registry:
        assert get_registry() is registry is not project
        assert not registry.frozen
    assert get_registry() is project


# --- @subscribe ---------------------------------------------------------------------------------
def test_a_one_parameter_handler_gets_the_event_only() -> None:
    with isolated_registry() as registry:

        @subscribe(Greeted, module="testmod")
        def on_greeted(event: Greeted) -> None: ...

        (subscriber,) = registry.subscribers_for(Greeted.event_type)
    assert subscriber.handler is on_greeted
    assert subscriber.event is Greeted
    assert subscriber.module == "testmod"
    assert subscriber.name == f"{__name__}.{on_greeted.__qualname__}"
    assert subscriber.wants_envelope is False


def test_a_two_parameter_handler_wants_the_envelope() -> None:
    with isolated_registry() as registry:

        @subscribe(Greeted, module="testmod")
        def on_greeted(event: Greeted, envelope: object) -> None: ...

        assert registry.subscribers_for(Greeted.event_type)[0].wants_envelope is True


def test_parameters_with_defaults_are_not_counted() -> None:
    with isolated_registry() as registry:

        @subscribe(Greeted, module="testmod")
        def on_greeted(event: Greeted, retries: int = 3) -> None: ...

        assert registry.subscribers_for(Greeted.event_type)[0].wants_envelope is False


def test_keyword_catch_alls_do_not_make_a_handler_want_the_envelope() -> None:
    """``handler(event, **options)`` is called as ``handler(event)``: it cannot take an envelope positionally."""
    with isolated_registry() as registry:

        @subscribe(Greeted, module="testmod")
        def on_greeted(event: Greeted, **options: object) -> None: ...

        assert registry.subscribers_for(Greeted.event_type)[0].wants_envelope is False


@pytest.mark.parametrize(
    "handler",
    [
        lambda: None,
        lambda event, envelope, extra: None,
        lambda *args: None,
        lambda event, *, required: None,
    ],
    ids=["no-parameter", "three-parameters", "only-star-args", "required-keyword-only"],
)
def test_a_handler_must_take_event_or_event_and_envelope(handler: object) -> None:
    with isolated_registry() as registry, pytest.raises(TypeError, match=r"must take \(event\) or \(event, envelope\)"):
        subscribe(Greeted, module="testmod")(handler)  # type: ignore[arg-type]
    assert not registry.all_subscribers()


@pytest.mark.parametrize("event", [Event, Greeter, str, "Greeted"], ids=repr)
def test_subscribe_takes_only_an_event_subclass(event: object) -> None:
    with pytest.raises(TypeError, match="@subscribe expects an Event subclass"):
        subscribe(event)  # type: ignore[arg-type]


def test_the_subscribing_module_is_derived_from_the_handlers_python_module() -> None:
    def on_greeted(event: Greeted) -> None: ...

    on_greeted.__module__ = "modules.inventory.handlers"
    with isolated_registry() as registry:
        subscribe(Greeted)(on_greeted)
        (subscriber,) = registry.all_subscribers()
    assert subscriber.module == "inventory"
    assert (
        subscriber.name
        == "modules.inventory.handlers.test_the_subscribing_module_is_derived_from_the_handlers_python_module.<locals>.on_greeted"
    )


def test_lookups_of_unknown_event_types_are_empty() -> None:
    assert Registry().subscribers_for("nobody.Nothing") == []
