"""contracts/kernel/telemetry/metrics.py: the names other tools read (the console, the Grafana
dashboard, the PromQL of docs/observability.md) are the ones defined, with base units and bounded labels."""

from __future__ import annotations

import json
import re
from pathlib import Path

from contracts.kernel.telemetry import metrics

ROOT = Path(__file__).resolve().parents[2]

#: The catalogue, as promised to the operator console and the dashboard: name -> labels.
CATALOGUE = {
    "seams_contract_calls_total": ["contract", "method", "transport", "outcome"],
    "seams_contract_call_duration_seconds": ["contract", "method", "transport"],
    "seams_events_published_total": ["event_type"],
    "seams_events_delivered_total": ["event_type", "subscriber"],
    "seams_events_failed_total": ["event_type", "subscriber"],
    "seams_events_dead_total": ["event_type", "subscriber"],
    "seams_breaker_state": ["target"],
    "seams_http_requests_total": ["route", "method", "status"],
}
SCRAPE_TIME = {"seams_outbox_backlog", "seams_outbox_oldest_age_seconds"}


def defined() -> dict[str, list[str]]:
    found = {}
    for name in metrics.__all__:
        metric = getattr(metrics, name)
        if hasattr(metric, "_labelnames"):
            suffix = "_total" if metric._type == "counter" else ""
            found[f"{metric._name}{suffix}"] = list(metric._labelnames)
    return found


def test_the_catalogue_is_what_is_defined() -> None:
    assert defined() == CATALOGUE


def samples_named_in(text: str) -> set[str]:
    names = set(re.findall(r"\bseams_[a-z_]+", text))
    return {re.sub(r"_(bucket|sum|count)$", "", n) if n.startswith("seams_contract_call_duration") else n for n in names}


def test_the_dashboard_and_the_docs_use_only_defined_metrics() -> None:
    known = set(CATALOGUE) | SCRAPE_TIME
    dashboard = json.loads((ROOT / "docs" / "grafana-seams.json").read_text())
    expressions = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    assert samples_named_in(expressions) - known == set()
    assert samples_named_in(expressions) == known  # every metric has a panel
    promql = re.findall(r"```promql\n(.*?)```", (ROOT / "docs" / "observability.md").read_text(), re.S)
    assert promql and samples_named_in(" ".join(promql)) - known == set()
