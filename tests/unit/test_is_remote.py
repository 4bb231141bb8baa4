"""contracts.kernel.remote.is_remote: which modules run elsewhere (asked on every request, forward
and received event, so it reads the binding and the app registry in place)."""

from __future__ import annotations

from django.test import override_settings

from contracts.kernel.remote import is_remote


def test_an_installed_module_without_a_binding_runs_here() -> None:
    with override_settings(SEAMS_BINDINGS={}):
        assert not is_remote("orders")
        assert not is_remote("catalog")


def test_a_module_bound_to_a_transport_runs_elsewhere_and_an_inprocess_binding_does_not() -> None:
    bound = {"catalog": {"TRANSPORT": "http", "URL": "http://catalog:8000"}, "orders": {"TRANSPORT": "inprocess"}}
    with override_settings(SEAMS_BINDINGS=bound):
        assert is_remote("catalog")
        assert not is_remote("orders")
        assert not is_remote("inventory")


def test_a_label_that_is_not_an_installed_module_runs_elsewhere() -> None:
    with override_settings(SEAMS_BINDINGS={}):
        assert is_remote("billing")  # no such app
        assert is_remote("admin")  # an app, but not a Seams module
