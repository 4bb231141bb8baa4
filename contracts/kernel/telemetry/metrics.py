"""Prometheus metrics: what Seams counts, and how a scrape collects it.

Every metric Seams exports is defined here, once, so dashboards, alerts and the operator console
read one catalogue (docs/observability.md). Names follow Prometheus conventions: a ``seams_``
prefix, base units (seconds), ``_total`` on counters, and labels whose values are bounded by the
code (contract and method names, event types, subscriber names, module labels, configured
targets, URL patterns), never by the data.

Counters and the histogram live in prometheus-client's default registry. Under gunicorn or a
Celery prefork pool each process counts on its own; set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
directory shared by the processes of one service (wiped at each start) and ``/metrics`` adds them
up (prometheus-client's multiprocess mode). The outbox gauges are not counted at all: they are
read from the outbox tables when ``/metrics`` is scraped (:class:`OutboxCollector`), so every
process reports the same truth whichever one answers the scrape.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

__all__ = [
    "BREAKER_STATE",
    "BREAKER_STATES",
    "CONTENT_TYPE_LATEST",
    "CONTRACT_CALLS",
    "CONTRACT_CALL_DURATION",
    "EVENTS_DEAD",
    "EVENTS_DELIVERED",
    "EVENTS_FAILED",
    "EVENTS_PUBLISHED",
    "HTTP_REQUESTS",
    "OUTCOMES",
    "OutboxCollector",
    "exposition",
    "scrape_registry",
]

log = logging.getLogger("seams.telemetry")

#: The ``outcome`` label of a contract call: ``ok``; ``contract_error``, the provider answered
#: with one of the contract's declared errors (``NotFound``, ``Invalid``, ``Conflict``...: a
#: business answer, not a fault); ``unavailable``, the transport could not reach a provider
#: (``ServiceUnavailable``: connection refused, timeout, breaker open); ``error``, anything else
#: (a contract violation, a bug on either side).
OUTCOMES = ("ok", "contract_error", "unavailable", "error")

#: ``seams_breaker_state`` values.
BREAKER_STATES = {"closed": 0, "half-open": 1, "open": 2}

class _FlushTallies(Collector):
    """Registered first in the default registry: whoever collects it (``/metrics``, the console)
    sees the contract calls tallied but not yet flushed (``calls.py``), and the events published
    and delivered tallied (``events.Tally``), in the counters that follow."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from .calls import flush
        from .events import flush_tallies

        flush()
        flush_tallies()
        return iter(())

    def describe(self) -> list[GaugeMetricFamily]:
        return []


REGISTRY.register(_FlushTallies())

#: From tens of microseconds (an in-process call) to seconds (a remote call near its timeout).
CALL_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

CONTRACT_CALLS = Counter(
    "seams_contract_calls_total",
    "Contract calls made by this process, by contract, method, transport (inprocess, http, celery) and outcome.",
    ["contract", "method", "transport", "outcome"],
)
CONTRACT_CALL_DURATION = Histogram(
    "seams_contract_call_duration_seconds",
    "Wall-clock duration of contract calls as the caller saw them, transport included.",
    ["contract", "method", "transport"],
    buckets=CALL_BUCKETS,
)
EVENTS_PUBLISHED = Counter(
    "seams_events_published_total",
    "Events published by this process (counted when the publisher's transaction commits).",
    ["event_type"],
)
EVENTS_DELIVERED = Counter(
    "seams_events_delivered_total",
    "Publications completed: the subscriber handled the event (or it had already, a duplicate).",
    ["event_type", "subscriber"],
)
EVENTS_FAILED = Counter(
    "seams_events_failed_total",
    "Handler attempts that failed and will be retried (the last one counts as dead instead).",
    ["event_type", "subscriber"],
)
EVENTS_DEAD = Counter(
    "seams_events_dead_total",
    "Publications given up on (dead letters): out of attempts, or undeliverable.",
    ["event_type", "subscriber"],
)
BREAKER_STATE = Gauge(
    "seams_breaker_state",
    "Circuit breaker per target base URL: 0 closed, 1 half-open, 2 open (the worst of this service's processes).",
    ["target"],
    multiprocess_mode="livemax",
)
HTTP_REQUESTS = Counter(
    "seams_http_requests_total",
    "HTTP requests served, by URL pattern (route), method and status code.",
    ["route", "method", "status"],
)


class OutboxCollector(Collector):
    """``seams_outbox_backlog{module}`` and ``seams_outbox_oldest_age_seconds{module}``, computed at
    scrape time from the outbox of every module served by this process.

    The backlog is the number of open publications (pending, processing or failed: not yet
    completed nor dead) in the module's outbox; the age is how long the oldest of them has been
    waiting (0 when there is none). A module whose database cannot be read is left out of the
    scrape and logged, rather than failing the whole scrape.
    """

    def collect(self) -> Iterator[GaugeMetricFamily]:
        backlog = GaugeMetricFamily(
            "seams_outbox_backlog", "Open publications (pending, processing, failed) in each module's outbox.",
            labels=["module"],
        )
        oldest = GaugeMetricFamily(
            "seams_outbox_oldest_age_seconds", "Age of the oldest open publication in each module's outbox (0: none).",
            labels=["module"],
        )
        for module, count, age in outbox_backlog():
            backlog.add_metric([module], count)
            oldest.add_metric([module], age)
        yield backlog
        yield oldest

    def describe(self) -> list[GaugeMetricFamily]:
        # Registering must not query databases: describe() answers in collect()'s stead.
        return []


def outbox_backlog() -> list[tuple[str, int, float]]:
    """``(module, open publications, age of the oldest in seconds)`` for each module served here."""
    from django.db.models import Count, Min
    from django.utils import timezone

    from ..models import Publication, open_rows
    from ..modules import module_configs
    from ..outbox.completions import deferred
    from ..remote import is_remote

    try:
        deferred.flush()  # this process's handled publications whose completion marks still wait
    except Exception as exc:
        log.warning("Could not write the waiting completion marks before /metrics: %s", exc)
    now = timezone.now()
    rows: list[tuple[str, int, float]] = []
    for config in module_configs():
        if is_remote(config.label):
            continue
        try:
            found = (
                Publication.objects.using(config.database_alias)
                .filter(open_rows(), publisher=config.label)
                .aggregate(open=Count("pk"), oldest=Min("created_at"))
            )
        except Exception as exc:  # one unreadable database must not blank the whole scrape
            log.warning("Could not read the outbox of %s for /metrics: %s", config.label, exc, extra={"seams_module": config.label})
            continue
        age = max(0.0, (now - found["oldest"]).total_seconds()) if found["oldest"] else 0.0
        rows.append((config.label, int(found["open"]), age))
    return rows


def scrape_registry() -> CollectorRegistry:
    """What one scrape reports: this process's metrics, or every process's when
    ``PROMETHEUS_MULTIPROC_DIR`` is set, plus the outbox gauges read now."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client.multiprocess import MultiProcessCollector

        MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)  # a registry is a collector: this process's metrics, process_* included
    registry.register(OutboxCollector())
    return registry


def exposition() -> bytes:
    """The Prometheus text format of :func:`scrape_registry` (what ``/metrics`` answers), with
    this process's tallied contract calls flushed first (``calls.py``)."""
    from .calls import flush

    flush()
    return generate_latest(scrape_registry())
