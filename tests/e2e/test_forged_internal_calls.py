"""Attacks on the internal surface, against real processes: a service serving catalog and
notifications (gunicorn, and a Celery worker on its own queues) with its own key pair, trusting
"monolith" for the modules that stay there. The test process plays the monolith (it holds the
monolith's key, tests/settings.py) and the attacker (who can reach the port and the broker).

Each forged, unsigned, expired, wrong-audience, wrong-caller, replayed (within its minute, to any
worker) and replayed-after-expiry request is refused and leaves nothing behind (no inbox row, no
email), over HTTP and over Celery; the allowed caller still works; the trust file is rotated while
the service runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from celery import Celery
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from extraction.identity import key_id, public_text
from extraction.identity.keys import generate_private_pem, load_private_key
from extraction.identity.tokens import RELOAD_EVERY
from tests.support import waiting
from tests.support.processes import BIN, ROOT, gunicorn, migrated_database, project_env

pytestmark = pytest.mark.e2e

CONFIRMATION = "modules.notifications.handlers.email_order_confirmation"
EVENTS = "/internal/notifications/events/"
GET_PRODUCT = "/internal/catalog/v1/catalog/get_product"
STAYING = ["inventory", "orders"]

#: Counts of what a forged event would leave behind, read in the service's environment.
STATE = """
import json, django
django.setup()
from contracts.kernel.models import InboxEntry
from modules.notifications.models import SentEmail
print(json.dumps({"inbox": InboxEntry.objects.using("notifications").count(),
                  "emails": SentEmail.objects.using("notifications").count()}))
