"""The public API's configuration and building blocks: refusing unsafe settings, rates, media
types, JSON bounds, and token keys from a JWKS file or URL (fetched once, cached, refetched for a
new key id: rotation)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from contracts.kernel.errors import ConfigurationError
from contracts.kernel.public import (
    InvalidToken,
    KeysUnavailable,
    api_auth_from_env,
    ensure_dev_keys,
    issue_token,
    verify_token,
)
from contracts.kernel.public.tokens import reset_key_sources
from extraction.hardening import api_rate_limits_from_env, parse_rate, secret_key_from_env
from extraction.publicapi.middleware import is_json_media_type
from extraction.publicapi.parser import BodyRefused, check_json_value
from tests.support.processes import free_port

PRODUCTION = {
    "SEAMS_API_JWKS_URL": "https://id.example.com/jwks.json",
    "SEAMS_API_JWT_ISSUER": "https://id.example.com/",
    "SEAMS_API_JWT_AUDIENCE": "shop",
}


@pytest.mark.parametrize("missing", ["SEAMS_API_JWKS_URL", "SEAMS_API_JWT_ISSUER", "SEAMS_API_JWT_AUDIENCE"])
def test_with_debug_off_every_token_setting_is_required_by_name(missing: str, tmp_path: Path) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigurationError, match=missing):
        api_auth_from_env(env, debug=False, var_dir=tmp_path)


def test_production_token_settings_and_development_defaults(tmp_path: Path) -> None:
    production = api_auth_from_env(PRODUCTION, debug=False, var_dir=tmp_path)
    development = api_auth_from_env({}, debug=True, var_dir=tmp_path)

    assert production["JWKS_URL"] == PRODUCTION["SEAMS_API_JWKS_URL"] and production["DEV_KEYS_DIR"] is None
    assert development["JWKS_FILE"] == str(tmp_path / "dev-keys" / "api-jwks.json")
    assert development["DEV_KEYS_DIR"] == str(tmp_path / "dev-keys")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({**PRODUCTION, "SEAMS_API_JWT_ALGORITHMS": "HS256"}, "asymmetric"),
        ({**PRODUCTION, "SEAMS_API_JWKS_FILE": "/etc/jwks.json"}, "not both"),
        ({**PRODUCTION, "SEAMS_API_JWT_LEEWAY": "soon"}, "SEAMS_API_JWT_LEEWAY"),
    ],
)
def test_unsafe_or_ambiguous_token_settings_are_refused(env: dict[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=message):
        api_auth_from_env(env, debug=False, var_dir=tmp_path)


@pytest.mark.parametrize("value", ["", "change-me", "dev-only-insecure-key-change-me", "short", "django-insecure-" + "x" * 40])
def test_with_debug_off_a_missing_or_placeholder_secret_key_stops_the_process(value: str, tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        secret_key_from_env({"SECRET_KEY": value}, debug=False, var_dir=tmp_path)


def test_under_debug_a_secret_key_is_generated_once_into_var(tmp_path: Path) -> None:
    first = secret_key_from_env({}, debug=True, var_dir=tmp_path)

    assert len(first) >= 50 and secret_key_from_env({}, debug=True, var_dir=tmp_path) == first
    assert (tmp_path / "dev-keys" / "django-secret-key").stat().st_mode & 0o077 == 0
    real = "r" * 60
    assert secret_key_from_env({"SECRET_KEY": real}, debug=False, var_dir=tmp_path) == real


def test_rates() -> None:
    assert parse_rate("120/min") == (120, 60)
    assert parse_rate("10/5s") == (10, 5)
    assert parse_rate("1000/hour") == (1000, 3600)
    for bad in ("lots", "10/fortnight", "0/min", "-1/s"):
        with pytest.raises(ValueError):
            parse_rate(bad)
    assert api_rate_limits_from_env({"SEAMS_API_RATE_ANONYMOUS": "off"})["ANONYMOUS"] is None
    with pytest.raises(ImproperlyConfigured, match="SEAMS_API_RATE_AUTHENTICATED"):
        api_rate_limits_from_env({"SEAMS_API_RATE_AUTHENTICATED": "many"})


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/json", True),
        ("Application/JSON; charset=UTF-8", True),
        ("application/json; charset=latin-1", False),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
        ("multipart/form-data; boundary=x", False),
        ("application/jsonp", False),
        ("", False),
    ],
)
def test_only_application_json_is_json(content_type: str, accepted: bool) -> None:
    assert is_json_media_type(content_type) is accepted


def test_json_bounds() -> None:
    check_json_value({"lines": [{"sku": "A", "quantity": 1}]})
    deep: object = 1
    for _ in range(33):
        deep = [deep]
    for refused in (deep, {"a\x00": 1}, ["\ud800"], {"k": "nul\x00"}):
        with pytest.raises(BodyRefused):
            check_json_value(refused)


# --- key sources ---------------------------------------------------------------------------------
class JwksServer:
    """A JWKS document served over loopback HTTP, counting its fetches."""

    def __init__(self, document_path: Path) -> None:
        self.path, self.fetches = document_path, 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.fetches += 1
                body = outer.path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def auth_settings(**changes: object) -> dict[str, object]:
    return {"ISSUER": "iss", "AUDIENCE": "aud", "ALGORITHMS": ["EdDSA"], "LEEWAY": 0, "JWKS_URL": None,
            "JWKS_FILE": None, "DEV_KEYS_DIR": None, "JWKS_COOLDOWN": 0, **changes}


@pytest.fixture(autouse=True)
def fresh_key_sources() -> Iterator[None]:
    reset_key_sources()
    yield
    reset_key_sources()


def sign(keys: Path, **options: object) -> str:
    return issue_token("someone", scopes=["s"], keys_dir=keys, issuer="iss", audience="aud", **options)  # type: ignore[arg-type]


def test_a_jwks_url_is_fetched_once_cached_and_fetched_again_for_a_new_key(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    ensure_dev_keys(old)
    ensure_dev_keys(new)
    document = tmp_path / "published.json"
    document.write_text((old / "api-jwks.json").read_text())
    server = JwksServer(document)
    try:
        with override_settings(SEAMS_API_AUTH=auth_settings(JWKS_URL=server.url)):
            assert verify_token(sign(old)).subject == "someone"
            assert verify_token(sign(old)).scopes == frozenset({"s"})
            assert server.fetches == 1  # cached
            # The provider rotates: it publishes both keys; a token with the new key id triggers one fetch.
            keys = json.loads((old / "api-jwks.json").read_text())["keys"] + json.loads((new / "api-jwks.json").read_text())["keys"]
            document.write_text(json.dumps({"keys": keys}))
            assert verify_token(sign(new)).subject == "someone"
            assert verify_token(sign(old)).subject == "someone"
            assert server.fetches == 2
            with pytest.raises(InvalidToken):
                verify_token(sign(tmp_path / "stranger"))
    finally:
        server.close()


def test_an_unreachable_jwks_url_is_service_unavailable(tmp_path: Path) -> None:
    ensure_dev_keys(tmp_path / "k")
    with override_settings(SEAMS_API_AUTH=auth_settings(JWKS_URL=f"http://127.0.0.1:{free_port()}/jwks.json")):
        with pytest.raises(KeysUnavailable):
            verify_token(sign(tmp_path / "k"))


def test_a_jwks_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    ensure_dev_keys(old)
    ensure_dev_keys(new)
    document = tmp_path / "jwks.json"
    document.write_text((old / "api-jwks.json").read_text())
    with override_settings(SEAMS_API_AUTH=auth_settings(JWKS_FILE=str(document))):
        assert verify_token(sign(old)).subject == "someone"
        with pytest.raises(InvalidToken):
            verify_token(sign(new))
        document.write_text((new / "api-jwks.json").read_text())
        import os

        os.utime(document, ns=(1, 10**18))  # a distinct modification time, whatever the clock's resolution
        assert verify_token(sign(new)).subject == "someone"
        with pytest.raises(InvalidToken):
            verify_token(sign(old))  # retired


def test_email_is_taken_only_when_not_marked_unverified(tmp_path: Path) -> None:
    with override_settings(SEAMS_API_AUTH=auth_settings(JWKS_FILE=str(ensure_dev_keys(tmp_path / "k")[1]))):
        assert verify_token(sign(tmp_path / "k", email="a@example.com")).email == "a@example.com"
        unverified = sign(tmp_path / "k", email="a@example.com", extra={"email_verified": False})
        assert verify_token(unverified).email is None
        odd = sign(tmp_path / "k", extra={"scope": 5})
        assert verify_token(odd).scopes == frozenset()


def test_dev_tokens_prints_a_staff_and_a_customer_token_the_api_accepts() -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("dev_tokens", stdout=out)
    exported = dict(line.removeprefix("export ").split("=", 1) for line in out.getvalue().splitlines())

    assert set(exported) == {"STAFF", "ADA"}
    assert verify_token(exported["STAFF"]).scopes == frozenset({"shop:staff"})
    ada = verify_token(exported["ADA"])
    assert ada.email == "ada@example.com" and ada.scopes == frozenset({"shop:customer"})


def test_issue_token_is_refused_without_a_development_key_directory(tmp_path: Path) -> None:
    from django.core.management import CommandError, call_command

    with override_settings(SEAMS_API_AUTH=auth_settings(JWKS_URL="https://id.example.com/jwks.json")):
        with pytest.raises(CommandError, match="identity provider"):
            call_command("issue_token", "someone")
