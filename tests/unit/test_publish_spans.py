"""The publish span of a Celery send (contracts.kernel.telemetry.publishing): one ended ``PRODUCER``
span per send, an ERROR one when the broker is down, the caller's context untouched, and nothing
logged by OpenTelemetry when the garbage collector comes by.

Sent by a task name this process registers and by one it does not (the outbox's
``seams.deliver_publication`` from a web process), through ``send_task`` and through
``extraction.celery.sending``, always inside :func:`~contracts.kernel.telemetry.tracing.contained`,
as Seams sends."""

from __future__ import annotations

import gc
import logging
from typing import Any

import pytest
from celery import Celery
from celery.signals import before_task_publish
from kombu.exceptions import OperationalError
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.celery.utils import CTX_KEY

from contracts.kernel.telemetry import publishing, tracing
from extraction.celery.client import PUBLISH_RETRY_POLICY, REDACTED
from extraction.celery.sending import send
from tests.unit.test_outbox_costs import broker_as_current

KNOWN = "tests.spans.known"
UNKNOWN = "tests.spans.unknown"
#: Nothing listens there; no retry, so the connection error comes at once.
DEAD = "redis://127.0.0.1:1/0"


def make_app(broker: str) -> Celery:
    app = Celery("spans", broker=broker, set_as_current=False)
    app.conf.broker_transport_options = {"max_retries": 0}

    @app.task(name=KNOWN, shared=False)  # this app only
    def known() -> None: ...

    return app


def send_task(app: Celery, name: str) -> None:
    tracing.contained(app.send_task, name, [1], queue="spans", retry=False, ignore_result=True)


def send_direct(app: Celery, name: str) -> None:
    tracing.contained(
        send, app, name, [1], {}, task_id="t-1", queue="spans", retry=False, retry_policy=PUBLISH_RETRY_POLICY,
        argsrepr="x", kwargsrepr=REDACTED,
    )


def publish(broker: str, name: str, how: Any) -> tuple[Any, Any]:
    """Send once under a caller's span; (the caller's span, the exception or None). The app is
    dropped before returning, so a collection would reach whatever the send left behind."""
    app = make_app(broker)
    raised = None
    with broker_as_current(app), tracing.span("caller") as caller:
        before = otel_context.get_current()
        try:
            how(app, name)
        except OperationalError as exc:
            raised = exc
        assert otel_context.get_current() is before, "the send changed the caller's context"
        assert trace.get_current_span() is caller
        for task in (app.tasks[KNOWN], publishing._unregistered.get(name)):  # where the spans are kept
            assert not [key for key in getattr(task, CTX_KEY, {}) if key[1]], "publish bookkeeping left behind"
    return caller, raised


def producer(spans: Any, caller: Any, name: str) -> Any:
    (span,) = [s for s in spans.get_finished_spans() if s.kind.name == "PRODUCER"]
    assert span.name == f"apply_async/{name}"
    assert span.parent.span_id == caller.get_span_context().span_id
    return span


@pytest.mark.parametrize("how", [send_task, send_direct], ids=["send_task", "sending.send"])
@pytest.mark.parametrize("name", [KNOWN, UNKNOWN])
def test_a_send_to_a_dead_broker_ends_its_publish_span_as_an_error(
    spans: Any, caplog: pytest.LogCaptureFixture, name: str, how: Any
) -> None:
    caplog.set_level(logging.ERROR, logger="opentelemetry")
    caller, raised = publish(DEAD, name, how)
    assert raised is not None
    gc.collect()

    span = producer(spans, caller, name)
    assert span.status.status_code.name == "ERROR"
    assert "OperationalError" in (span.status.description or "")
    assert [e.attributes["exception.type"] for e in span.events if e.name == "exception"] == ["kombu.exceptions.OperationalError"]
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry")], caplog.text


@pytest.mark.parametrize("how", [send_task, send_direct], ids=["send_task", "sending.send"])
@pytest.mark.parametrize("name", [KNOWN, UNKNOWN])
def test_a_send_that_goes_out_ends_one_span_after_its_publish(
    spans: Any, caplog: pytest.LogCaptureFixture, name: str, how: Any
) -> None:
    caplog.set_level(logging.ERROR, logger="opentelemetry")
    open_while_publishing: list[bool] = []

    def publishing(**_: Any) -> None:  # runs after the instrumentation's receiver: its span is open
        open_while_publishing.append(not spans.get_finished_spans())

    before_task_publish.connect(publishing, weak=False)
    try:
        caller, raised = publish("memory://", name, how)
    finally:
        before_task_publish.disconnect(publishing)
    assert raised is None
    gc.collect()

    span = producer(spans, caller, name)
    assert span.status.status_code.name == "UNSET" and span.end_time is not None
    assert open_while_publishing == [True], "the span ended before its message went out"
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry")], caplog.text
