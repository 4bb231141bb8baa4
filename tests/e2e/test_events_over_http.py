"""Events across a cut, for real: notifications runs in its own gunicorn process, the monolith binds
it over HTTP, and an order confirmed in the monolith is emailed by the service exactly once, also
when the service was down at the time (the publication waits as failed in the monolith's outbox and
the relay delivers it once the service is back)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import ROOT, free_port, gunicorn, manage, migrated_database, project_env
from tests.support.tokens import customer, staff
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

CONFIRMATION = "modules.notifications.handlers.email_order_confirmation"

#: Run in the monolith's environment: the confirmation publications of its orders outbox, and, for
#: the keys given as arguments, the outcome of forwarding the envelope again (the inbox's answer).
OUTBOX = f"""
import json, sys, django
django.setup()
from contracts.kernel.models import Publication
from contracts.kernel.outbox import envelope_to_wire
from contracts.kernel.remote import forward_event
rows = list(Publication.objects.using("orders").filter(subscriber={CONFIRMATION!r}).order_by("pk"))
again = {{p.key: forward_event("notifications", p.subscriber, envelope_to_wire(p)) for p in rows if p.key in sys.argv[1:]}}
print(json.dumps({{"rows": {{p.key: [p.status, p.attempts, p.last_error] for p in rows}}, "again": again}}))
"""


def outbox(env: dict[str, str], *forward_again: str) -> dict[str, dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-c", OUTBOX, *forward_again], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def settled(env: dict[str, str], order: int) -> list[object]:
    """The order's confirmation publication once its completion mark is written: the mark of a
    forward waits in the monolith's worker for up to COMPLETION_DELAY after the service answered
    (contracts/kernel/outbox/completions.py), so a read right after the email shows "processing"."""
    rows: list[list[object]] = []

    def marked() -> bool:
        rows.append(outbox(env)["rows"][str(order)])
        return rows[-1][0] != "processing"

    with contextlib.suppress(AssertionError):  # still processing after 60 s: the caller's assertion says so
        eventually(f"order {order}'s confirmation marked", marked, 60, every=0.2)
    return rows[-1]


def test_an_order_confirmation_is_emailed_once_by_the_notifications_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()  # the service's address must survive its restart: the monolith is bound to it

    @contextlib.contextmanager
    def notifications_service(env: dict[str, str], log: Path) -> Iterator[str]:
        running = gunicorn(env, log=log, port=port)  # the same address before and after the restart
        url = running.__enter__()
        try:
            yield url
        finally:
            running.__exit__(None, None, None)

    with migrated_database(tmp_path) as db_env:
        base_env = {**db_env, "DEBUG": "false", "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
        service_env = project_env({**base_env, "SEAMS_MODULES": "notifications"})
        monolith_env = project_env({**base_env, "SEAMS_BIND_NOTIFICATIONS": f"http://127.0.0.1:{port}"})

        with contextlib.ExitStack() as service, gunicorn(monolith_env, log=tmp_path / "monolith.log") as monolith, httpx.Client(
            base_url=monolith, timeout=60
        ) as http:
            service.enter_context(notifications_service(service_env, tmp_path / "notifications.log"))

            def place(email: str) -> int:
                placed = http.post("/api/orders/", json={"lines": [{"sku": "EV-1", "quantity": 1}]}, headers=customer(email))
                assert placed.status_code == 201, placed.text
                assert placed.json()["status"] == "confirmed"
                return int(placed.json()["id"])

            def emails(email: str) -> list[dict[str, object]]:
                answer = http.get("/api/notifications/", headers=customer(email))  # the gateway -> the service
                assert answer.status_code == 200, answer.text
                return answer.json()  # type: ignore[no-any-return]

            assert http.post("/api/catalog/products/", json={"sku": "EV-1", "name": "Lamp", "price_cents": 900}, headers=staff()).status_code == 201
            assert http.put("/api/inventory/stock/EV-1", json={"quantity": 5}, headers=staff()).status_code == 200

            # 1. Both up: the monolith's outbox forwards the confirmation; the service emails once.
            ada = place("ada@example.com")
            assert [m["subject"] for m in emails("ada@example.com")] == [f"Your order #{ada} is confirmed"]
            assert settled(monolith_env, ada)[:2] == ["completed", 1]

            # 2. The service is down: the order still succeeds; the publication waits, failed, not lost.
            service.close()
            bob = place("bob@example.com")
            status, attempts, error = outbox(monolith_env)["rows"][str(bob)]
            assert (status, attempts) == ("failed", 1)
            assert "notifications" in str(error) and f"127.0.0.1:{port}" in str(error)
            assert http.get("/api/notifications/", headers=customer("bob@example.com")).status_code == 503

            # 3. The service is back: one relay pass delivers it, and a repeated forward is a duplicate.
            service.enter_context(notifications_service(service_env, tmp_path / "notifications-again.log"))
            relayed = manage(["relay_events", "--once"], monolith_env)
            assert "orders: 1" in relayed.stdout, relayed.stdout
            state = outbox(monolith_env, str(bob))
            assert state["rows"][str(bob)][:2] == ["completed", 2]
            assert state["again"] == {str(bob): "duplicate"}
            assert [m["subject"] for m in emails("bob@example.com")] == [f"Your order #{bob} is confirmed"]
            assert len(emails("ada@example.com")) == 1
