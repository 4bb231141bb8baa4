"""What the console shows, read from the process's own state: manifests and bindings, the outbox
tables of the modules served here, the Prometheus registry, and the dependency checks.

Every number is a *total* (events ever published, calls ever counted); the page's script turns two
readings into a rate, so the server keeps no state between polls and any worker can answer.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from contracts.kernel import UnknownName, module_configs
from contracts.kernel.contract import declared_contracts
from contracts.kernel.graph import Edge, module_edges
from contracts.kernel.models import Publication, PublicationStatus, open_rows
from contracts.kernel.operations import event_stats, list_publications, parse_ref
from contracts.kernel.outbox import module_aliases
from contracts.kernel.remote import is_remote

from .svg import GraphNode

__all__ = [
    "CALLS_METRIC",
    "DeadLetter",
    "ModuleNumbers",
    "call_totals",
    "dead_letters",
    "graph_edges",
    "graph_nodes",
    "module_numbers",
    "publication_statuses",
]

#: The contract-call counter (contracts/kernel/telemetry/metrics.py); samples are read by name.
CALLS_METRIC = "seams_contract_calls_total"


def _where(label: str) -> tuple[str, str]:
    binding = getattr(settings, "SEAMS_BINDINGS", {}).get(label)
    if binding and binding.get("TRANSPORT") == "http":
        return "http", str(binding.get("URL", ""))
    if binding and binding.get("TRANSPORT") == "celery":
        return "celery", f"celery: {binding.get('QUEUE', '')}"
    if binding:
        return str(binding.get("TRANSPORT")), str(binding.get("TRANSPORT"))
    if is_remote(label):
        return "elsewhere", "not installed here"
    return "inprocess", "in-process"


def graph_nodes() -> list[GraphNode]:
    """Every installed module and every module a binding names, with where it runs."""
    labels = {m.label for m in module_configs()} | set(getattr(settings, "SEAMS_BINDINGS", {}))
    return [GraphNode(label, *_where(label)) for label in sorted(labels)]


def graph_edges() -> list[Edge]:
    return module_edges(module_configs())


def _registry() -> Any:
    """The registry to read: every process's samples under ``PROMETHEUS_MULTIPROC_DIR``, else this one's."""
    import prometheus_client
    from prometheus_client import multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return prometheus_client.REGISTRY


def _module_of_contract(name: str) -> str:
    contract = declared_contracts.get(name)
    if contract is not None:
        return contract.__seams_module__
    for declared in declared_contracts.values():
        if declared.__name__ == name:
            return declared.__seams_module__
    return name.split(".", 1)[0]


def call_totals(registry: Any = None) -> dict[str, float]:
    """Module -> contract calls to it counted so far (every method, transport and outcome)."""
    totals: dict[str, float] = {}
    for family in (registry or _registry()).collect():
        for sample in family.samples:
            if sample.name == CALLS_METRIC:
                module = _module_of_contract(str(sample.labels.get("contract", "")))
                totals[module] = totals.get(module, 0.0) + float(sample.value)
    return totals


@dataclass
class ModuleNumbers:
    """One module's outbox (when served here) and call totals."""

    module: str
    served_here: bool
    where: str = ""
    calls: float = 0.0
    published: int = 0
    delivered: int = 0
    backlog: int = 0
    failed: int = 0
    dead: int = 0
    oldest_open_seconds: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "served_here": self.served_here,
            "calls": self.calls,
            "published": self.published,
            "delivered": self.delivered,
            "backlog": self.backlog,
            "failed": self.failed,
            "dead": self.dead,
            "oldest_open_seconds": self.oldest_open_seconds,
        }


def _oldest_open(alias: str, now: datetime) -> float | None:
    oldest = Publication.objects.using(alias).filter(open_rows()).aggregate(at=Min("created_at"))["at"]
    return max((now - oldest).total_seconds(), 0.0) if oldest else None


def module_numbers(calls: dict[str, float] | None = None) -> list[ModuleNumbers]:
    """Per module: calls (from the registry), events published (the events the outbox holds; with
    completion ``delete`` those whose publications are all gone are not counted), delivered, backlog, failed, dead and
    the age of the oldest open publication."""
    calls = call_totals() if calls is None else calls
    served = set(module_aliases())
    stats = {s.module: s for s in event_stats(sorted(served))} if served else {}
    now = timezone.now()
    rows = []
    for node in graph_nodes():
        alias = next((m.database_alias for m in module_configs() if m.label == node.label), node.label)
        numbers = ModuleNumbers(node.label, alias in served, where=node.where, calls=calls.get(node.label, 0.0))
        if alias in served:
            s = stats[alias]
            numbers.published = s.published
            numbers.delivered, numbers.backlog, numbers.failed, numbers.dead = s.completed, s.backlog, s.failed, s.dead
            numbers.oldest_open_seconds = _oldest_open(alias, now)
        rows.append(numbers)
    return rows


@dataclass(frozen=True)
class DeadLetter:
    ref: str
    event_type: str
    event_id: str
    subscriber: str
    attempts: int
    error: str
    occurred_at: datetime


def dead_letters(limit: int = 100) -> list[DeadLetter]:
    """Dead publications of the outboxes served here, newest first."""
    return [
        DeadLetter(
            ref=f"{alias}:{p.pk}",
            event_type=p.event_type,
            event_id=str(p.event_id),
            subscriber=p.subscriber,
            attempts=p.attempts,
            error=p.last_error,
            occurred_at=p.occurred_at,
        )
        for alias, p in list_publications(status=PublicationStatus.DEAD, limit=limit)
    ]


def publication_statuses(refs: Iterable[str]) -> dict[str, str]:
    """``alias:id`` -> current status, for the refs that name an existing publication (others dropped)."""
    result: dict[str, str] = {}
    for ref in refs:
        try:
            alias, pk = parse_ref(ref)
        except UnknownName:
            continue
        status = Publication.objects.using(alias).filter(pk=pk).values_list("status", flat=True).first()
        if status is not None:
            result[f"{alias}:{pk}"] = status
    return result