"""


def monolith_key() -> Ed25519PrivateKey:
    return load_private_key(os.environ["SEAMS_IDENTITY_KEY"], "SEAMS_IDENTITY_KEY")


def token(key: Ed25519PrivateKey, *, sub: str = "orders", aud: str = "notifications", iss: str = "monolith",
          lifetime: float = 60, age: float = 0) -> str:
    """A token as the transports sign them: a new ``jti`` each time, good for one request."""
    now = time.time() - age
    claims = {"iss": iss, "sub": sub, "aud": aud, "iat": int(now), "exp": int(now + lifetime), "jti": uuid.uuid4().hex}
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": key_id(key)})


def confirmed(email: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()), "type": "orders.OrderConfirmed", "version": 1, "key": "1",
        "payload": {"order_id": 1, "customer_email": email, "total_cents": 100}, "headers": {},
        "occurred_at": "2026-01-01T00:00:00+00:00",
    }


class Service:
    def __init__(self, base: str, env: dict[str, str], peers: Path, broker: str, queue: str) -> None:
        self.base, self.env, self.peers, self.broker, self.queue = base, env, peers, broker, queue

    def state(self) -> dict[str, int]:
        result = subprocess.run([sys.executable, "-c", STATE], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    def event(self, bearer: str | None, envelope: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return httpx.post(f"{self.base}{EVENTS}", json={"subscriber": CONFIRMATION, "envelope": envelope}, headers=headers, timeout=30)

    def trust(self, *keys: Ed25519PrivateKey) -> None:
        self.peers.write_text(json.dumps({"monolith": {"modules": STAYING, "keys": [public_text(k) for k in keys]}}))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("forged")
    peers = tmp / "peers.json"
    peers.write_text(json.dumps({"monolith": {"modules": STAYING, "keys": [public_text(monolith_key())]}}))
    # Redis databases 3 and 4, not the benches' 7 and 11-15: a bench deletes the "seams.*" keys of
    # its database, and a replay record deleted under this test let a replayed token through.
    broker = "redis://127.0.0.1:6379/3"
    queue = f"seams.identity-e2e.{uuid.uuid4().hex[:6]}"
    with migrated_database(tmp) as db_env:
        base_env = {**db_env, "DEBUG": "false", "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
        env = project_env({
            **base_env,
            "SEAMS_MODULES": "catalog,notifications",
            "SEAMS_IDENTITY_NAME": "shop-service",
            "SEAMS_IDENTITY_KEY": generate_private_pem(),  # its own key, not the monolith's
            "SEAMS_IDENTITY_PEERS": "",
            "SEAMS_IDENTITY_PEERS_FILE": str(peers),
            "CELERY_BROKER_URL": broker,
            "CELERY_RESULT_BACKEND": broker,
            "SEAMS_IDENTITY_REPLAY_REDIS_URL": "redis://127.0.0.1:6379/4",  # shared by its workers
            "SEAMS_IDENTITY_REPLAY_KEY_PREFIX": queue,
        })
        worker_log = (tmp / "worker.log").open("w")
        worker = subprocess.Popen(
            [str(BIN / "celery"), "-A", "app", "worker", "-Q", queue, "-c", "1", "-n", f"{queue}@%h", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
            cwd=ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            with gunicorn(env, log=tmp / "service.log") as base:
                yield Service(base, env, peers, broker, queue)
        finally:
            # The whole group (the pool's child too), and SIGKILL if the warm shutdown hangs: a
            # TimeoutExpired here left the worker running, consuming from Redis after the run.
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
            worker_log.close()


def test_forged_events_are_refused_and_leave_nothing_behind(service: Service) -> None:
    before = service.state()
    attacker = Ed25519PrivateKey.generate()
    envelope = confirmed("victim@example.com")
    cases = {
        "unsigned": (None, 401),
        "garbage": ("not.a.token", 401),
        "forged key": (token(attacker), 401),
        "forged key, monolith's kid": (jwt.encode({"iss": "monolith", "sub": "orders", "aud": "notifications",
                                                   "iat": int(time.time()), "exp": int(time.time()) + 60,
                                                   "jti": uuid.uuid4().hex}, attacker,
                                                  algorithm="EdDSA", headers={"kid": key_id(monolith_key())}), 401),
        "no jti (a token that could be replayed)": (jwt.encode({"iss": "monolith", "sub": "orders", "aud": "notifications",
                                                               "iat": int(time.time()), "exp": int(time.time()) + 60},
                                                              monolith_key(), algorithm="EdDSA",
                                                              headers={"kid": key_id(monolith_key())}), 401),
        "expired": (token(monolith_key(), age=120), 401),
        "wrong audience": (token(monolith_key(), aud="catalog"), 401),
        "wrong caller (inventory does not publish OrderConfirmed)": (token(monolith_key(), sub="inventory"), 403),
        "a module the monolith does not speak for": (token(monolith_key(), sub="notifications"), 403),
    }
    for name, (bearer, status) in cases.items():
        answer = service.event(bearer, envelope)
        assert answer.status_code == status, (name, answer.text)
        assert "Traceback" not in answer.text
    assert service.state() == before  # no inbox row, no email


def test_a_token_replayed_after_it_expired_is_refused_over_http_and_by_the_celery_worker(service: Service) -> None:
    """A short token is used once over each transport, then replayed after its expiry: one wait
    serves both (the wait is what the test costs)."""
    before = service.state()
    app = Celery("attacker", broker=service.broker, backend=service.broker, set_as_current=False)

    def send(task: str, args: list[Any], **kwargs: Any) -> Any:
        return app.send_task(task, args=args, kwargs=kwargs, queue=service.queue).get(timeout=60)

    over_http = token(monolith_key(), lifetime=1)
    first = service.event(over_http, confirmed("ada@example.com"))
    assert first.status_code == 200 and first.json()["outcome"] == "completed"
    to_worker = token(monolith_key(), lifetime=1)
    receive = ["notifications", CONFIRMATION, confirmed("zoe@example.com")]
    assert send("seams.receive_event", receive, token=to_worker)["outcome"] == "completed"
    after = service.state()
    assert after["emails"] == before["emails"] + 2
    time.sleep(1 + 5 + 1)  # the later token's expiry plus the 5 s clock-skew leeway: waiting, not measuring
    replayed = service.event(over_http, confirmed("ada@example.com"))
    assert replayed.status_code == 401 and "expired" in replayed.json()["error"]["message"]
    expired = send("seams.receive_event", receive, token=to_worker)
    assert expired["refused"]["status"] == 401 and "expired" in expired["refused"]["message"]
    assert service.state() == after
    app.close()


def test_a_token_replayed_within_its_minute_is_refused_by_every_worker(service: Service) -> None:
    """The service runs two gunicorn workers sharing their record of seen tokens through Redis:
    the same token sent again, with the same or another body, is refused wherever it lands."""
    once = token(monolith_key())
    first = service.event(once, confirmed("eve@example.com"))
    assert first.status_code == 200 and first.json()["outcome"] == "completed"
    after = service.state()
    for _ in range(4):  # a few tries, so both workers get one
        replayed = service.event(once, confirmed("eve@example.com"))
        assert replayed.status_code == 401 and "replayed" in replayed.json()["error"]["message"], replayed.text
        other_body = service.event(once, confirmed("mallory@example.com"))
        assert other_body.status_code == 401, other_body.text
    assert service.state() == after  # nothing more: no inbox row, no email
    call = token(monolith_key(), aud="catalog")
    url = f"{service.base}{GET_PRODUCT}"
    assert httpx.post(url, json={"sku": "NOPE"}, headers={"Authorization": f"Bearer {call}"}, timeout=30).status_code == 404
    again = httpx.post(url, json={"sku": "NOPE"}, headers={"Authorization": f"Bearer {call}"}, timeout=30)
    assert again.status_code == 401 and "replayed" in again.json()["error"]["message"]


def test_the_celery_worker_refuses_a_replayed_token_within_its_minute(service: Service) -> None:
    """(After its expiry: ``test_a_token_replayed_after_it_expired_is_refused_over_http_and_by_the_celery_worker``.)"""
    before = service.state()
    app = Celery("attacker", broker=service.broker, backend=service.broker, set_as_current=False)

    def send(task: str, args: list[Any], **kwargs: Any) -> Any:
        return app.send_task(task, args=args, kwargs=kwargs, queue=service.queue).get(timeout=60)

    call = ["catalog.Catalog", "get_product", {"sku": "NOPE"}, None, None]
    captured = token(monolith_key(), sub="orders", aud="catalog")
    assert send("seams.call_contract", call, token=captured)["error"]["code"] == "catalog.ProductNotFound"
    replayed = send("seams.call_contract", call, token=captured)  # a new message, the captured token
    assert replayed["refused"]["status"] == 401 and "replayed" in replayed["refused"]["message"]
    assert service.state() == before  # a contract call leaves nothing behind
    app.close()


def test_the_allowed_caller_is_served(service: Service) -> None:
    before = service.state()
    envelope = confirmed("grace@example.com")
    assert service.event(token(monolith_key()), envelope).json() == {"outcome": "completed"}
    assert service.event(token(monolith_key()), envelope).json() == {"outcome": "duplicate"}
    assert service.state() == {"inbox": before["inbox"] + 1, "emails": before["emails"] + 1}


def test_contract_calls_need_a_consumer_identity(service: Service) -> None:
    url = f"{service.base}{GET_PRODUCT}"
    body = {"sku": "NOPE"}
    assert httpx.post(url, json=body, timeout=30).status_code == 401
    assert httpx.get(f"{service.base}/internal/catalog/v1/catalog/openapi.json", timeout=30).status_code == 401
    wrong = httpx.post(url, json=body, headers={"Authorization": f"Bearer {token(monolith_key(), sub='notifications', aud='catalog')}"}, timeout=30)
    assert wrong.status_code == 403  # the monolith does not speak for notifications here
    other = httpx.post(url, json=body, headers={"Authorization": f"Bearer {token(monolith_key(), sub='orders', aud='inventory')}"}, timeout=30)
    assert other.status_code == 401  # a token for another module
    allowed = httpx.post(url, json=body, headers={"Authorization": f"Bearer {token(monolith_key(), sub='orders', aud='catalog')}"}, timeout=30)
    assert allowed.status_code == 404 and allowed.json()["error"]["code"] == "catalog.ProductNotFound"


def test_the_celery_worker_refuses_messages_without_a_valid_token(service: Service) -> None:
    """Broker access alone: tasks sent straight to the worker's queue."""
    before = service.state()
    app = Celery("attacker", broker=service.broker, backend=service.broker, set_as_current=False)

    def send(task: str, args: list[Any], **kwargs: Any) -> Any:
        return app.send_task(task, args=args, kwargs=kwargs, queue=service.queue).get(timeout=60)

    call = ["catalog.Catalog", "get_product", {"sku": "NOPE"}, None, None]
    assert send("seams.call_contract", call)["refused"]["status"] == 401
    assert send("seams.call_contract", call, token=token(Ed25519PrivateKey.generate(), aud="catalog"))["refused"]["status"] == 401
    assert send("seams.call_contract", call, token=token(monolith_key(), sub="inventory", aud="notifications"))["refused"]["status"] == 401
    allowed = send("seams.call_contract", call, token=token(monolith_key(), sub="orders", aud="catalog"))
    assert allowed["error"]["code"] == "catalog.ProductNotFound"
    envelope = confirmed("mallory@example.com")
    assert send("seams.receive_event", ["notifications", CONFIRMATION, envelope])["refused"]["status"] == 401
    forged = send("seams.receive_event", ["notifications", CONFIRMATION, envelope], token=token(monolith_key(), sub="inventory"))
    assert forged["refused"]["status"] == 403
    assert service.state() == before
    app.close()


