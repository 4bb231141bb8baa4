"""Tracing with OpenTelemetry: the spans Seams opens and the W3C trace context it carries.

The kernel depends on ``opentelemetry-api`` only. Without an SDK tracer provider (the ``[otel]``
extra, configured by :func:`configure`), :func:`active` is false and Seams opens no span at all, so
tracing costs one check per crossing. The trace context still travels: whatever ``traceparent``
arrives with a request, a Celery message or a stored envelope is made current while the work runs,
and sent on with every call and event, so a process without the SDK does not break a trace.

The context travels as the W3C ``traceparent`` / ``tracestate`` pair (:func:`carrier`), in
HTTP headers, in the Celery messages of contract calls and event forwards, and in the headers of
every envelope, which the outbox stores: a handler retried an hour later still continues the
trace of the request that published the event.

Span names: ``<contract>.<method>`` (a contract call; ``CLIENT`` on the caller, ``SERVER`` where
a transport serves it, ``INTERNAL`` in-process), ``publish <event type>`` (``PRODUCER``),
``handle <event type>`` (``CONSUMER``: one handler run), ``forward <event type>`` (``CLIENT``: an
event sent to a subscriber in another process), ``relay`` (one relay pass). Attributes live under
``seams.*`` (see docs/observability.md).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from . import publishing

__all__ = [
    "SpanKind",
    "Status",
    "StatusCode",
    "active",
    "attach",
    "carrier",
    "configure",
    "contained",
    "continued",
    "current_ids",
    "mark_outcome",
    "span",
]

TRACER_NAME = "seams"
T = TypeVar("T")

_tracer: trace.Tracer | None = None


def active() -> bool:
    """Has a tracer provider been installed (the SDK's, by :func:`configure` or by any other
    set-up)? Checked on every crossing, so it reads the API's global directly: the public
    ``get_tracer_provider()`` plus an ``isinstance`` on an ABC cost microseconds per call."""
    return trace._TRACER_PROVIDER is not None


def tracer() -> trace.Tracer:
    global _tracer
    if _tracer is None:
        _tracer = trace.get_tracer(TRACER_NAME)
    return _tracer


def contained(call: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)`` in a copy of the current context, so whatever it attaches stays there.

    OpenTelemetry's Celery instrumentation attaches a publish span in ``before_task_publish`` and
    detaches it in ``after_task_publish``; a publish that raises (the broker is down) never gets the
    second signal, and its span would stay current in this thread: every later span, log line and
    carrier of the process would belong to that dead publish's trace. Every ``send_task`` runs
    through this. The trace context is the same inside (the copy starts from it), so the message
    carries the caller's trace as before. When the call raises, the publish spans it opened are
    ended there as errors, in the copy where they were entered (:func:`.publishing.sending`)."""
    return contextvars.copy_context().run(publishing.sending, call, *args, **kwargs)


def carrier() -> dict[str, str]:
    """The current trace context as W3C headers (``traceparent``, and ``tracestate`` when there is
    one); empty when no trace is in progress."""
    if not active() and not trace.get_current_span().get_span_context().is_valid:
        return {}  # nothing to carry: skip the propagators (the publish and call hot paths)
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


@contextlib.contextmanager
def attach(headers: Mapping[str, Any] | None, *, replace: bool = False) -> Iterator[None]:
    """Make the trace context in ``headers`` (``traceparent``/``tracestate``) current while the
    block runs. Nothing changes when they carry none or, unless ``replace``, when a span is already
    current (an instrumentation, such as Django's, extracted the same context first). An envelope's
    context replaces the current one: a handler continues the trace that published its event, not
    the relay's or the worker's."""
    if not headers or "traceparent" not in headers:  # Django's request.headers: any case
        yield
        return
    if not replace and trace.get_current_span().get_span_context().is_valid:
        yield
        return
    token = otel_context.attach(propagate.extract({str(k).lower(): str(v) for k, v in headers.items()}))
    try:
        yield
    finally:
        otel_context.detach(token)


