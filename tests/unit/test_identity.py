"""extraction/identity: service tokens, the trust, authorisation from the manifests, and the
receivers refusing before anything runs (HTTP endpoints, event receiver, Celery tasks)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.test import Client
from django.test.utils import override_settings

from contracts.catalog import Catalog, ProductDTO
from contracts.kernel import ConfigurationError
from contracts.kernel.testing import override_contract
from extraction.celery.tasks import call_contract, receive_forwarded_event
from extraction.identity import (
    Forbidden,
    Replayed,
    Unauthenticated,
    admit_call,
    admit_event,
    allowed_callers,
    generate_private_pem,
    identity_from_env,
    issue,
    key_id,
    public_text,
    tokens,
    verify,
)
from extraction.identity.keygen import main as keygen
from extraction.identity.keys import load_private_key
from extraction.identity.tokens import reset
from tests.support.identity import service_headers

GET_PRODUCT = "/internal/catalog/v1/catalog/get_product"
EVENTS = "/internal/notifications/events/"


def own_key() -> Ed25519PrivateKey:
    return load_private_key(settings.SEAMS_IDENTITY["KEY"], "test key")


def forge(key: Ed25519PrivateKey, kid: str | None = None, **claims: object) -> str:
    now = int(time.time())
    body = {"iss": "monolith", "sub": "orders", "aud": "catalog", "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex, **claims}
    body = {name: value for name, value in body.items() if value is not None}  # jti=None: a token without one
    return jwt.encode(body, key, algorithm="EdDSA", headers={"kid": kid or key_id(key)})


class Catalogue(Catalog):
    def __init__(self) -> None:
        self.calls = 0

    def get_product(self, sku: str) -> ProductDTO:
        self.calls += 1
        return ProductDTO(sku=sku, name="Lamp", price_cents=1)

    def get_products(self, skus: list[str]) -> list[ProductDTO]:
        return [self.get_product(s) for s in skus]


@pytest.fixture
def catalogue() -> Iterator[Catalogue]:
    with override_contract(Catalog, Catalogue()) as fake:
        yield fake  # type: ignore[misc]


# --- configuration ------------------------------------------------------------------------------------
def test_without_debug_the_process_refuses_to_start_without_its_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"SEAMS_IDENTITY_KEY \(or SEAMS_IDENTITY_KEY_FILE\) is not set"):
        identity_from_env({}, debug=False, default_name="monolith", var_dir=tmp_path)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SEAMS_IDENTITY_KEY": "not a key"}, "SEAMS_IDENTITY_KEY is not a PEM private key"),
        ({"SEAMS_IDENTITY_KEY_FILE": "/nonexistent/key.pem"}, "SEAMS_IDENTITY_KEY_FILE='/nonexistent/key.pem' cannot be read"),
        ({"SEAMS_IDENTITY_PEERS": "{"}, "SEAMS_IDENTITY_PEERS is not JSON"),
        ({"SEAMS_IDENTITY_PEERS": '{"x": {"modules": ["a"], "keys": ["short"]}}'}, "is not an Ed25519 public key"),
        ({"SEAMS_IDENTITY_PEERS": '{"x": {"keys": []}}'}, "service 'x' needs \"modules\""),
        ({"SEAMS_IDENTITY_TTL": "0"}, "SEAMS_IDENTITY_TTL must be"),
    ],
)
def test_bad_identity_settings_are_refused_naming_the_variable(tmp_path: Path, environ: dict[str, str], message: str) -> None:
    environ = {"SEAMS_IDENTITY_KEY": generate_private_pem(), **environ} if "KEY" not in str(environ) else environ
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        identity_from_env(environ, debug=False, default_name="monolith", var_dir=tmp_path)


def test_the_key_generator_prints_a_usable_pair_and_a_trust_entry(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import io

    out = io.StringIO()
    keygen(["catalog-service", "--modules", "catalog", "--out", str(tmp_path)], stream=out)
    key = load_private_key((tmp_path / "catalog-service.pem").read_text(), "written")
    assert (tmp_path / "catalog-service.pem").stat().st_mode & 0o777 == 0o600
    entry = json.loads(out.getvalue().strip().splitlines()[-1])
    assert entry == {"catalog-service": {"modules": ["catalog"], "keys": [public_text(key)]}}
    again = io.StringIO()
    keygen(["--public", str(tmp_path / "catalog-service.pem")], stream=again)
    assert again.getvalue() == public_text(key) + "\n"
    with pytest.raises(FileExistsError):  # never overwrites a key
        keygen(["catalog-service", "--out", str(tmp_path)], stream=io.StringIO())


# --- tokens -----------------------------------------------------------------------------------------
def test_an_issued_token_names_service_module_and_target_and_is_new_every_time() -> None:
    token = issue("orders", "catalog")
    claims = jwt.decode(token, own_key().public_key(), algorithms=["EdDSA"], audience="catalog")
    assert claims["iss"] == "monolith" and claims["sub"] == "orders" and 50 <= claims["exp"] - claims["iat"] <= 60
    assert jwt.get_unverified_header(token)["kid"] == key_id(own_key())
    again = issue("orders", "catalog")
    assert again != token and jwt.decode(again, options={"verify_signature": False})["jti"] != claims["jti"]
    assert verify(token, "catalog").module == "orders"


def test_a_token_is_good_for_one_request_only() -> None:
    token = issue("orders", "catalog")
    assert verify(token, "catalog").module == "orders"
    with pytest.raises(Replayed, match="replayed service token") as caught:
        verify(token, "catalog")  # within its minute: still refused
    assert caught.value.status == 401 and not caught.value.same_message
    # The same token with the message id of its first sighting is a second delivery of one message.
    message = issue("orders", "catalog")
    verify(message, "catalog", "task-1")
    with pytest.raises(Replayed) as twice:
        verify(message, "catalog", "task-1")
    assert twice.value.same_message
    with pytest.raises(Replayed) as moved:
        verify(message, "catalog", "task-2")  # copied into another message: a replay
    assert not moved.value.same_message
    assert verify(issue("orders", "catalog"), "catalog").module == "orders"  # a new token passes


def test_a_token_without_a_usable_jti_is_unauthenticated() -> None:
    with pytest.raises(Unauthenticated, match="jti"):
        verify(forge(own_key(), jti=None), "catalog")
    with pytest.raises(Unauthenticated, match="jti must be a string"):
        verify(forge(own_key(), jti="short"), "catalog")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "no service token"),
        ("garbage", "malformed service token"),
        (lambda: forge(Ed25519PrivateKey.generate()), "unknown key"),
        (lambda: forge(own_key(), exp=int(time.time()) - 60, iat=int(time.time()) - 120), "expired"),
        (lambda: forge(own_key(), aud="inventory"), "for another module"),
        (lambda: forge(own_key(), iss="catalog-service"), "issuer is not the owner of its key"),
        (lambda: forge(own_key(), kid="x" * 16), "unknown key"),
        (lambda: jwt.encode({"sub": "orders", "aud": "catalog", "iss": "monolith", "exp": 2**40, "iat": 0}, "s" * 32,
                            algorithm="HS256", headers={"kid": key_id(own_key())}), "invalid service token"),
    ],
    ids=["missing", "malformed", "unknown-key", "expired", "wrong-audience", "wrong-issuer", "unknown-kid", "hs256"],
)
def test_a_bad_token_is_unauthenticated(token: object, reason: str) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        verify(token() if callable(token) else token, "catalog")  # type: ignore[arg-type]


def signed(header: object, claims: object, key: Ed25519PrivateKey | None = None, *, raw_claims: bytes | None = None) -> str:
    """A compact JWS over exactly these header and claims, signed with ``key`` (the process's own by
    default): tokens PyJWT would not make, to check what the receiver (PyJWT) refuses."""
    key = key or own_key()

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(raw_claims if raw_claims is not None else json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(key.sign(signing_input.encode()))}"


def good_claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims = {"iss": "monolith", "sub": "orders", "aud": "catalog", "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex, **changes}
    return {name: value for name, value in claims.items() if value is not None}


def own_header(**changes: object) -> dict[str, object]:
    return {"alg": "EdDSA", "kid": key_id(own_key()), "typ": "JWT", **changes}


def test_a_token_made_by_hand_with_the_right_form_passes_and_pyjwt_reads_what_issue_makes() -> None:
    """The receiver's parser accepts any correct token, not only its own issuer's bytes (key order,
    spacing, a list audience), and what ``issue`` makes is a standard JWT."""
    assert verify(signed(own_header(), good_claims()), "catalog").module == "orders"
    assert verify(signed({"kid": key_id(own_key()), "alg": "EdDSA"}, good_claims(aud=["inventory", "catalog"])), "catalog").service == "monolith"
    token = issue("orders", "catalog")
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": key_id(own_key()), "typ": "JWT"}
    assert jwt.decode(token, own_key().public_key(), algorithms=["EdDSA"], audience="catalog", issuer="monolith")["sub"] == "orders"


def tampered_claims() -> str:
    head, _, signature = issue("orders", "catalog").split(".")
    claims = base64.urlsafe_b64encode(json.dumps(good_claims(sub="inventory")).encode()).rstrip(b"=").decode()
    return f"{head}.{claims}.{signature}"


def padded() -> str:
    head, claims, signature = issue("orders", "catalog").split(".")
    return f"{head}.{claims}{'=' * (-len(claims) % 4) or '===='}.{signature}"


def respell_signature(token: str) -> str:
    """The signature's last character with its unused low bits set: the same bytes, another spelling."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    return token[:-1] + alphabet[last | 0b0011]


