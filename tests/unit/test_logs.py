"""contracts/kernel/telemetry/logs.py: JSON lines with trace ids, module and extra fields; readable
lines in development; unhandled errors logged with their traceback."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from django.test import Client, override_settings

from contracts.kernel.telemetry.logs import ContextFilter, JsonFormatter, PlainFormatter, logging_config
from tests.support.tracing import TRACE_ID, in_trace

HANDLER = "modules.inventory.handlers.reserve_stock_for_placed_order"


@pytest.fixture
def captured(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """What the root logger writes through the formatter named by the test's parameter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(getattr(request, "param", JsonFormatter)())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_carries_the_trace_the_module_and_the_extra_fields(captured: io.StringIO) -> None:
    with in_trace():
        logging.getLogger("seams.events").warning(
            "Handler %s failed", HANDLER, extra={"event_id": "e-1", "event_type": "orders.OrderPlaced", "handler": HANDLER}
        )
    (line,) = lines(captured)
    assert line["message"] == f"Handler {HANDLER} failed" and line["level"] == "WARNING" and line["logger"] == "seams.events"
    assert line["trace_id"] == TRACE_ID and len(line["span_id"]) == 16
    assert line["module"] == "inventory"  # the module of the handler it names
    assert (line["event_id"], line["event_type"], line["handler"]) == ("e-1", "orders.OrderPlaced", HANDLER)
    assert line["time"].endswith("Z")


def test_outside_a_trace_there_are_no_trace_fields_and_the_logger_names_the_module(captured: io.StringIO) -> None:
    logging.getLogger("modules.orders.services").warning("no trace here")
    (line,) = lines(captured)
    assert "trace_id" not in line and "span_id" not in line
    assert line["module"] == "orders"


def test_an_error_logged_with_exc_info_carries_its_traceback(captured: io.StringIO) -> None:
    try:
        raise KeyError("sku")
    except KeyError:
        logging.getLogger("seams.outbox").exception("it broke")
    (line,) = lines(captured)
    assert line["level"] == "ERROR" and "Traceback (most recent call last)" in line["exc_info"] and "KeyError: 'sku'" in line["exc_info"]


@pytest.mark.parametrize("captured", [PlainFormatter], indirect=True)
def test_a_plain_line_shows_the_extra_fields_and_the_trace(captured: io.StringIO) -> None:
    with in_trace():
        logging.getLogger("seams.events").warning("handled", extra={"event_id": "e-2", "handler": HANDLER})
    line = captured.getvalue().strip()
    assert " WARNING seams.events handled " in line
    assert f"module=inventory event_id=e-2 handler={HANDLER} trace_id={TRACE_ID}" in line


@override_settings(ROOT_URLCONF="tests.unit.failing_urls", DEBUG_PROPAGATE_EXCEPTIONS=False)
def test_an_unhandled_error_in_a_request_is_logged_once_with_its_traceback(captured: io.StringIO) -> None:
    response = Client(raise_request_exception=False).get("/boom")
    assert response.status_code == 500
    (line,) = [line for line in lines(captured) if line["logger"] == "django.request"]
    assert line["level"] == "ERROR" and "Boom: the view broke" in line["exc_info"]
    assert len(line["trace_id"]) == 32  # the request's span (Django instrumentation)


def test_the_setting_selects_the_format_and_refuses_an_unknown_one() -> None:
    assert logging_config({})["formatters"]["seams"]["()"].endswith("PlainFormatter")
    assert logging_config({"SEAMS_LOG_FORMAT": "json"})["formatters"]["seams"]["()"].endswith("JsonFormatter")
    with pytest.raises(ValueError, match="SEAMS_LOG_FORMAT must be 'plain' or 'json'"):
        logging_config({"SEAMS_LOG_FORMAT": "xml"})


def test_celery_workers_log_failed_tasks_not_every_task() -> None:
    """Two lines per task (received, succeeded with a repr of the answer) were about a tenth of a
    catalog worker's CPU per contract call; failures are ERROR and still logged."""
    loggers = logging_config({})["loggers"]
    assert loggers["celery.worker.strategy"]["level"] == loggers["celery.app.trace"]["level"] == "WARNING"
    assert loggers["celery"]["level"] == "INFO"  # the worker's start-up and connection lines stay
    loggers = logging_config({"SEAMS_CELERY_TASK_LOG_LEVEL": "INFO"})["loggers"]
    assert loggers["celery.worker.strategy"]["level"] == loggers["celery.app.trace"]["level"] == "INFO"
