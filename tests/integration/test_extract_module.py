"""``manage.py extract_module``: run it for real (a subprocess of the monolith) and check what it
writes: the printed plan and progress, idempotence, ``--dry-run``, the Kubernetes manifests and the
Dockerfile, and the generated service itself (its own ``manage.py check``, ruff, its Dockerfile
command serving the health probes and the module's API).

The generated service runs with this virtualenv's Python but cannot see the monolith: the project
is installed in editable mode here, so a ``sitecustomize`` removes that finder from the service's
processes, and an import of ``app`` or of another module fails as it would in the container.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from contracts.kernel import get_module
from contracts.kernel.modules import module_configs
from contracts.kernel.registry import get_registry
from extraction.settings.celery import worker_command as documented_worker
from tests.support.identity import extracted_identity
from tests.support.processes import BIN, ROOT, free_port, gunicorn, manage, project_env, stop
from tests.support.tokens import api_env, customer

#: Fully checked (plan, manifests, the service's own check and ruff).
LABELS = ["orders", "notifications", "catalog"]
#: The project's modules (the test settings add tests.eventprobe, which no service would call).
PROJECT_MODULES = {p.name for p in (ROOT / "modules").iterdir() if (p / "apps.py").is_file()}

ISOLATION = '''"""Hide the monolith's editable install from the generated service's processes."""
import sys

sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
'''


def run_extract(*args: str, var: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "extract_module", *args],
        cwd=ROOT, env=project_env({"SEAMS_VAR_DIR": str(var)}), capture_output=True, text=True, timeout=600,
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("extract")


@pytest.fixture(scope="module")
def isolation(workspace: Path) -> Path:
    directory = workspace / "isolation"
    directory.mkdir(exist_ok=True)
    (directory / "sitecustomize.py").write_text(ISOLATION)
    return directory


def service_env(service: Path, isolation: Path, var: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SEAMS_", "DATABASE_URL"))}
    env.update(
        {
            "DEBUG": "true",
            **api_env(),  # SECRET_KEY and the tests' token keys, for DEBUG=false
            "PYTHONPATH": str(isolation),
            "SEAMS_VAR_DIR": str(var),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            **extra,
        }
    )
    return env


_extractions: dict[tuple[Path, str], tuple[str, Path, subprocess.CompletedProcess[str]]] = {}


def extract_once(label: str, workspace: Path) -> tuple[str, Path, subprocess.CompletedProcess[str]]:
    """Extract ``label`` into the workspace (once per test module): (label, service dir, the run)."""
    key = (workspace, label)
    if key not in _extractions:
        out = workspace / f"out-{label}"
        result = run_extract(label, "--out", str(out), var=workspace / "var")
        assert result.returncode == 0, result.stdout + result.stderr
        _extractions[key] = (label, out / f"{label}-service", result)
    return _extractions[key]


@pytest.fixture(scope="module", params=LABELS)
def extracted(request: pytest.FixtureRequest, workspace: Path) -> tuple[str, Path, subprocess.CompletedProcess[str]]:
    return extract_once(request.param, workspace)


@pytest.fixture(scope="module")
def orders_service(workspace: Path) -> Path:
    return extract_once("orders", workspace)[1]


def progress_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if re.match(r"^  \[ *\d+/\d+\] ", line)]


# --- the command's output --------------------------------------------------------------------------
def test_it_prints_the_plan_the_progress_and_the_monolith_change(extracted: tuple) -> None:
    label, service, result = extracted
    output = result.stdout
    assert f"Step 1/3  Checking that '{label}' can be extracted" in output
    assert f"Extraction plan for module '{label}' (modules.{label})" in output
    assert "ok: nothing blocks the extraction" in output
    lines = progress_lines(output)
    total = len(lines)
    assert f"Step 2/3  Writing {total} files to {service}" in output
    assert all(" created " in line for line in lines), lines
    assert f"Step 3/3  Done: {total} files: {total} created, 0 updated, 0 unchanged, 0 kept" in output
    assert "The monolith needs one configuration change:" in output
    assert f"  SEAMS_BIND_{label.upper()}=http://{label}-service:8000\n" in output
    for path in ("manage.py", "service/settings.py", "Dockerfile", "k8s/deployment.yaml", f"modules/{label}/apps.py"):
        assert any(line.endswith(f" {path}") for line in lines), path
        assert (service / path).is_file()


def test_it_copies_the_module_and_only_the_declarations_it_needs(extracted: tuple) -> None:
    label, service, _ = extracted
    module = get_module(label)
    expected = {f"{x}.py" for x in module.allowed_contract_modules() if (ROOT / "contracts" / f"{x}.py").exists()}
    assert {p.name for p in (service / "contracts").iterdir() if p.name != "__pycache__"} == {"__init__.py", "kernel", *expected}
    assert {p.name for p in (service / "modules").iterdir() if p.name != "__pycache__"} == {"__init__.py", label}
    assert (service / "modules" / label / "apps.py").read_bytes() == (ROOT / "modules" / label / "apps.py").read_bytes()
    assert (service / "extraction" / "bindings.py").is_file()
    assert (service / "extraction" / "management" / "commands" / "module_data.py").is_file()
    assert not (service / "extraction" / "toolkit").exists()
    assert not (service / "extraction" / "management" / "commands" / "extract_module.py").exists()
    for path in service.rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import) app\b", text, re.M), f"{path} imports the monolith's app"


def test_running_it_twice_changes_nothing(workspace: Path) -> None:
    out = workspace / "twice"
    first = run_extract("orders", "--out", str(out), var=workspace / "var")
    assert first.returncode == 0, first.stdout + first.stderr
    second = run_extract("orders", "--out", str(out), var=workspace / "var")
    assert second.returncode == 0, second.stdout + second.stderr
    lines = progress_lines(second.stdout)
    assert lines and all(" unchanged " in line for line in lines), lines
    assert f"Done: {len(lines)} files: 0 created, 0 updated, {len(lines)} unchanged, 0 kept" in second.stdout
    assert "SEAMS_BIND_ORDERS=http://orders-service:8000" in second.stdout

    # A file changed by hand is kept (and said so); one the toolkit wrote and nobody touched is updated.
    settings_file = out / "orders-service" / "service" / "settings.py"
    settings_file.write_text(settings_file.read_text() + "\n# tuned by hand\n")
    (out / "orders-service" / "NOTES.md").write_text("my notes")
    third = run_extract("orders", "--out", str(out), var=workspace / "var")
    assert third.returncode == 0, third.stdout + third.stderr
    assert re.search(r"\] kept +service/settings.py .*not overwritten", third.stdout), third.stdout
    assert settings_file.read_text().endswith("# tuned by hand\n")
    assert (out / "orders-service" / "NOTES.md").read_text() == "my notes"


def test_a_dry_run_prints_the_plan_and_writes_nothing(workspace: Path) -> None:
    out = workspace / "dry"
    result = run_extract("orders", "--dry-run", "--transport", "celery", "--out", str(out), var=workspace / "var")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = progress_lines(result.stdout)
    assert lines and all(" would create " in line for line in lines)
    assert "Dry run, nothing written" in result.stdout
    assert "  SEAMS_BIND_ORDERS=celery\n" in result.stdout
    assert not out.exists()


def test_an_unknown_module_is_refused_by_name(workspace: Path) -> None:
    result = run_extract("nope", "--dry-run", var=workspace / "var")
    assert result.returncode != 0
    assert "No module is labelled 'nope'" in result.stderr


# --- the manifests and the Dockerfile ----------------------------------------------------------------
def documents(service: Path, name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((service / "k8s" / name).read_text()) if d]


def test_the_manifests_parse_and_describe_the_service(extracted: tuple) -> None:
    label, service, _ = extracted
    name = f"{label}-service"
    module = get_module(label)
    kinds = {
        file.name: [(d["apiVersion"], d["kind"]) for d in documents(service, file.name)]
        for file in sorted((service / "k8s").glob("*.yaml"))
    }
    assert kinds == {
        "config.yaml": [("v1", "ConfigMap"), ("v1", "Secret")],
        "deployment.yaml": [("apps/v1", "Deployment")] * 3,
        "hpa.yaml": [("autoscaling/v2", "HorizontalPodAutoscaler")] * 2,
        "migrate-job.yaml": [("batch/v1", "Job")],
        "service.yaml": [("v1", "Service")],
    }
    config, secret = documents(service, "config.yaml")
    web, worker, beat = documents(service, "deployment.yaml")
    assert [d["metadata"]["name"] for d in (web, worker, beat)] == [f"{name}-web", f"{name}-worker", f"{name}-beat"]

    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"{name}:latest"
    assert "command" not in container  # the image's CMD: gunicorn service.wsgi
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready?scope=local"
    assert container["livenessProbe"]["httpGet"]["port"] == container["readinessProbe"]["httpGet"]["port"] == "http"
    assert web["spec"]["selector"]["matchLabels"].items() <= web["spec"]["template"]["metadata"]["labels"].items()

    # Bound back to the monolith: the modules whose contracts it calls and those handling its events.
    handlers = {s.module for e in module.publishes for s in get_registry().subscribers_for(e.event_type)}
    monolith = {c.__seams_module__ for c in module.consumes} | {m for m in handlers if m in PROJECT_MODULES}
    monolith.discard(label)
    for deployment in (web, worker, beat):
        env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert {"PORT", "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "SEAMS_MODULES", "MONOLITH_URL"} <= set(env)
        assert {f"SEAMS_BIND_{x.upper()}" for x in monolith} == {n for n in env if n.startswith("SEAMS_BIND_")}
        assert env["PORT"]["value"] == "8000"
        for entry in env.values():  # every reference names a key that the ConfigMap or the Secret defines
            ref = entry.get("valueFrom", {})
            if "configMapKeyRef" in ref:
                assert ref["configMapKeyRef"]["name"] == config["metadata"]["name"]
                assert ref["configMapKeyRef"]["key"] in config["data"]
            elif "secretKeyRef" in ref:
                assert ref["secretKeyRef"]["name"] == secret["metadata"]["name"]
                assert ref["secretKeyRef"]["key"] in secret["stringData"]
    assert config["data"]["SEAMS_MODULES"] == label
    assert "DATABASE_URL" in secret["stringData"] and "DATABASE_URL" not in config["data"]

    worker_command = worker["spec"]["template"]["spec"]["containers"][0]["command"]
    assert worker_command[:6] == ["celery", "-A", "service", "worker", "-Q", f"seams.{label},seams.rpc.{label}"]
    # One documented worker command (extraction.settings.celery.worker_command), in k8s and in the README.
    assert worker_command == documented_worker("service", [f"seams.{label}", f"seams.rpc.{label}"])
    readme = (service / "README.md").read_text()
    assert shlex.join(worker_command) in readme
    assert f"{name}:latest {shlex.join(worker_command)}" in readme  # docker run ... <image> <the same command>
    assert beat["spec"]["replicas"] == 1 and beat["spec"]["template"]["spec"]["containers"][0]["command"][:4] == [
        "celery", "-A", "service", "beat"
    ]

    (service_doc,) = documents(service, "service.yaml")
    assert service_doc["metadata"]["name"] == name
    assert service_doc["spec"]["selector"].items() <= web["spec"]["template"]["metadata"]["labels"].items()
    assert service_doc["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http"}]

    web_hpa, worker_hpa = documents(service, "hpa.yaml")
    assert web_hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{name}-web"}
    assert worker_hpa["spec"]["scaleTargetRef"]["name"] == f"{name}-worker"
    assert web_hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"

    (job,) = documents(service, "migrate-job.yaml")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["python", "manage.py", "migrate_modules"]

    example = (service / ".env.example").read_text()
    for variable in [*config["data"], *secret["stringData"]]:
        assert re.search(rf"^#? ?{variable}=", example, re.M), f".env.example lacks {variable}"


def test_the_env_example_points_at_the_data_the_monolith_uses_and_the_readme_at_the_real_directory(
    extracted: tuple, workspace: Path
) -> None:
    label, service, result = extracted
    var = workspace / "var"  # the monolith ran on its embedded default, with its files there
    example = (service / ".env.example").read_text()
    assert f"SEAMS_VAR_DIR={var}" in example.splitlines() and f"{var}/{label}.sqlite3" in example
    assert not re.search(r"^DATABASE_URL=", example, re.M)  # a PostgreSQL URL here would split the data
    assert f"the SQLite file {var}/{label}.sqlite3" in result.stdout
    assert f"cd {service}" in (service / "README.md").read_text()


def test_a_celery_extraction_of_a_module_with_a_public_api_says_the_web_process_and_gateway_are_needed(
    workspace: Path,
) -> None:
    out = workspace / "out-celery"
    result = run_extract("catalog", "--transport", "celery", "--out", str(out), var=workspace / "var")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SEAMS_BIND_CATALOG=celery" in result.stdout
    assert "SEAMS_GATEWAY_CATALOG=http://catalog-service:8000" in result.stdout and "503" in result.stdout
    readme = (out / "catalog-service" / "README.md").read_text()
    assert "SEAMS_GATEWAY_CATALOG=http://127.0.0.1:8001" in readme and "web" in readme


def test_monolith_data_keeps_the_postgresql_url_but_never_its_password() -> None:
    from extraction.toolkit.render import monolith_data

    data = monolith_data({"ENGINE": "django.db.backends.postgresql", "NAME": "shop", "USER": "app",
                          "PASSWORD": "s3cret", "HOST": "db.internal", "PORT": 5433})
    assert data.database_url == "postgres://app:<password>@db.internal:5433/shop" and "s3cret" not in data.describe()
    assert monolith_data({"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/var/orders.sqlite3"}).sqlite_dir == "/srv/var"


def dockerfile_cmd(service: Path) -> list[str]:
    lines = [line for line in (service / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")]
    assert len(lines) == 1
    return yaml.safe_load(lines[0][4:])  # the exec form is a JSON array


def test_the_key_wiring_is_generated_and_no_file_holds_a_usable_secret(extracted: tuple) -> None:
    """Secret references and .env entries for the service key, all empty; the service's trust names
    the monolith for the modules that stayed; its allowed callers come from the monolith's manifests."""
    label, service, result = extracted
    config, secret = documents(service, "config.yaml")
    assert secret["stringData"]["SEAMS_IDENTITY_KEY"] == "" and secret["stringData"]["SECRET_KEY"] == ""
    assert "change-me" not in (service / "k8s" / "config.yaml").read_text()
    assert config["data"]["SEAMS_IDENTITY_NAME"] == f"{label}-service"
    peers = json.loads(config["data"]["SEAMS_IDENTITY_PEERS"])
    assert peers["monolith"]["modules"] == sorted(set(PROJECT_MODULES) - {label})
    assert peers["monolith"]["keys"][0].startswith("<public key of the monolith")  # refused until replaced
    example = dict(
        line.split("=", 1) for line in (service / ".env.example").read_text().splitlines() if line and not line.startswith("#")
    )
    assert example["SECRET_KEY"] == "" and example["SEAMS_IDENTITY_KEY"] == ""
    assert "python -m extraction.identity" in (service / ".env.example").read_text()
    assert "python -m extraction.identity" in (service / "README.md").read_text()
    consumers = sorted(m.label for m in module_configs() if m.label != label for c in get_module(label).provides if c in m.consumes)
    settings_py = (service / "service" / "settings.py").read_text()
    for contract in get_module(label).provides:
        assert f'"{contract.__seams_name__}"' in settings_py
    assert all(f'"{m}"' in settings_py for m in consumers)