def short_signature() -> str:
    """The signature's first 63 bytes, in canonical base64url: only the 64-byte check refuses it."""
    head, claims, signature = issue("orders", "catalog").split(".")
    raw = base64.urlsafe_b64decode(signature + "==")[:63]
    return f"{head}.{claims}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: signed(own_header(alg="none"), good_claims()), "alg value is not allowed"),
        (lambda: signed(own_header(alg="HS256"), good_claims()), "alg value is not allowed"),
        (lambda: signed(own_header(crit=["exp"], exp=1), good_claims()), "Unsupported critical extension"),
        (lambda: signed(own_header(b64=False), good_claims()), "'b64' is false"),
        (tampered_claims, "Signature verification failed"),
        (lambda: signed(own_header(), good_claims(), Ed25519PrivateKey.generate()), "Signature verification failed"),
        (padded, "Signature verification failed"),
        (short_signature, "Signature verification failed"),
        (lambda: issue("orders", "catalog") + ".x", "invalid service token"),
        (lambda: signed(own_header(), [1, 2]), "Invalid payload string: must be a json object"),
        (lambda: signed(own_header(), None, raw_claims=b"\xff not json"), "Invalid payload string"),
        (lambda: signed(own_header(), good_claims(iat=None)), 'missing the "iat" claim'),
        (lambda: signed(own_header(), good_claims(exp=True)), "expired"),
        (lambda: signed(own_header(), good_claims(iat=int(time.time()) + 600)), "not yet valid"),
        (lambda: signed(own_header(), good_claims(nbf=int(time.time()) + 600)), "not yet valid"),
        (lambda: signed(own_header(), good_claims(exp=int(time.time()) - 6)), "expired"),
        (lambda: signed(own_header(), good_claims(iss=["monolith"])), "issuer is not the owner of its key"),
        (lambda: signed(own_header(), good_claims(sub=7)), "Subject must be a string"),
        (lambda: signed(own_header(), good_claims(jti=12345678901234567890)), "JWT ID must be a string"),
        (lambda: signed(own_header(), good_claims(aud=["inventory"])), "for another module"),
        (lambda: signed(own_header(), good_claims(aud=[["catalog"]])), "for another module"),
        (lambda: signed(own_header(), good_claims(aud={"catalog": 1})), "for another module"),
    ],
    ids=[
        "alg-none", "alg-hs256", "crit", "b64", "tampered-claims", "other-key", "padded", "short-signature", "four-segments",
        "claims-array", "claims-not-json", "no-iat", "bool-exp", "future-iat", "future-nbf",
        "expired-past-leeway", "iss-list", "sub-number", "jti-number", "aud-list-without-us", "aud-nested", "aud-object",
    ],
)
def test_the_receiver_refuses_every_token_off_the_protocol(token: Callable[[], str], reason: str) -> None:
    """PyJWT parses and checks the tokens (through our own instance, EdDSA only): each of these is a
    401 with PyJWT's reason, and nothing is recorded for it. ``exp: true`` is 1 (1970) to PyJWT, so
    expired; a padded or respelled header or claims segment changes the signed bytes."""
    with pytest.raises(Unauthenticated, match=reason) as caught:
        verify(token(), "catalog")
    assert caught.value.status == 401 and not isinstance(caught.value, Replayed)


