"""Unknown names in SEAMS_BIND_* stop start-up (extraction/bindings.py, Env.list's choices).

Each refused case below was silently ignored before: a mistyped ``SEAMS_BIND_CATALGO`` left catalog
in-process while the operator believed it extracted. The message names the variable, the module
labels and the closest name.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from contracts.kernel import ConfigurationError
from extraction import settings as seams
from extraction.bindings import bindings_from_env, gateway_from_env
from tests.support.processes import ROOT, project_env

LABELS = ["catalog", "inventory", "notifications", "orders"]

#: (environment, the whole message): refused at start-up.
REFUSED = [
    (
        {"SEAMS_BIND_CATALGO": "http://catalog:8000"},
        "SEAMS_BIND_CATALGO names no module: catalgo is not one of catalog, inventory, notifications, orders."
        " Did you mean SEAMS_BIND_CATALOG?",
    ),
    (
        {"SEAMS_BIND_CATALGO_TIMEOUT": "3"},
        "SEAMS_BIND_CATALGO_TIMEOUT names no module: catalgo is not one of catalog, inventory, notifications, orders."
        " Did you mean SEAMS_BIND_CATALOG_TIMEOUT?",
    ),
    (
        {"SEAMS_BIND_BILLING": "celery"},
        "SEAMS_BIND_BILLING names no module: billing is not one of catalog, inventory, notifications, orders.",
    ),
    (
        {"SEAMS_BIND_CATALOG": "http://catalog:8000", "SEAMS_BIND_CATALOG_TIMOUT": "3"},
        "SEAMS_BIND_CATALOG_TIMOUT is not a setting of SEAMS_BIND_CATALOG: TIMOUT is not one of TIMEOUT, QUEUE,"
        " RETRIES, BREAKER_THRESHOLD, BREAKER_COOLDOWN. Did you mean SEAMS_BIND_CATALOG_TIMEOUT?",
    ),
    (
        {"SEAMS_BIND_INVENTORY_QUEUES": "rpc.inv"},
        "SEAMS_BIND_INVENTORY_QUEUES is not a setting of SEAMS_BIND_INVENTORY: QUEUES is not one of TIMEOUT, QUEUE,"
        " RETRIES, BREAKER_THRESHOLD, BREAKER_COOLDOWN. Did you mean SEAMS_BIND_INVENTORY_QUEUE?",
    ),
    ({"SEAMS_BIND_catalog": "celery"}, "SEAMS_BIND_catalog is not upper case: write SEAMS_BIND_CATALOG."),
]

#: Environments that are taken (what SEAMS_BINDINGS then holds).
ACCEPTED = [
    ({"SEAMS_BIND_CATALGO": ""}, {}),  # blank is unset, as for every variable
    ({"SEAMS_BIND_CATALGO": "  "}, {}),
    ({"SEAMS_BIND_ORDERS_TIMEOUT": "60"}, {}),  # a companion of a module not bound: checked, no effect
    ({"SEAMS_BIND_CATALOG": "celery", "SEAMS_BIND_CATALOG_QUEUE": "q"}, {"catalog": {"TRANSPORT": "celery", "MODULE": "catalog", "QUEUE": "q", "TIMEOUT": "5"}}),
    ({"OTHER_SEAMS_BIND_X": "1", "SEAMS_BINDX": "1"}, {}),  # not SEAMS_BIND_*
]


@pytest.mark.parametrize(("environ", "message"), REFUSED, ids=[next(iter(e)) for e, _ in REFUSED])
def test_an_unknown_name_stops_start_up(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        bindings_from_env(environ, LABELS)
    assert str(refused.value) == message


@pytest.mark.parametrize(("environ", "bindings"), ACCEPTED, ids=[next(iter(e)) for e, _ in ACCEPTED])
def test_a_known_or_blank_name_is_taken(environ: dict[str, str], bindings: dict[str, dict[str, str]]) -> None:
    assert bindings_from_env(environ, LABELS) == bindings


#: A generated catalog service: it reaches orders in the monolith, serves catalog, knows the rest.
SERVICE = {"labels": ["orders"], "known": LABELS, "served": ["catalog"]}


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"SEAMS_BIND_CATALOG": "http://catalog-service:8000"}, "SEAMS_BIND_CATALOG='http://catalog-service:8000' binds catalog, a module this service serves itself"),
        ({"SEAMS_BIND_CATALOG": "celery"}, "SEAMS_BIND_CATALOG='celery' binds catalog, a module this service serves itself"),
        ({"SEAMS_BIND_ORDRES": "celery"}, "SEAMS_BIND_ORDRES names no module: ordres is not one of catalog, inventory, notifications, orders. Did you mean SEAMS_BIND_ORDERS?"),
    ],
)
def test_a_service_refuses_a_binding_of_its_own_module_or_an_unknown_one(environ: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        bindings_from_env(environ, **SERVICE)
    assert str(refused.value).startswith(says)


def test_a_service_takes_its_own_module_in_process_and_a_module_it_does_not_reach() -> None:
    """A shared environment file: inventory bound for the monolith, catalog's timeout."""
    environ = {"SEAMS_BIND_CATALOG": "inprocess", "SEAMS_BIND_CATALOG_TIMEOUT": "60", "SEAMS_BIND_INVENTORY": "http://i:1", "SEAMS_BIND_ORDERS": "celery"}
    assert bindings_from_env(environ, **SERVICE) == {"orders": {"TRANSPORT": "celery", "MODULE": "orders", "QUEUE": "seams.rpc.orders", "TIMEOUT": "5"}}