@contextlib.contextmanager
def span(name: str, kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, Any] | None = None) -> Iterator[Span | None]:
    """A span around the block when tracing is :func:`active` (``None`` otherwise): an exception
    marks it as an error and is recorded on it, unless :func:`mark_outcome` called it a
    ``contract_error``."""
    if not active():
        yield None
        return
    with tracer().start_as_current_span(
        name, kind=kind, attributes=dict(attributes or {}), record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as exc:
            # A contract error is the provider's answer, not a failure of the span.
            if current.is_recording() and current.attributes.get("seams.outcome") != "contract_error":  # type: ignore[attr-defined]
                current.record_exception(exc)
                current.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise


@contextlib.contextmanager
def continued(
    headers: Mapping[str, Any] | None,
    name: str,
    kind: SpanKind,
    attributes: Mapping[str, Any] | None = None,
    *,
    replace: bool = False,
) -> Iterator[Span | None]:
    """:func:`span` as a child of the context carried in ``headers`` (the far side of a crossing)."""
    with attach(headers, replace=replace), span(name, kind, attributes) as current:
        yield current


#: Outcomes that mark a span as an error (a contract error is an answer; a duplicate, a success).
FAILED_OUTCOMES = frozenset({"error", "unavailable", "failed", "dead"})


def mark_outcome(current: Span | None, outcome: str, **attributes: Any) -> None:
    """Record how the work ended on the span (``seams.outcome`` and any ``seams.*`` details)."""
    if current is None or not current.is_recording():
        return
    current.set_attribute("seams.outcome", outcome)
    if outcome in FAILED_OUTCOMES:
        current.set_status(Status(StatusCode.ERROR, outcome))
    for key, value in attributes.items():
        if value is not None:
            current.set_attribute(f"seams.{key}", value)


def current_ids() -> tuple[str, str] | None:
    """``(trace id, span id)`` in hex of the current span, for logs; None outside any trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


# --- configuration (the [otel] extra) ------------------------------------------------------------
_configured = False


def configure(service_name: str | None = None, *, exporter: Any = None) -> bool:
    """Install the SDK tracer provider and the Django, Celery and httpx instrumentations, once
    per process; returns whether tracing is on.

    Off unless the SDK is installed and either ``exporter`` is given (tests: an in-memory
    exporter) or the standard variables ask for one: ``OTEL_TRACES_EXPORTER`` (``otlp``,
    ``console``; ``none`` keeps it off) or ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT``. Everything
    else — endpoint, headers, protocol, sampler, resource attributes — is the standard
    ``OTEL_*`` variables, read by the SDK. ``SEAMS_TRACE_FILE=<path>`` appends each finished span
    as one JSON object per line (what the end-to-end tests read across processes).
    """
    global _configured
    if _configured:
        return active()
    names = [n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    trace_file = os.environ.get("SEAMS_TRACE_FILE")
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true" or names == ["none"]:
        return False
    if exporter is None and not names and not endpoint and not trace_file:
        return False
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        return False  # the [otel] extra is not installed: tracing stays a no-op
    _configured = True
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or service_name or "seams"})
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    if trace_file:
        provider.add_span_processor(SimpleSpanProcessor(_file_exporter(trace_file)))
    for name in names or (["otlp"] if endpoint else []):
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    trace.set_tracer_provider(provider)
    _instrument()
    return True


def _exporter(name: str) -> Any:
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER={name!r} is not supported by Seams: use otlp, console or none")


def _file_exporter(path: str) -> Any:
    """Finished spans appended to ``path``, one compact JSON object per line."""
    import json

    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    def line(finished: Any) -> str:
        return json.dumps(json.loads(finished.to_json()), separators=(",", ":")) + "\n"

    return ConsoleSpanExporter(out=open(path, "a", encoding="utf-8"), formatter=line)  # noqa: SIM115 - lives with the process


def _after_host_check() -> int:
    """The position just after the project's Host check in ``MIDDLEWARE`` (0 when it has none)."""
    from django.conf import settings

    names = list(getattr(settings, "MIDDLEWARE", []))
    return next((i + 1 for i, name in enumerate(names) if name.rsplit(".", 1)[-1] == "BadHostMiddleware"), 0)


def _instrument() -> None:
    """Django's requests, Celery's tasks and httpx's requests get spans of their own (and carry
    the context themselves) when their instrumentation is installed."""
    with contextlib.suppress(ImportError):
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        if not DjangoInstrumentor().is_instrumented_by_opentelemetry:
            # Its middleware goes right after the one that refuses a forged Host (a JSON 400):
            # placed first, it reads the Host itself and Django answers an HTML page instead.
            os.environ.setdefault("OTEL_PYTHON_DJANGO_MIDDLEWARE_POSITION", str(_after_host_check()))
            DjangoInstrumentor().instrument()
    with contextlib.suppress(ImportError):
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        if not CeleryInstrumentor().is_instrumented_by_opentelemetry:
            CeleryInstrumentor().instrument()
        publishing.install()  # a failed send's span ends as an error; an unregistered task's covers its publish
    with contextlib.suppress(ImportError):
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        if not HTTPXClientInstrumentor().is_instrumented_by_opentelemetry:
            HTTPXClientInstrumentor().instrument()