def test_what_pyjwt_accepts_beyond_what_issue_makes_is_harmless() -> None:
    """Three forms the hand-written parser of fe4578b refused and PyJWT accepts, each kept a pass on
    purpose (no pre-check of our own): only a trusted key can sign a token, so each is a question of
    what it lets that signer do, and of replays.

    * ``exp`` a float or a numeric string: RFC 7519 allows a non-integer NumericDate and PyJWT reads
      times with ``int()``; the replay record keeps the jti until ``float(exp)``, the same instant.
    * another spelling of the signature segment (``==`` padding, which PyJWT 2.15 accepts; the unused
      low bits of its last character set, which PyJWT 2.14+ refuses): the same signature bytes, so the
      same token, and replay protection keys on the verified claims' ``jti``, not on the token's
      spelling, so a respelled token never runs a second time. Respelling the header or claims
      segment changes the signed bytes instead (``padded`` above: 401)."""
    assert verify(signed(own_header(), good_claims(exp=time.time() + 60)), "catalog").module == "orders"
    assert verify(signed(own_header(), good_claims(exp=str(int(time.time()) + 60))), "catalog").module == "orders"
    token = issue("orders", "catalog")
    assert verify(token, "catalog").module == "orders"
    for respelled in (f"{token}==", respell_signature(token)):
        assert respelled != token
        with pytest.raises(Unauthenticated) as caught:  # Replayed, or refused outright
            verify(respelled, "catalog")
        assert caught.value.status == 401