def test_the_trust_rotates_while_the_service_runs(service: Service) -> None:
    """The monolith moves to a new key: the service trusts both, then only the new one, from its
    mounted peers file, without a restart."""
    old, new = monolith_key(), Ed25519PrivateKey.generate()

    def status(key: Ed25519PrivateKey) -> int:
        return service.event(token(key), confirmed("rotation@example.com")).status_code

    def eventually(key: Ed25519PrivateKey, expected: int) -> None:
        waiting.eventually(f"the service picking up the new trust (answering {expected})", lambda: status(key) == expected, 30, every=0.5)

    with trust_restored(service):
        assert status(new) == 401
        service.trust(old, new)
        eventually(new, 200)
        assert status(old) == 200  # both while rotating
        service.trust(new)
        eventually(old, 401)
        assert status(new) == 200


def test_every_process_of_the_service_trusts_the_monolith_key_again_after_the_rotation(service: Service) -> None:
    """Run after the rotation (file order; any order passes): until 2026-12-02 that test restored the
    trust at its end only, and once one gunicorn worker accepted the monolith's key again, whereas
    the other worker (and the Celery worker) read the file again up to ``RELOAD_EVERY`` later: 3 of
    5 rotations left 2-5 of the next 10 calls refused (401)."""
    codes = [service.event(token(monolith_key()), confirmed(f"after-rotation-{n}@example.com")).status_code for n in range(10)]
    assert codes == [200] * 10
    app = Celery("monolith", broker=service.broker, backend=service.broker, set_as_current=False)
    try:
        call = ["catalog.Catalog", "get_product", {"sku": "NOPE"}, None, None]
        answer = app.send_task("seams.call_contract", args=call, kwargs={"token": token(monolith_key(), aud="catalog")},
                               queue=service.queue).get(timeout=60)
        assert answer["error"]["code"] == "catalog.ProductNotFound", answer
    finally:
        app.close()


@contextmanager
def trust_restored(service: Service) -> Iterator[None]:
    """The service's trust file as it was when this began, written back however the block ends,
    then ``RELOAD_EVERY`` (and a margin) waited: every process of the service checks the file at
    most that often, on its next call after that interval, so each then trusts what it trusted
    before (a worker that checked just before the write would still refuse the restored key)."""
    before = service.peers.read_text()
    try:
        yield
    finally:
        service.peers.write_text(before)
        time.sleep(RELOAD_EVERY + 0.5)  # waiting for the documented interval, not measuring
