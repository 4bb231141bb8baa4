"""Observability: traces (OpenTelemetry), metrics (Prometheus) and structured logs.

* :mod:`.tracing` — the spans Seams opens and the W3C trace context it carries (``opentelemetry-api``;
  the SDK and exporters are the ``[otel]`` extra, configured by ``OTEL_*``);
* :mod:`.calls` — contract calls observed (span, ``seams_contract_calls_total``, duration);
* :mod:`.events` — publish, handle, forward and relay spans and the event counters;
* :mod:`.metrics` — every metric Seams exports and the scrape (``/metrics``: :mod:`.views`);
* :mod:`.middleware` — HTTP requests by route, method and status;
* :mod:`.logs` — JSON or plain log lines with trace ids, module and extra fields;
* :mod:`.gunicorn` — the multiprocess hook for gunicorn.

See docs/observability.md.
"""