def test_pyjwt_checks_the_tokens_through_our_own_instance_with_libsodium() -> None:
    """Pins PyJWT's private hook ``PyJWT._jws`` (tokens._service_jwt): our instance knows one algorithm,
    EdDSA through libsodium, and the module-level ``jwt`` functions keep their own. If an upgrade of PyJWT
    moves the hook, this fails (and issue() with libsodium's raw key would too) instead of tokens
    silently going back through OpenSSL."""
    jws = tokens._JWT._jws
    assert isinstance(jws, jwt.PyJWS) and jws.get_algorithms() == ["EdDSA"]
    assert type(jws.get_algorithm_by_name("EdDSA")) is tokens.NaclEdDSA
    assert type(jwt.api_jws._jws_global_obj.get_algorithm_by_name("EdDSA")) is not tokens.NaclEdDSA
    ring = tokens._current()
    secret = ring.signer[0]
    token = tokens._JWT.encode({"sub": "orders"}, secret, algorithm="EdDSA")
    head, body, signature = token.split(".")
    # Ed25519 is deterministic: libsodium's signature is OpenSSL's, byte for byte, and exactly 64 bytes.
    assert base64.urlsafe_b64decode(signature + "==") == own_key().sign(f"{head}.{body}".encode())
    algorithm = tokens.NaclEdDSA()
    public = ring.verifying[key_id(own_key())][1]
    raw = base64.urlsafe_b64decode(signature + "==")
    assert algorithm.verify(f"{head}.{body}".encode(), public, raw)
    assert not algorithm.verify(f"{head}.{body}".encode(), public, raw[:63])
    assert not algorithm.verify(f"{head}.{body}".encode(), secret, raw)  # a secret key never verifies
    with pytest.raises(jwt.InvalidKeyError):
        algorithm.prepare_key(own_key())