def test_an_unknown_module_in_a_list_says_the_closest_label() -> None:
    env = seams.Env({"SEAMS_MODULES": "catalog,inventroy"})
    with pytest.raises(ConfigurationError) as refused:
        env.list("SEAMS_MODULES", choices=LABELS)
    assert str(refused.value) == (
        "SEAMS_MODULES='catalog,inventroy' names inventroy: use a comma-separated list of catalog, inventory,"
        " notifications, orders. Did you mean inventory?"
    )


def test_manage_py_check_stops_at_a_mistyped_binding(tmp_path: Path) -> None:
    env = project_env({"SEAMS_VAR_DIR": str(tmp_path), "SEAMS_BIND_CATALGO": "http://127.0.0.1:43001"})
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "ConfigurationError: SEAMS_BIND_CATALGO names no module: catalgo is not one of catalog, inventory, notifications,"
        " orders. Did you mean SEAMS_BIND_CATALOG?"
    ]


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"SEAMS_GATEWAY_CATALGO": "http://catalog:8000"},
            "SEAMS_GATEWAY_CATALGO names no module: catalgo is not one of catalog, inventory, notifications, orders"
            " (SEAMS_GATEWAY_TIMEOUT is the one other setting). Did you mean SEAMS_GATEWAY_CATALOG?",
        ),
        (
            {"SEAMS_GATEWAY_TIMOUT": "10"},
            "SEAMS_GATEWAY_TIMOUT names no module: timout is not one of catalog, inventory, notifications, orders"
            " (SEAMS_GATEWAY_TIMEOUT is the one other setting). Did you mean SEAMS_GATEWAY_TIMEOUT?",
        ),
    ],
)
def test_an_unknown_gateway_target_stops_start_up(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        gateway_from_env(environ, LABELS)
    assert str(refused.value) == message


def test_known_and_blank_gateway_names_are_taken() -> None:
    environ = {"SEAMS_GATEWAY_CATALOG": "http://c:1/", "SEAMS_GATEWAY_TIMEOUT": "3", "SEAMS_GATEWAY_ORDRES": " ", "SEAMS_GATEWAY": "on"}
    assert gateway_from_env(environ, LABELS) == {"ENABLED": True, "TARGETS": {"catalog": "http://c:1"}, "TIMEOUT": 3.0}
