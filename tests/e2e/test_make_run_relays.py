"""``make run`` keeps a relay going: work that did not finish the first time finishes by itself,
with nobody running ``manage.py relay_events``.

Each case starts the real ``make run`` (``manage.py serve``: runserver plus a relay thread) on a
free port, with SQLite files of its own, and reads the outcome from those files:

* a subscriber that fails (``tests/eventprobe``: an email starting with ``flaky`` fails its first
  two attempts) completes on the relay's retries;
* a module extracted into a service that is stopped when an order is placed gets its event once
  the service is back: the forward failed, the relay sends it again; the service stays down for
  more attempts than ``MAX_ATTEMPTS`` allows a failing handler (an outage is not a verdict on the
  event: the publication is never buried for it).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import waiting
from tests.support.identity import extracted_identity
from tests.support.processes import ROOT, listening_socket, project_env, url_of
from tests.support.services import extract, service_env, serving_on_a_free_port, wait_serving, web_command
from tests.support.stack import Process
from tests.support.tokens import customer

pytestmark = pytest.mark.e2e

#: How long an outcome may take to show on a loaded machine (a deadline, not a measurement).
PATIENCE = 120.0
#: Retries come quickly, and never run out while a service is down for a while.
EVENTS = {"SEAMS_EVENT_BACKOFF_BASE": "0.2", "SEAMS_EVENT_BACKOFF_MAX": "1", "SEAMS_EVENT_MAX_ATTEMPTS": "1000"}


#: The flaky subscriber's publication: (status, attempts).
PROBE_PUBLICATION = "SELECT status, attempts FROM seams_publication WHERE subscriber_module = 'eventprobe'"


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
        return conn.execute(sql).fetchall()


def eventually(what: str, probe: Callable[[], object], process: Process) -> object:
    """``tests.support.waiting.eventually`` while ``process`` runs, with its log's tail on a timeout."""
    try:
        return waiting.eventually(what, probe, PATIENCE, every=0.3, unless=waiting.exited(process))
    except AssertionError as failed:
        raise AssertionError(f"{failed}\n{process.tail()}") from None


@contextlib.contextmanager
def make_run(env: dict[str, str], log_dir: Path) -> Iterator[tuple[Process, str]]:
    """The real ``make run`` on a free port (another if that one is taken before it binds it:
    ``serving_on_a_free_port``); stopped (the whole process group) at the end."""
    process, base = serving_on_a_free_port(
        lambda port: Process("make-run", ["make", "--no-print-directory", "-C", str(ROOT), "run", f"PORT={port}"], env, log_dir),
        timeout=PATIENCE,
    )
    try:
        yield process, base
    finally:
        process.stop()


def place(base: str, email: str) -> int:
    answer = httpx.post(
        f"{base}/api/orders/", json={"lines": [{"sku": "CB-505", "quantity": 1}]}, headers=customer(email), timeout=60
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def test_a_failing_subscriber_completes_under_make_run_alone(tmp_path: Path) -> None:
    var = tmp_path / "var"
    env = project_env({"SEAMS_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "tests.settings", **EVENTS,
                       "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"})
    with make_run(env, tmp_path) as (server, base):
        place(base, "flaky-ada@example.com")
        handled = eventually(
            "the flaky subscriber's side effect",
            lambda: rows(var / "eventprobe.sqlite3", "SELECT customer_email FROM eventprobe_handledevent"),
            server,
        )
        assert handled == [("flaky-ada@example.com",)]
        # The side effect commits on eventprobe's database, the completion mark after it on orders'
        # (another SQLite file): the publication is still "processing" in between.
        publication = eventually(
            "the publication no longer open",
            lambda: [r for r in rows(var / "orders.sqlite3", PROBE_PUBLICATION) if r[0] not in ("pending", "processing", "failed")],
            server,
        )
        assert rows(var / "orders.sqlite3", PROBE_PUBLICATION) == publication == [("completed", 3)]  # two failures, retried by the relay thread
    assert "relay_events" not in server.tail(200)


def test_an_extracted_service_that_comes_back_gets_its_events_under_make_run(tmp_path: Path) -> None:
    var = tmp_path / "var"
    # The service's address must survive its restart (the monolith is bound to it): its first start
    # is handed a socket listening from here on, the restart binds the port again (wait_serving
    # checks the server that answers there is the service).
    listener = listening_socket()
    service_port = listener.getsockname()[1]
    service_url = url_of(listener)
    base_env = project_env({"SEAMS_VAR_DIR": str(var), "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"})
    service = extract("notifications", "http", tmp_path / "out", base_env)
    isolation = tmp_path / "isolation"
    isolation.mkdir()
    # Each side with its own service key, trusting the other (docs/security.md).
    service_identity, monolith_identity = extracted_identity("notifications", ["catalog", "inventory", "orders", "notifications"])
    svc_env = service_env(service, isolation, {"SEAMS_VAR_DIR": str(var), "DEBUG": "false", **service_identity,
                                               "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"})
    svc = Process("notifications-service", web_command("service.wsgi", listener), svc_env, tmp_path, cwd=service,
                  listeners=[listener])  # fmt: skip
    # A small retry budget that the outage outlasts (the default, 6, takes ~30 s with this backoff).
    env = {**base_env, **EVENTS, "SEAMS_EVENT_MAX_ATTEMPTS": "3", **monolith_identity,
           "SEAMS_BIND_NOTIFICATIONS": service_url, "SEAMS_BIND_NOTIFICATIONS_TIMEOUT": "10"}

    def emails() -> list[tuple[object, ...]]:
        return rows(var / "notifications.sqlite3", "SELECT recipient FROM notifications_sentemail ORDER BY id")

    def forward_status() -> list[tuple[object, ...]]:
        return rows(var / "orders.sqlite3",
                    "SELECT status FROM seams_publication WHERE subscriber_module = 'notifications' ORDER BY id")

    def most_forward_attempts() -> int:
        found = rows(var / "orders.sqlite3", "SELECT max(attempts) FROM seams_publication WHERE subscriber_module = 'notifications'")
        return int(found[0][0] or 0) if found else 0

    with make_run(env, tmp_path) as (server, base):  # migrates and seeds the shared SQLite files first
        svc.start()
        try:
            wait_serving(svc, service_port)
            place(base, "ada@example.com")
            eventually("the first email, sent by the service", emails, server)
        finally:
            svc.stop()
        # The service is down: the order is still decided, its email forward fails and waits.
        place(base, "bob@example.com")
        eventually("the forward to the stopped service failing",
                   lambda: ("failed",) in forward_status(), server)
        eventually("more failed forwards than MAX_ATTEMPTS", lambda: most_forward_attempts() > 4, server)
        assert ("dead",) not in forward_status()
        assert emails() == [("ada@example.com",)]
        svc.command = web_command("service.wsgi", service_port)  # the same port; its socket went with its first run
        svc.start()
        try:
            wait_serving(svc, service_port)
            eventually("the second email, once the service is back", lambda: len(emails()) == 2, server)
            eventually("every forward completed", lambda: set(forward_status()) == {("completed",)}, server)
        finally:
            svc.stop()
    assert emails() == [("ada@example.com",), ("bob@example.com",)]
    assert '"POST /internal/notifications/events/ HTTP/1.1" 200' in svc.log.read_text(errors="replace")