def test_a_service_cannot_speak_for_a_module_it_does_not_serve(tmp_path: Path) -> None:
    other = Ed25519PrivateKey.generate()
    peers = json.dumps({"catalog-service": {"modules": ["catalog"], "keys": [public_text(other)]}})
    with override_settings(SEAMS_IDENTITY={**settings.SEAMS_IDENTITY, "PEERS": peers}):
        assert verify(forge(other, iss="catalog-service", sub="catalog", aud="orders"), "orders").service == "catalog-service"
        with pytest.raises(Forbidden, match="does not serve module 'orders'"):
            verify(forge(other, iss="catalog-service", sub="orders", aud="inventory"), "inventory")


# --- authorisation ------------------------------------------------------------------------------------
def test_only_the_consumers_of_a_contract_may_call_it() -> None:
    assert "orders" in allowed_callers(Catalog) and "notifications" not in allowed_callers(Catalog)
    assert admit_call(issue("orders", "catalog"), Catalog).module == "orders"
    with pytest.raises(Forbidden, match="module 'notifications' .* does not consume catalog.Catalog"):
        admit_call(issue("notifications", "catalog"), Catalog)
    with override_settings(SEAMS_ALLOWED_CALLERS={"catalog.Catalog": ["notifications"]}):
        assert admit_call(issue("notifications", "catalog"), Catalog).module == "notifications"


def test_only_the_publisher_of_an_event_may_forward_it() -> None:
    envelope = {"type": "orders.OrderConfirmed", "version": 1}
    assert admit_event(issue("orders", "notifications"), "notifications", envelope).module == "orders"
    with pytest.raises(Forbidden, match="does not publish orders.OrderConfirmed: only 'orders' may forward it"):
        admit_event(issue("inventory", "notifications"), "notifications", envelope)


# --- the receivers refuse before anything runs --------------------------------------------------------
def test_the_http_endpoint_refuses_before_the_implementation_runs(catalogue: Catalogue) -> None:
    client = Client()
    body = json.dumps({"sku": "A"})
    unsigned = client.post(GET_PRODUCT, body, content_type="application/json")
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "seams.Unauthenticated"
    assert unsigned["WWW-Authenticate"].startswith("Bearer")
    malformed_body = client.post(GET_PRODUCT, "{", content_type="application/json")
    assert malformed_body.status_code == 401  # identity first: an anonymous caller learns nothing
    wrong = client.post(GET_PRODUCT, body, content_type="application/json", headers=service_headers("notifications", "catalog"))
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "seams.Forbidden"
    audience = client.post(GET_PRODUCT, body, content_type="application/json", headers=service_headers("orders", "inventory"))
    assert audience.status_code == 401
    assert catalogue.calls == 0
    ok = client.post(GET_PRODUCT, body, content_type="application/json", headers=service_headers("orders", "catalog"))
    assert ok.status_code == 200 and catalogue.calls == 1


def test_the_internal_openapi_documents_need_a_token_too() -> None:
    assert Client().get("/internal/catalog/v1/catalog/openapi.json").status_code == 401
    assert Client().get("/internal/catalog/v1/catalog/docs/").status_code == 401
    schema = Client().get("/internal/catalog/v1/catalog/openapi.json", headers=service_headers("orders", "catalog")).json()
    responses = schema["paths"][GET_PRODUCT]["post"]["responses"]
    assert {"401", "403"} <= set(responses) and schema["components"]["securitySchemes"]


