"""Safe defaults, checked on real processes: DEBUG is off unless asked for; with it off the process
refuses to start without a real SECRET_KEY or the API's token keys (a message naming the
variable); ``manage.py check --deploy`` passes with the production settings of docs/security.md;
and a 500 with DEBUG off is logged with its traceback."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.processes import ROOT
from tests.support.tokens import api_env

#: The production settings docs/security.md lists (the checklist), with this run's token keys.
PRODUCTION = {
    **api_env(),
    # The test run's service key (tests/settings.py), which DEBUG off requires too.
    **{k: v for k, v in os.environ.items() if k.startswith(("SEAMS_IDENTITY_", "SEAMS_ALLOWED_CALLERS"))},
    "DEBUG": "false",
    "ALLOWED_HOSTS": "shop.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SEAMS_BEHIND_TLS_PROXY": "true",
    "SEAMS_API_RATE_LIMIT_REDIS_URL": "redis://127.0.0.1:6379/2",  # limits and seen service tokens, shared
    "SEAMS_TRUSTED_PROXIES": "1",
}


def run(code_or_args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SEAMS_", "DJANGO_", "SECRET_KEY", "DEBUG", "SECURE_"))}
    return subprocess.run(
        [sys.executable, *code_or_args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "app.settings", "SEAMS_VAR_DIR": str(ROOT / "var"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_value(name: str, env: dict[str, str]) -> str:
    result = run(["-c", f"import django; django.setup(); from django.conf import settings; print(settings.{name})"], env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_debug_is_off_unless_explicitly_on() -> None:
    assert settings_value("DEBUG", {k: v for k, v in PRODUCTION.items() if k != "DEBUG"}) == "False"
    assert settings_value("DEBUG", {"DEBUG": "true"}) == "True"


def test_without_a_secret_key_the_process_refuses_to_start_and_names_it() -> None:
    for secret in ({}, {"SECRET_KEY": "change-me"}):
        env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"} | secret
        result = run(["manage.py", "check"], env)
        assert result.returncode != 0
        assert "SECRET_KEY" in result.stderr and "DEBUG is off" in result.stderr


def test_without_token_keys_the_process_refuses_to_start_and_names_them() -> None:
    env = {k: v for k, v in PRODUCTION.items() if k not in {"SEAMS_API_JWKS_FILE", "SEAMS_API_DEV_KEYS_DIR"}}
    result = run(["manage.py", "check"], env)

    assert result.returncode != 0
    assert "SEAMS_API_JWKS_URL" in result.stderr and "SEAMS_API_JWKS_FILE" in result.stderr


def test_check_deploy_passes_with_the_documented_production_settings() -> None:
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_with_debug_off_an_unhandled_error_is_logged_with_its_traceback() -> None:
    code = """
import django; django.setup()
from django.test import Client
from contracts.catalog import Catalog
from contracts.kernel.public import issue_token
from contracts.kernel.testing import override_contract

class Broken(Catalog):
    def get_product(self, sku):
        raise RuntimeError("boom-secret-detail")
    def get_products(self, skus):
        raise RuntimeError("boom-secret-detail")

token = issue_token("c", scopes=["shop:customer"], email="c@example.com")
with override_contract(Catalog, Broken()):
    r = Client().post("/api/orders/", {"lines": [{"sku": "KB-101", "quantity": 1}]}, content_type="application/json",
                      headers={"Authorization": f"Bearer {token}"}, SERVER_NAME="shop.example.com", secure=True)
print("STATUS", r.status_code, r.content.decode())
"""
    result = run(["-c", code], PRODUCTION)

    assert "STATUS 500" in result.stdout, result.stdout + result.stderr
    assert "boom-secret-detail" not in result.stdout  # not in the response
    assert "Traceback" in result.stderr and "boom-secret-detail" in result.stderr  # in the log


def test_a_malformed_variable_stops_the_start_naming_it() -> None:
    """Read through extraction.settings.Env: once a bare ValueError from int() (no variable named),
    and a mistyped flag was silently off."""
    for variable, value, expected in (
        ("SEAMS_EVENT_MAX_ATTEMPTS", "six", "SEAMS_EVENT_MAX_ATTEMPTS='six' is not a whole number of at least 1 (default 6)"),
        ("SEAMS_RELAY_INTERVAL", "5s", "SEAMS_RELAY_INTERVAL='5s' is not a number above 0 (default 5)"),
        ("DEBUG", "ture", "DEBUG='ture' is not a flag: use true or false"),
    ):
        result = run(["manage.py", "check"], {**PRODUCTION, variable: value})
        assert result.returncode != 0, variable
        assert expected in result.stderr, result.stderr[-1500:]
