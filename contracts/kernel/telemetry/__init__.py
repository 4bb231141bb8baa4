"""Observability: traces (OpenTelemetry), metrics (Prometheus) and structured logs.

* :mod:`.metrics` — every metric Seams exports and the scrape (``/metrics``, :mod:`.views`);
* :mod:`.middleware` — HTTP requests by route, method and status;

See docs/observability.md.
"""