def test_a_forged_event_is_refused_before_the_handler_or_the_inbox() -> None:
    envelope = {"id": "5d3c1b2a-0000-4000-8000-000000000009", "type": "orders.OrderConfirmed", "version": 1, "key": "1",
                "payload": {"order_id": 1, "customer_email": "victim@example.com", "total_cents": 1},
                "headers": {}, "occurred_at": "2026-01-01T00:00:00+00:00"}
    body = json.dumps({"subscriber": "modules.notifications.handlers.email_order_confirmation", "envelope": envelope})
    assert Client().post(EVENTS, body, content_type="application/json").status_code == 401
    forged = Client().post(EVENTS, body, content_type="application/json", headers=service_headers("inventory", "notifications"))
    assert forged.status_code == 403 and "only 'orders' may forward it" in forged.json()["error"]["message"]


def test_the_celery_tasks_refuse_a_message_without_a_valid_token(catalogue: Catalogue) -> None:
    refused = call_contract("catalog.Catalog", "get_product", {"sku": "A"}, None)
    assert refused == {"refused": {"status": 401, "code": "seams.Unauthenticated", "message": refused["refused"]["message"]}}
    forbidden = call_contract("catalog.Catalog", "get_product", {"sku": "A"}, None, token=issue("notifications", "catalog"))
    assert forbidden["refused"]["status"] == 403
    assert catalogue.calls == 0
    envelope = {"type": "orders.OrderConfirmed", "version": 1}
    handler = "modules.notifications.handlers.email_order_confirmation"
    assert receive_forwarded_event("notifications", handler, envelope)["refused"]["status"] == 401
    assert receive_forwarded_event("notifications", handler, envelope, token=issue("inventory", "notifications"))["refused"]["status"] == 403


# --- rotation -----------------------------------------------------------------------------------------
def test_keys_rotate_through_their_files_without_a_restart(tmp_path: Path) -> None:
    """The caller's key file is replaced by a new key while the receiver trusts both; then the old
    key is dropped from the trust and its tokens stop working."""
    old, new = generate_private_pem(), generate_private_pem()
    key_file, peers_file = tmp_path / "key.pem", tmp_path / "peers.json"
    key_file.write_text(old)
    old_public = public_text(load_private_key(old, "old"))
    new_public = public_text(load_private_key(new, "new"))
    peers_file.write_text(json.dumps({"monolith": {"modules": ["orders"], "keys": [old_public, new_public]}}))
    config = {**settings.SEAMS_IDENTITY, "KEY": None, "KEY_FILE": str(key_file), "PEERS_FILE": str(peers_file)}
    from extraction.identity import tokens

    old_key = load_private_key(old, "old")
    with override_settings(SEAMS_IDENTITY=config):
        first = issue("orders", "catalog")
        assert verify(first, "catalog").module == "orders"
        key_file.write_text(new + "\n")  # the new key, a different size: seen at the next check
        tokens._current().checked = 0  # the files are looked at once a second; do not wait for it
        second = issue("orders", "catalog")
        assert second != first and jwt.get_unverified_header(second)["kid"] == key_id(load_private_key(new, "new"))
        assert verify(forge(old_key), "catalog").module == "orders"  # both keys trusted while rotating
        peers_file.write_text(json.dumps({"monolith": {"modules": ["orders"], "keys": [new_public]}}))
        tokens._current().checked = 0
        assert verify(second, "catalog").module == "orders"
        # The old public key is gone from the peers, but the old private key file is gone too: the
        # process's own key is the new one, so the old key's tokens are now of an unknown kid.
        with pytest.raises(Unauthenticated, match="unknown key"):
            verify(forge(old_key), "catalog")
    reset()


