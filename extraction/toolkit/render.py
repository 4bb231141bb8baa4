"""The files of an extracted service: rendered templates plus copied sources.

Templates are small Django templates under ``templates/`` (``.tpl``, so no tool mistakes them for
code). A line holding only a ``{% ... %}`` tag leaves no blank line behind. Everything that needs
quoting (YAML environment entries, TOML lists) is computed here, so the templates stay plain.

Copied sources: ``contracts/__init__.py``, ``contracts/kernel/`` and the declaration files the
plan names, ``modules/__init__.py`` and ``modules/<label>/``, and ``extraction/`` (the transports,
bindings, health views and ``module_data``) without this toolkit and its command.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from django.template import Context, Engine

from extraction.settings.celery import worker_command

from .plan import SERVICE_PORT, ExtractionPlan, bind_variable
from .writer import GeneratedFile

TEMPLATES = Path(__file__).resolve().parent / "templates"
EXTRACTION_DIR = Path(__file__).resolve().parents[1]

#: Never copied.
IGNORED = ("__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*.sqlite3", ".*.tmp")
#: Parts of extraction/ the service does not need (the toolkit writes services; a service writes none).
EXTRACTION_LEFT_OUT = ("toolkit", "management/commands/extract_module.py")

#: Rendered files: template name -> path in the service (``None``: same path).
RENDERED: dict[str, str] = {
    "manage.py.tpl": "manage.py",
    "service/__init__.py.tpl": "service/__init__.py",
    "service/settings.py.tpl": "service/settings.py",
    "service/urls.py.tpl": "service/urls.py",
    "service/api.py.tpl": "service/api.py",
    "service/wsgi.py.tpl": "service/wsgi.py",
    "service/asgi.py.tpl": "service/asgi.py",
    "service/celery.py.tpl": "service/celery.py",
    "pyproject.toml.tpl": "pyproject.toml",
    "gunicorn.conf.py.tpl": "gunicorn.conf.py",
    "Dockerfile.tpl": "Dockerfile",
    "dockerignore.tpl": ".dockerignore",
    "env.example.tpl": ".env.example",
    "README.md.tpl": "README.md",
    "k8s/config.yaml.tpl": "k8s/config.yaml",
    "k8s/deployment.yaml.tpl": "k8s/deployment.yaml",
    "k8s/service.yaml.tpl": "k8s/service.yaml",
    "k8s/hpa.yaml.tpl": "k8s/hpa.yaml",
    "k8s/migrate-job.yaml.tpl": "k8s/migrate-job.yaml",
}

_TAG_LINE = re.compile(r"^[ \t]*({%[^%]*%})[ \t]*\n", re.M)
_ENGINE = Engine(autoescape=False)


def render_template(name: str, context: dict[str, Any]) -> str:
    source = (TEMPLATES / name).read_text(encoding="utf-8")
    return _ENGINE.from_string(_TAG_LINE.sub(r"\1", source)).render(Context(context, autoescape=False))


@dataclass(frozen=True)
class Options:
    image: str
    monolith_url: str = "http://monolith:8000"
    python: str = "3.11"
    #: Where the module's data is in the monolith now (``monolith_data``), so the service's
    #: .env.example points at the same data instead of a made-up database.
    data: MonolithData | None = None
    #: Where the service is written, as the user would ``cd`` to it from the monolith's directory.
    service_dir: str = ""


@dataclass(frozen=True)
class MonolithData:
    """The module's database as the monolith has it: a PostgreSQL URL (password left out) or the
    directory of its SQLite file."""

    database_url: str | None = None
    sqlite_dir: str | None = None
    sqlite_file: str | None = None

    def describe(self) -> str:
        if self.database_url:
            return f"PostgreSQL {self.database_url}"
        return f"the SQLite file {self.sqlite_file}"


def monolith_data(settings_dict: dict[str, Any]) -> MonolithData:
    """``MonolithData`` of one ``DATABASES`` entry; a password becomes ``<password>``: no generated
    file may carry a usable secret."""
    engine = str(settings_dict.get("ENGINE", ""))
    if engine.endswith("sqlite3"):
        path = Path(str(settings_dict.get("NAME", "")))
        return MonolithData(sqlite_dir=str(path.parent), sqlite_file=str(path))
    user = str(settings_dict.get("USER") or "")
    password = ":<password>" if settings_dict.get("PASSWORD") else ""
    host = str(settings_dict.get("HOST") or "localhost")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    credentials = f"{user}{password}@" if user else ""
    return MonolithData(database_url=f"postgres://{credentials}{host}{port}/{settings_dict.get('NAME', '')}")


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar


def environment(plan: ExtractionPlan, options: Options) -> list[dict[str, str]]:
    """The service's environment in Kubernetes: (name, ConfigMap or Secret key) and its example value."""
    default_binding = "celery" if plan.transport == "celery" else options.monolith_url
    config = [
        ("DEBUG", "false"),
        ("ALLOWED_HOSTS", f"{plan.service_name},localhost,127.0.0.1"),
        ("SEAMS_MODULES", plan.label),
        ("SEAMS_EVENT_DISPATCH", "celery"),
        ("MONOLITH_URL", options.monolith_url),
        *((bind_variable(label), default_binding) for label in plan.monolith_modules),
        ("SEAMS_IDENTITY_NAME", plan.service_name),
        # Public keys only (not secrets); the placeholder is refused at start-up until replaced.
        ("SEAMS_IDENTITY_PEERS", monolith_peers(plan)),
        # The public API's tokens: the same identity provider as the monolith (docs/security.md).
        ("SEAMS_API_JWKS_URL", "https://id.example.com/.well-known/jwks.json"),
        ("SEAMS_API_JWT_ISSUER", "https://id.example.com/"),
        ("SEAMS_API_JWT_AUDIENCE", "seams-api"),
        # Rate limits shared by every replica; the monolith's gateway is the one proxy in front.
        ("SEAMS_API_RATE_LIMIT_REDIS_URL", "redis://redis:6379/2"),
        ("SEAMS_TRUSTED_PROXIES", "1"),
    ]
    # No usable secret in any generated file: empty values, refused at start-up until filled in.
    secret = [
        ("SECRET_KEY", ""),
        ("SEAMS_IDENTITY_KEY", ""),
        ("DATABASE_URL", "postgres://seams@postgres:5432/seams"),  # add the password from your secret store
        ("CELERY_BROKER_URL", "redis://redis:6379/0"),
        ("CELERY_RESULT_BACKEND", "redis://redis:6379/1"),
    ]
    return [{"name": n, "value": v, "source": "config"} for n, v in config] + [
        {"name": n, "value": v, "source": "secret"} for n, v in secret
    ]