def test_the_dockerfile_builds_the_service_and_its_command_starts_gunicorn(extracted: tuple) -> None:
    _, service, _ = extracted
    text = (service / "Dockerfile").read_text()
    assert text.splitlines()[2] == "FROM python:3.11-slim"
    assert "RUN pip install --no-cache-dir ." in text
    assert "EXPOSE 8000" in text
    for directory in ("service", "contracts", "modules", "extraction"):
        assert f"COPY {directory} ./{directory}" in text
    command = dockerfile_cmd(service)
    assert command[:2] == ["sh", "-c"]
    assert shlex.split(command[2])[:3] == ["exec", "gunicorn", "service.wsgi"]
    assert "--bind 0.0.0.0:${PORT:-8000}" in command[2]
    assert "-c python:contracts.kernel.telemetry.gunicorn" in command[2]  # multiprocess metrics forget dead workers


def test_the_service_serves_with_threaded_keep_alive_workers(extracted: tuple, isolation: Path, workspace: Path) -> None:
    """gunicorn reads the generated ``gunicorn.conf.py`` from the service's directory, whatever starts it."""
    label, service, _ = extracted
    assert "COPY gunicorn.conf.py ./" in (service / "Dockerfile").read_text()
    env = service_env(service, isolation, workspace / f"var-{label}")
    result = subprocess.run(
        [str(BIN / "gunicorn"), "--print-config", "service.wsgi"], cwd=service, env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = dict(re.findall(r"^(\w+)\s+= (.*)$", result.stdout, re.M))
    assert (config["worker_class"], config["threads"], config["keepalive"], config["workers"]) == ("gthread", "4", "5", "2")


def test_the_service_keeps_its_database_connections(extracted: tuple, isolation: Path, workspace: Path) -> None:
    """As the monolith does: CONN_MAX_AGE (health-checked) on PostgreSQL, WAL and immediate transactions on SQLite."""
    label, service, _ = extracted
    env = {**service_env(service, isolation, workspace / f"var-{label}"), "DJANGO_SETTINGS_MODULE": "service.settings"}
    probe = (
        "from django.conf import settings; d = settings.DATABASES[settings.SEAMS_MODULES[0]]; "
        "print(d.get('CONN_MAX_AGE'), d.get('CONN_HEALTH_CHECKS'), d['OPTIONS'].get('transaction_mode'))"
    )
    results = [
        subprocess.run([sys.executable, "-c", probe], cwd=service, env={**env, **extra},
                       capture_output=True, text=True, timeout=120)
        for extra in ({"DATABASE_URL": "postgres://u@db.example:5432/shop"}, {})
    ]
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    assert results[0].stdout.split() == ["60", "True", "None"]
    assert results[1].stdout.split()[2] == "IMMEDIATE"


def test_the_service_worker_uses_the_redis_transport_that_survives_an_outage(
    extracted: tuple, isolation: Path, workspace: Path
) -> None:
    """The fix of extraction/celery/redis_transport.py ships with the service and its settings name it."""
    label, service, _ = extracted
    assert (service / "extraction" / "celery" / "redis_transport.py").is_file()
    env = {**service_env(service, isolation, workspace / f"var-{label}"), "DJANGO_SETTINGS_MODULE": "service.settings"}
    probe = (
        "import django; django.setup(); from service.celery import celery_app as app; "
        "print(type(app.connection_for_write().transport).__module__)"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=service, env={**env, "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "extraction.celery.redis_transport"


# --- the generated service itself ------------------------------------------------------------------
def test_the_generated_service_passes_its_own_check_without_the_monolith(
    extracted: tuple, isolation: Path, workspace: Path
) -> None:
    label, service, _ = extracted
    env = service_env(service, isolation, workspace / f"var-{label}")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=service, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    probe = (
        "import sys, django; django.setup(); import service.urls, service.celery; "
        "from django.conf import settings; "
        "print(settings.SEAMS_MODULES, sorted(m for m in sys.modules if m == 'app' or m.startswith('app.')), "
        "sorted({m.split('.')[1] for m in sys.modules if m.startswith('modules.')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=service, env={**env, "DJANGO_SETTINGS_MODULE": "service.settings"},
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"['{label}'] [] ['{label}']"


def test_the_generated_service_has_the_monoliths_safe_defaults(orders_service: Path, isolation: Path, workspace: Path) -> None:
    """DEBUG off unless asked for; with it off no start without a real SECRET_KEY or the token keys;
    no usable secret in the generated files; check --deploy passes with the production settings."""
    base = service_env(orders_service, isolation, workspace / "var-defaults")

    def check(*args: str, **changes: str | None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in {**base, **changes}.items() if v is not None}
        return subprocess.run([sys.executable, "manage.py", "check", *args], cwd=orders_service, env=env,
                              capture_output=True, text=True, timeout=300)

    no_secret = check(DEBUG=None, SECRET_KEY=None)
    assert no_secret.returncode != 0 and "SECRET_KEY" in no_secret.stderr and "DEBUG is off" in no_secret.stderr
    placeholder = check(DEBUG="false", SECRET_KEY="change-me")
    assert placeholder.returncode != 0 and "SECRET_KEY" in placeholder.stderr
    no_keys = check(DEBUG="false", SEAMS_API_JWKS_FILE=None, SEAMS_API_DEV_KEYS_DIR=None)
    assert no_keys.returncode != 0 and "SEAMS_API_JWKS_URL" in no_keys.stderr
    service_identity, _ = extracted_identity("orders", ["catalog", "inventory", "orders", "notifications"])
    production = check(
        "--deploy", "--fail-level", "WARNING", DEBUG="false", ALLOWED_HOSTS="orders.example.com", **service_identity,
        SECURE_SSL_REDIRECT="true", SECURE_HSTS_SECONDS="31536000", SECURE_HSTS_INCLUDE_SUBDOMAINS="true",
        SECURE_HSTS_PRELOAD="true", SEAMS_BEHIND_TLS_PROXY="true",
    )
    assert production.returncode == 0, production.stdout + production.stderr
    example = (orders_service / ".env.example").read_text()
    assert "\nSECRET_KEY=\n" in example and "SEAMS_API_JWKS_URL=" in example


def test_the_generated_python_passes_ruff(extracted: tuple) -> None:
    _, service, _ = extracted
    result = subprocess.run(
        [str(BIN / "ruff"), "check", "--no-cache", "."], cwd=service, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


@contextlib.contextmanager
def dockerfile_command(service: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """Run the Dockerfile's CMD in the service directory until the block ends; yields its base URL."""
    command = dockerfile_cmd(service)
    # Inside the container gunicorn binds 0.0.0.0; a test binds the loopback interface only.
    command[2] = command[2].replace("0.0.0.0", "127.0.0.1")
    base = f"http://127.0.0.1:{env['PORT']}"
    with log.open("w") as stream:
        process = subprocess.Popen(command, cwd=service, env=env, stdout=stream, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                httpx.get(f"{base}/health/live", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield base
    finally:
        stop(process)


def migrated(service: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate_modules"], cwd=service, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.e2e
def test_the_dockerfile_command_serves_the_health_probes_and_the_api(
    orders_service: Path, isolation: Path, workspace: Path
) -> None:
    env = service_env(orders_service, isolation, workspace / "var-served", PORT=str(free_port()), WEB_CONCURRENCY="1")
    migrated(orders_service, env)
    with dockerfile_command(orders_service, env, workspace / "orders-service.log") as base:
        live = httpx.get(f"{base}/health/live", timeout=10)
        assert live.status_code == 200 and live.json() == {"status": "live"}
        ready = httpx.get(f"{base}/health/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database:orders"] == {"ok": True}
        missing = httpx.get(f"{base}/api/orders/999999", headers=customer(), timeout=10)  # NotFound -> 404
        assert missing.status_code == 404, missing.text
        assert missing.json()["code"] == "orders.OrderNotFound"
        assert httpx.get(f"{base}/api/openapi.json", timeout=10).json()["info"]["title"] == "orders service"


@pytest.mark.e2e
def test_the_service_serves_the_operator_console_for_its_module_to_staff_only(
    orders_service: Path, isolation: Path, workspace: Path
) -> None:
    env = service_env(orders_service, isolation, workspace / "var-console", PORT=str(free_port()), WEB_CONCURRENCY="1")
    migrated(orders_service, env)
    result = subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", "op", "--email", "op@example.com"],
        cwd=orders_service, env={**env, "DJANGO_SUPERUSER_PASSWORD": "op-pass"}, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with dockerfile_command(orders_service, env, workspace / "orders-console.log") as base, httpx.Client(base_url=base) as client:
        anonymous = client.get("/console/")
        assert anonymous.status_code == 302 and anonymous.headers["location"].startswith("/console/login/?next=/console/")
        login = client.get("/console/login/")
        assert login.status_code == 200
        token = client.cookies["csrftoken"]
        answer = client.post(
            "/console/login/?next=/console/",
            data={"username": "op", "password": "op-pass", "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base}/console/login/"},
        )
        assert answer.status_code == 302 and answer.headers["location"] == "/console/"
        page = client.get("/console/")
        assert page.status_code == 200, page.text
        assert '<g class="node inprocess" id="node-orders"' in page.text  # its own module
        assert 'id="node-catalog"' in page.text  # a module it calls, served by the monolith
        assert client.get("/console/stats.json").json()["modules"]["orders"]["served_here"] is True


@pytest.mark.e2e
def test_the_monolith_bound_to_the_extracted_catalog_prices_orders_through_it(
    workspace: Path, isolation: Path
) -> None:
    """The whole story for a provider: extract, run the service on the monolith's data, set the
    one variable in the monolith, and an order placed in the monolith is priced by the service."""
    _, service, result = extract_once("catalog", workspace)
    var = workspace / "var-shared"
    monolith_env = project_env({"SEAMS_VAR_DIR": str(var)})
    manage(["migrate_modules"], monolith_env)
    manage(["seed_shop"], monolith_env)
    service_identity, monolith_identity = extracted_identity("catalog", ["catalog", "inventory", "orders", "notifications"])
    monolith_env.update(monolith_identity)
    env = service_env(service, isolation, var, PORT=str(free_port()), WEB_CONCURRENCY="1", DEBUG="false", **service_identity)
    with dockerfile_command(service, env, workspace / "catalog-service.log") as base:
        product = httpx.get(f"{base}/api/catalog/products/KB-101", timeout=10)
        assert product.status_code == 200 and product.json()["sku"] == "KB-101"  # the monolith's data, shared
        variable = "SEAMS_BIND_CATALOG"
        assert f"  {variable}=http://catalog-service:8000\n" in result.stdout
        with gunicorn({**monolith_env, variable: base}, log=workspace / "monolith.log") as monolith:
            order = httpx.post(
                f"{monolith}/api/orders/",
                json={"lines": [{"sku": "KB-101", "quantity": 2}]},
                headers=customer(),
                timeout=30,
            )
            assert order.status_code == 201, order.text
            assert order.json()["total_cents"] == 2 * product.json()["price_cents"]
            unknown = httpx.post(
                f"{monolith}/api/orders/",
                json={"lines": [{"sku": "NOPE", "quantity": 1}]},
                headers=customer(),
                timeout=30,
            )
            assert unknown.status_code == 422, unknown.text  # ProductNotFound came back from the service
    # The service is gone now, and the monolith says so rather than pricing in-process.
    with gunicorn({**monolith_env, "SEAMS_BIND_CATALOG": base}, log=workspace / "monolith-alone.log") as monolith:
        gone = httpx.post(
            f"{monolith}/api/orders/",
            json={"lines": [{"sku": "KB-101", "quantity": 1}]},
            headers=customer(),
            timeout=60,
        )
        assert gone.status_code == 503, gone.text