def test_with_debug_and_no_key_processes_sharing_a_directory_trust_each_other(tmp_path: Path) -> None:
    one = identity_from_env({}, debug=True, default_name="monolith", var_dir=tmp_path)
    two = identity_from_env({"SEAMS_IDENTITY_NAME": "catalog-service"}, debug=True, default_name="x", var_dir=tmp_path)
    with override_settings(SEAMS_IDENTITY=two, SEAMS_MODULES=["catalog"]):
        token = issue("catalog", "orders")
    assert (tmp_path / "identity" / "catalog-service.pem").stat().st_mode & 0o777 == 0o600
    with override_settings(SEAMS_IDENTITY=one):
        identity = verify(token, "orders")
    assert identity.service == "catalog-service" and identity.module == "catalog"
    reset()


def test_a_deeply_nested_body_from_an_authenticated_peer_is_refused_not_a_500() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    events = Client().post(EVENTS, deep, content_type="application/json", headers=service_headers("orders", "notifications"))
    assert events.status_code == 422 and "nested too deeply" in events.json()["undeliverable"]
    call = Client().post(GET_PRODUCT, deep, content_type="application/json", headers=service_headers("orders", "catalog"))
    assert call.status_code in {400, 422}, call.content[:200]
    assert Client().post(EVENTS, deep, content_type="application/json").status_code == 401  # anonymous: not even parsed


# --- replay protection shared across workers ----------------------------------------------------------
def replay_settings(location: str) -> override_settings:
    caches = {
        **settings.CACHES,
        "seams-replay": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
    }
    return override_settings(CACHES=caches, SEAMS_IDENTITY={**settings.SEAMS_IDENTITY, "REPLAY_CACHE": "seams-replay"})


def test_with_redis_a_token_replayed_to_another_worker_is_refused() -> None:
    from extraction.identity import replay

    with replay_settings("redis://127.0.0.1:6379/4"):
        token = issue("orders", "catalog")
        assert verify(token, "catalog").module == "orders"
        replay.reset()  # another worker process: nothing of this one's record
        with pytest.raises(Replayed):
            verify(token, "catalog")


def test_an_unreachable_redis_falls_back_to_the_process_record_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    from tests.support.processes import free_port

    with replay_settings(f"redis://127.0.0.1:{free_port()}/0"):
        token = issue("orders", "catalog")
        assert verify(token, "catalog").module == "orders"  # the call goes through
        with pytest.raises(Replayed):
            verify(token, "catalog")  # and this process still refuses a replay
    assert "shared replay record" in caplog.text and "unreachable" in caplog.text


def test_the_replay_cache_is_configured_from_the_environment(tmp_path: Path) -> None:
    from extraction.hardening import caches_from_env

    assert "seams-replay" not in caches_from_env({})
    env = {"SEAMS_IDENTITY_REPLAY_REDIS_URL": "redis://r:6379/3"}
    assert caches_from_env(env)["seams-replay"]["LOCATION"] == "redis://r:6379/3"
    assert caches_from_env({"SEAMS_API_RATE_LIMIT_REDIS_URL": "redis://r:6379/2"})["seams-replay"]["LOCATION"] == "redis://r:6379/2"
    assert identity_from_env(env, debug=True, default_name="m", var_dir=tmp_path)["REPLAY_CACHE"] == "seams-replay"
    assert identity_from_env({}, debug=True, default_name="m", var_dir=tmp_path)["REPLAY_CACHE"] is None


@pytest.mark.parametrize(
    "token",
    ["", ".", "!!!.x.y", "bm90IGpzb24.x.y", "WzFd.x.y", "eyJraWQiOg.x.y", "W1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW10.x.y"],
    ids=["empty", "dots", "not-base64", "not-json", "json-array", "truncated-json", "nested-array"],
)
def test_a_header_that_cannot_be_read_is_a_malformed_token(token: str) -> None:
    """The header is read once, for its kid, before PyJWT checks the whole token (a cheaper parse):
    whatever it cannot read is the same 401, never a 500."""
    with pytest.raises(Unauthenticated, match="malformed service token|no service token"):
        verify(token, "catalog")
