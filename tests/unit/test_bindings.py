"""extraction/bindings.py: SEAMS_BIND_<LABEL> and its companions become the SEAMS_BINDINGS setting."""

import pytest

from contracts.kernel import ConfigurationError
from extraction.bindings import bindings_from_env

LABELS = ["catalog", "inventory", "notifications"]


def test_unset_empty_and_inprocess_modules_are_left_out() -> None:
    env = {"SEAMS_BIND_CATALOG": "", "SEAMS_BIND_INVENTORY": " inprocess "}
    assert bindings_from_env(env, LABELS) == {}
    assert bindings_from_env({}, LABELS) == {}


def test_an_http_url_binds_the_module_to_http_with_the_default_timeout() -> None:
    env = {"SEAMS_BIND_CATALOG": "http://catalog:8000/"}
    assert bindings_from_env(env, LABELS) == {
        "catalog": {"TRANSPORT": "http", "MODULE": "catalog", "URL": "http://catalog:8000", "TIMEOUT": "5"}
    }
    https = bindings_from_env({"SEAMS_BIND_CATALOG": "https://catalog.internal/prefix"}, LABELS)
    assert https["catalog"]["URL"] == "https://catalog.internal/prefix"


def test_celery_uses_the_modules_rpc_queue_unless_one_is_named() -> None:
    env = {"SEAMS_BIND_INVENTORY": "celery", "SEAMS_BIND_CATALOG": "celery", "SEAMS_BIND_CATALOG_QUEUE": "rpc.cat"}
    assert bindings_from_env(env, LABELS) == {
        "catalog": {"TRANSPORT": "celery", "MODULE": "catalog", "QUEUE": "rpc.cat", "TIMEOUT": "5"},
        "inventory": {"TRANSPORT": "celery", "MODULE": "inventory", "QUEUE": "seams.rpc.inventory", "TIMEOUT": "5"},
    }


def test_timeout_and_http_options_are_read_into_the_binding() -> None:
    env = {
        "SEAMS_BIND_NOTIFICATIONS": "http://notifications:8000",
        "SEAMS_BIND_NOTIFICATIONS_TIMEOUT": "2.5",
        "SEAMS_BIND_NOTIFICATIONS_RETRIES": "0",
        "SEAMS_BIND_NOTIFICATIONS_BREAKER_THRESHOLD": " 3 ",
        "SEAMS_BIND_NOTIFICATIONS_BREAKER_COOLDOWN": "0.5",
    }
    assert bindings_from_env(env, LABELS)["notifications"] == {
        "TRANSPORT": "http",
        "MODULE": "notifications",
        "URL": "http://notifications:8000",
        "TIMEOUT": "2.5",
        "RETRIES": "0",
        "BREAKER_THRESHOLD": "3",
        "BREAKER_COOLDOWN": "0.5",
    }


def test_the_http_options_are_not_added_to_a_celery_binding() -> None:
    env = {"SEAMS_BIND_CATALOG": "celery", "SEAMS_BIND_CATALOG_RETRIES": "1"}
    assert "RETRIES" not in bindings_from_env(env, LABELS)["catalog"]


def test_a_value_that_is_not_a_binding_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"SEAMS_BIND_CATALOG='ftp://x' is not a binding"):
        bindings_from_env({"SEAMS_BIND_CATALOG": "ftp://x"}, LABELS)


@pytest.mark.parametrize("timeout", ["0", "-1", "soon", "nan"])
def test_a_bad_timeout_is_a_configuration_error_even_in_process(timeout: str) -> None:
    with pytest.raises(ConfigurationError, match="SEAMS_BIND_CATALOG_TIMEOUT must be a positive number of seconds"):
        bindings_from_env({"SEAMS_BIND_CATALOG_TIMEOUT": timeout}, LABELS)
    with pytest.raises(ConfigurationError, match="SEAMS_BIND_CATALOG_TIMEOUT"):
        bindings_from_env({"SEAMS_BIND_CATALOG": "http://c:1", "SEAMS_BIND_CATALOG_TIMEOUT": timeout}, LABELS)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("RETRIES", "-1", "a whole number of retries, 0 or more"),
        ("RETRIES", "1.5", "a whole number of retries"),
        ("RETRIES", "two", "a whole number of retries"),
        ("BREAKER_THRESHOLD", "0", "a whole number of failures, 1 or more"),
        ("BREAKER_THRESHOLD", "2.0", "a whole number of failures"),
        ("BREAKER_COOLDOWN", "0", "a positive number of seconds"),
        ("BREAKER_COOLDOWN", "later", "a positive number of seconds"),
    ],
)
def test_a_bad_http_option_is_a_configuration_error_that_names_the_variable(key: str, value: str, expected: str) -> None:
    env = {"SEAMS_BIND_CATALOG": "http://catalog:8000", f"SEAMS_BIND_CATALOG_{key}": value}
    with pytest.raises(ConfigurationError) as caught:
        bindings_from_env(env, LABELS)
    assert str(caught.value).startswith(f"SEAMS_BIND_CATALOG_{key} must be {expected}")
    assert repr(value) in str(caught.value)
