"""A generated service's ``settings.py`` and the monolith's share their code (issue 10 §3).

Both call ``extraction.settings`` for what every Seams process has (databases per module, the
public API's security, the outbox, Celery, logs) and write only what is their own. Checked on a
service that ``extract_module`` writes for real: neither file re-declares a setting the shared code
provides or reads a variable itself, and for the same environment the service's shared settings
are the monolith's (the service once lacked the monolith's Celery result timeouts).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from extraction import settings as seams
from tests.support.processes import ROOT
from tests.support.services import BIN, extract, monolith_env, service_env

#: The groups each settings file takes whole (``globals().update(seams.<group>(...))``).
GROUPS = ("django_defaults", "public_api_security", "seams_defaults", "celery_settings")
#: Settings each file assigns from one call into the shared code, with its own arguments.
CALLED = {
    "SECRET_KEY": "secret_key",
    "DATABASES": "databases",
    "INSTALLED_APPS": "installed_apps",
    "MIDDLEWARE": "middleware",
    "TEMPLATES": "templates",
}
#: Settings the shared code gives each process in its own way (by a parameter), compared elsewhere.
OWN = {"CELERY_TASK_DEFAULT_QUEUE", "INSTALLED_APPS", "MIDDLEWARE", "TEMPLATES", "DATABASES"}
#: Every variable below differs from its default, so a file that read one itself, or not at all, shows.
ENVIRONMENT = {
    "DEBUG": "true",
    "SEAMS_EVENT_DISPATCH": "celery",
    "SEAMS_EVENT_MAX_ATTEMPTS": "9",
    "SEAMS_EVENT_LEASE": "45",
    "SEAMS_EVENT_COMPLETION": "delete",
    "SEAMS_VALIDATE_CONTRACTS": "false",
    "SEAMS_HEALTH_BROKER": "never",
    "SEAMS_SECURE_COOKIES": "true",
    "SECURE_HSTS_SECONDS": "60",
    "SEAMS_BEHIND_TLS_PROXY": "true",
    "SEAMS_TRUSTED_PROXIES": "2",
    "SEAMS_API_MAX_BODY_BYTES": "1024",
    "SEAMS_API_RATE_ANONYMOUS": "5/s",
    "SEAMS_SQLITE_SYNCHRONOUS": "FULL",
    "SEAMS_SQLITE_TIMEOUT": "5",
    "SEAMS_LOG_FORMAT": "json",
    "SEAMS_RELAY_INTERVAL": "2",
    "CELERY_BROKER_URL": "redis://127.0.0.1:1/3",
    "CELERY_RESULT_BACKEND": "redis://127.0.0.1:1/4",
    "CELERY_RESULT_EXPIRES": "30",
    "CELERY_BROKER_CONNECTION_TIMEOUT": "1",
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
}
DUMP = (
    "import importlib, json, os, sys; m = importlib.import_module(os.environ['DJANGO_SETTINGS_MODULE']); "
    "print(json.dumps({k: getattr(m, k) for k in sys.argv[1:] if hasattr(m, k)}, default=repr, sort_keys=True))"
)


def shared_names(var_dir: Path) -> set[str]:
    """The settings the groups provide (their keys do not depend on the environment)."""
    env = seams.Env({})
    groups = [
        seams.django_defaults(env, var_dir=var_dir),
        seams.public_api_security(env, debug=True, var_dir=var_dir),
        seams.seams_defaults(env, debug=True),
        seams.celery_settings(env, default_queue="celery"),
    ]
    return {name for group in groups for name in group}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-settings")


@pytest.fixture(scope="module")
def service(workspace: Path) -> Path:
    """orders over Celery: it calls catalog and inventory and waits for their results."""
    return extract("orders", "celery", workspace / "out", monolith_env({"SEAMS_VAR_DIR": str(workspace / "var")}))


def settings_files(service: Path) -> dict[str, Path]:
    return {"monolith": ROOT / "app" / "settings.py", "service": service / "service" / "settings.py"}


def is_seams_call(node: ast.AST, function: str) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == function
        and isinstance(node.func.value, ast.Name) and node.func.value.id == "seams"
    )


@pytest.mark.parametrize("which", ["monolith", "service"])
def test_each_settings_file_delegates_to_the_shared_code(which: str, service: Path, workspace: Path) -> None:
    path = settings_files(service)[which]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    provided = shared_names(workspace / "names")
    problems = []
    for statement in tree.body:
        targets = statement.targets if isinstance(statement, ast.Assign) else (
            [statement.target] if isinstance(statement, ast.AnnAssign) else [])
        for name in (t.id for t in targets if isinstance(t, ast.Name)):
            if name in provided:
                problems.append(f"line {statement.lineno}: {name} is written here; extraction.settings provides it")
            if name in CALLED and not is_seams_call(statement.value, CALLED[name]):
                problems.append(f"line {statement.lineno}: {name} is not seams.{CALLED[name]}(...)")
    updated = {
        node.args[0].func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update"
        and isinstance(node.func.value, ast.Call) and getattr(node.func.value.func, "id", "") == "globals"
        and node.args and any(is_seams_call(node.args[0], g) for g in GROUPS)
    }
    problems += [f"globals().update(seams.{g}(...)) is missing" for g in GROUPS if g not in updated]
    # Every variable is read through the shared Env: os.environ appears only as its argument.
    wrapped = {id(arg) for node in ast.walk(tree) if is_seams_call(node, "Env") for arg in node.args}
    problems += [
        f"line {node.lineno}: reads the environment itself, not through seams.Env"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"} and id(node) not in wrapped
    ]
    assert not problems, f"{path}:\n" + "\n".join(problems)


def test_for_the_same_environment_the_service_has_the_monoliths_shared_settings(service: Path, workspace: Path) -> None:
    names = sorted(shared_names(workspace / "names") | set(CALLED) - {"SECRET_KEY"})
    var = {"SEAMS_VAR_DIR": str(workspace / "var-same")}
    (workspace / "isolation").mkdir(exist_ok=True)
    runs = {
        "monolith": subprocess.run([sys.executable, "-c", DUMP, *names], cwd=ROOT, capture_output=True, text=True,
                                   env=monolith_env({**ENVIRONMENT, **var}), timeout=120),
        "service": subprocess.run([sys.executable, "-c", DUMP, *names], cwd=service, capture_output=True, text=True,
                                  env=service_env(service, workspace / "isolation", {**ENVIRONMENT, **var}), timeout=120),
    }
    assert all(r.returncode == 0 for r in runs.values()), {k: r.stderr[-2000:] for k, r in runs.items()}
    monolith, ours = (json.loads(runs[k].stdout) for k in ("monolith", "service"))
    differing = sorted(n for n in names if n not in OWN and monolith.get(n, "<unset>") != ours.get(n, "<unset>"))
    assert not differing, {n: (monolith.get(n, "<unset>"), ours.get(n, "<unset>")) for n in differing}
    assert ours["CELERY_RESULT_EXPIRES"] == 30 and ours["SEAMS_EVENTS"]["MAX_ATTEMPTS"] == 9
    assert ours["DATABASES"]["orders"] == monolith["DATABASES"]["orders"]  # the same file, the same pragmas
    assert (monolith["CELERY_TASK_DEFAULT_QUEUE"], ours["CELERY_TASK_DEFAULT_QUEUE"]) == ("celery", "seams.orders")


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        (
            "SEAMS_MODULES",
            "ordres",
            "ConfigurationError: SEAMS_MODULES='ordres' names ordres: use a comma-separated list of orders. Did you mean orders?",
        ),
        (
            "SEAMS_BIND_ORDERS",
            "celery",
            "ConfigurationError: SEAMS_BIND_ORDERS='celery' binds orders, a module this service serves itself (SEAMS_MODULES):"
            " it cannot be served elsewhere. Drop the variable from this service's environment (it belongs to the monolith's).",
        ),
        (
            "SEAMS_BIND_CATALGO",
            "celery",
            "ConfigurationError: SEAMS_BIND_CATALGO names no module: catalgo is not one of catalog, inventory, notifications,"
            " orders. Did you mean SEAMS_BIND_CATALOG?",
        ),
    ],
)
def test_the_services_manage_py_check_stops_at_an_unknown_or_own_module(
    variable: str, value: str, line: str, service: Path, workspace: Path
) -> None:
    """None was this line before (failed first): the bindings were ignored (orders stayed served
    here, catalog bound to the monolith), the unknown label was not named this way."""
    (workspace / "isolation").mkdir(exist_ok=True)
    env = service_env(service, workspace / "isolation", {"SEAMS_VAR_DIR": str(workspace / "var-check"), variable: value})
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=service, env=env, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stderr.strip().splitlines()) == (2, [line]), result.stdout + result.stderr


def test_the_service_takes_its_own_module_in_process_and_a_companion_left_for_it(service: Path, workspace: Path) -> None:
    """A shared environment file: orders said in-process, with a timeout for when it is bound."""
    (workspace / "isolation").mkdir(exist_ok=True)
    env = service_env(service, workspace / "isolation", {
        "SEAMS_VAR_DIR": str(workspace / "var-check"), "SEAMS_BIND_ORDERS": "inprocess", "SEAMS_BIND_ORDERS_TIMEOUT": "60",
    })
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=service, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("entry", ["wsgi", "asgi"])
def test_the_services_server_stops_at_a_settings_mistake_with_one_line(entry: str, service: Path, workspace: Path) -> None:
    """Under gunicorn the mistake is its one line and "App failed to load": no traceback, no worker
    booted again and again (failed first: gunicorn logged "Exception in worker process" with the
    traceback, then "Worker failed to boot"). The ASGI module, imported as uvicorn does, says the
    same line and exits 2."""
    (workspace / "isolation").mkdir(exist_ok=True)
    env = service_env(service, workspace / "isolation", {"SEAMS_VAR_DIR": str(workspace / "var-serve"), "SEAMS_BIND_CATALGO": "celery"})
    line = "ConfigurationError: SEAMS_BIND_CATALGO names no module"
    if entry == "wsgi":
        command = [str(BIN / "gunicorn"), "service.wsgi", "--bind", "127.0.0.1:0", "--workers", "1"]
        result = subprocess.run(command, cwd=service, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 4 and "App failed to load" in result.stderr, result.stderr
    else:
        result = subprocess.run([sys.executable, "-c", "import service.asgi"], cwd=service, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
    assert [text for text in result.stderr.splitlines() if line in text] and "Traceback" not in result.stderr, result.stderr