MONOLITH_KEY_PLACEHOLDER = "<public key of the monolith: python -m extraction.identity monolith>"


def monolith_peers(plan: ExtractionPlan) -> str:
    """The service's trust: the monolith, speaking for the modules that stay in it (its key to fill in)."""
    return json.dumps({"monolith": {"modules": plan.staying_modules, "keys": [MONOLITH_KEY_PLACEHOLDER]}})


def service_peer(plan: ExtractionPlan) -> str:
    """The entry the monolith adds to its SEAMS_IDENTITY_PEERS for the service."""
    return json.dumps({plan.service_name: {"modules": [plan.label], "keys": [f"<public key of {plan.service_name}>"]}})


def env_yaml(plan: ExtractionPlan, entries: list[dict[str, str]], indent: int) -> str:
    """The ``env:`` items of a container, each read from the service's ConfigMap or Secret."""
    pad = " " * indent
    lines = [f'{pad}- name: PORT\n{pad}  value: "{SERVICE_PORT}"']
    for entry in entries:
        ref, source = ("configMapKeyRef", f"{plan.service_name}-config") if entry["source"] == "config" else (
            "secretKeyRef", f"{plan.service_name}-secrets")
        lines.append(
            f"{pad}- name: {entry['name']}\n{pad}  valueFrom:\n{pad}    {ref}:\n"
            f"{pad}      name: {source}\n{pad}      key: {entry['name']}"
        )
    return "\n".join(lines)


def python_remote_subscribers(remote: dict[str, list[dict[str, str]]]) -> str:
    """``SEAMS_REMOTE_SUBSCRIBERS`` as Python source, one handler per line."""
    if not remote:
        return "{}"
    lines = ["{"]
    for event_type, subscribers in remote.items():
        lines.append(f"    {json.dumps(event_type)}: [")
        lines += [f'        {{"subscriber": {json.dumps(s["subscriber"])}, "module": {json.dumps(s["module"])}}},' for s in subscribers]
        lines.append("    ],")
    lines.append("}")
    return "\n".join(lines)


def monolith_dependencies(root: Path) -> list[str]:
    """The monolith's runtime dependencies (``[project] dependencies`` of its pyproject.toml)."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return ["Django>=5.2,<5.3", "django-ninja>=1.4,<2", "celery[redis]>=5.4,<6", "gunicorn>=23"]
    return list(tomllib.loads(path.read_text(encoding="utf-8")).get("project", {}).get("dependencies", []))


def context(plan: ExtractionPlan, options: Options) -> dict[str, Any]:
    entries = environment(plan, options)
    binding_variable, binding_value = plan.monolith_binding
    worker = worker_command("service", [f"seams.{plan.label}", f"seams.rpc.{plan.label}"])
    return {
        "plan": plan,
        "label": plan.label,
        "service": plan.service_name,
        "port": SERVICE_PORT,
        "image": options.image,
        "python": options.python,
        "transport": plan.transport,
        "consumed": plan.consumed_modules,
        "consumes": plan.consumes,
        "monolith_modules": plan.monolith_modules,
        "monolith_modules_list": json.dumps(plan.monolith_modules),
        "project_modules_list": json.dumps(sorted({plan.label, *plan.staying_modules})),
        "remote_subscribers": plan.remote_subscribers,
        "remote_subscribers_py": python_remote_subscribers(plan.remote_subscribers),
        "allowed_callers_py": json.dumps(plan.allowed_callers, indent=4),
        "monolith_peers": monolith_peers(plan),
        "service_peer": service_peer(plan),
        "bind_variables": [bind_variable(label) for label in plan.monolith_modules],
        "default_binding_expr": '"celery"' if plan.transport == "celery" else "MONOLITH_URL",
        "queues": f"seams.{plan.label},seams.rpc.{plan.label}",
        # One command line everywhere it is written (README, k8s): extraction.settings.celery.worker_command.
        "worker_command": shlex.join(worker),
        "worker_command_yaml": json.dumps(worker),
        "alias": plan.database_alias,
        "dependencies": [json.dumps(d) for d in monolith_dependencies(plan.root)],
        "env": entries,
        "config_entries": [(e["name"], _yaml_str(e["value"])) for e in entries if e["source"] == "config"],
        "secret_entries": [(e["name"], _yaml_str(e["value"])) for e in entries if e["source"] == "secret"],
        "env_yaml_container": env_yaml(plan, entries, 12),
        "monolith_url": options.monolith_url,
        "binding_variable": binding_variable,
        "binding_value": binding_value,
        "declarations": plan.declarations,
        "data": options.data,
        "service_dir": options.service_dir or plan.service_name,
    }


def _ignored(relative: str) -> bool:
    return any(fnmatch(part, pattern) for part in relative.split("/") for pattern in IGNORED)


def copy_tree(source: Path, prefix: str, *, left_out: tuple[str, ...] = ()) -> list[GeneratedFile]:
    """Every file under ``source`` as ``prefix/<relative path>``, in sorted order."""
    files = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source).as_posix()
        if _ignored(relative) or any(relative == x or relative.startswith(x + "/") for x in left_out):
            continue
        files.append(GeneratedFile(f"{prefix}/{relative}", path.read_bytes(), executable=bool(path.stat().st_mode & 0o111)))
    return files


def copied_sources(plan: ExtractionPlan, contracts_dir: Path) -> list[GeneratedFile]:
    files = [GeneratedFile("contracts/__init__.py", (contracts_dir / "__init__.py").read_bytes())]
    files += copy_tree(contracts_dir / "kernel", "contracts/kernel")
    files += [GeneratedFile(f"contracts/{x}.py", (contracts_dir / f"{x}.py").read_bytes()) for x in plan.declarations]
    modules_init = plan.module_dir.parent / "__init__.py"
    files.append(GeneratedFile("modules/__init__.py", modules_init.read_bytes() if modules_init.exists() else b""))
    files += copy_tree(plan.module_dir, f"modules/{plan.label}")
    files += copy_tree(EXTRACTION_DIR, "extraction", left_out=EXTRACTION_LEFT_OUT)
    return files


def service_files(plan: ExtractionPlan, options: Options, contracts_dir: Path) -> list[GeneratedFile]:
    """Every file of the service, rendered ones first."""
    values = context(plan, options)
    rendered = [
        GeneratedFile(target, render_template(name, values).encode(), executable=target == "manage.py")
        for name, target in RENDERED.items()
    ]
    return rendered + copied_sources(plan, contracts_dir)
