"""Views of the module graph: the ``manage.py modules`` listing and a Mermaid flowchart.

Both are pure functions over the module configs (anything shaped like a ``ModuleConfig``: a
``label``, a Python package ``name``, ``database_alias``, ``provides``, ``consumes``,
``publishes`` and ``handled_events()``), so they can be tested with stand-ins.

Edges: a module that consumes a contract points at the module that declares it (a contract call,
solid arrow); a module that publishes an event points at each module that subscribes to it (an
event, dotted arrow).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .databases import schema_of


class ModuleLike(Protocol):
    label: str
    name: str

    @property
    def database_alias(self) -> str: ...

    provides: Sequence[Any]
    consumes: Sequence[Any]
    publishes: Sequence[Any]

    def handled_events(self) -> list[Any]: ...


CALL = "call"
EVENT = "event"


@dataclass(frozen=True, order=True)
class Edge:
    """``source`` calls a contract of ``target`` (kind ``call``) or sends it events (kind ``event``)."""

    kind: str
    source: str
    target: str
    names: tuple[str, ...]


def module_edges(modules: Sequence[ModuleLike]) -> list[Edge]:
    """Every contract-call and event edge between the modules, sorted, one per (kind, source, target)."""
    found: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for module in modules:
        for contract in module.consumes:
            found[(CALL, module.label, contract.__seams_module__)].add(contract.__name__)
        for event in module.handled_events():
            found[(EVENT, event.publisher, module.label)].add(event.__name__)
    return sorted(Edge(kind, source, target, tuple(sorted(names))) for (kind, source, target), names in found.items())


def unsubscribed_events(modules: Sequence[ModuleLike]) -> list[tuple[str, str]]:
    """(publisher, event name) of every event a module publishes that no module handles: it is
    stored and then goes nowhere, which a graph of edges alone would hide."""
    handled = {event for module in modules for event in module.handled_events()}
    return sorted({(module.label, event.__name__) for module in modules for event in module.publishes if event not in handled})


#: Words that cannot be Mermaid node ids.
_RESERVED = {"end", "graph", "flowchart", "subgraph", "style", "class", "classdef", "click", "linkstyle", "direction", "default"}


def _node(label: str) -> str:
    return f"{label}_module" if label.lower() in _RESERVED else label


def render_mermaid(modules: Sequence[ModuleLike]) -> str:
    """A Mermaid ``flowchart`` of the modules: solid arrows for contract calls (consumer --> provider,
    labelled with the contracts), dotted arrows for events (publisher -.-> subscriber, labelled with
    the events)."""
    edges = module_edges(modules)
    labels = sorted({m.label for m in modules} | {e.source for e in edges} | {e.target for e in edges})
    lines = [
        "flowchart LR",
        "    %% Seams modules (python manage.py modules graph)",
        "    %% solid: consumer --> provider, labelled with the contract; dotted: publisher -.-> subscriber, labelled with the event",
    ]
    lines += [f'    {_node(label)}["{label}"]' for label in labels]
    for edge in edges:
        arrow = "-->" if edge.kind == CALL else "-.->"
        lines.append(f"    {_node(edge.source)} {arrow}|{', '.join(edge.names)}| {_node(edge.target)}")
    unheard = unsubscribed_events(modules)
    if unheard:
        lines.append('    no_subscriber(["no subscriber"])')
        by_publisher: dict[str, list[str]] = defaultdict(list)
        for publisher, name in unheard:
            by_publisher[publisher].append(name)
        for publisher, names in by_publisher.items():
            lines.append(f"    {_node(publisher)} -.->|{', '.join(names)}| no_subscriber")
    return "\n".join(lines) + "\n"


def describe_database(alias: str, databases: Mapping[str, Mapping[str, Any]]) -> str:
    """``alias (engine, where)``: the SQLite file, or the PostgreSQL database and schema."""
    settings_dict = databases.get(alias)
    if settings_dict is None:
        return f"{alias} (missing from DATABASES)"
    engine = str(settings_dict.get("ENGINE", "?")).rsplit(".", 1)[-1]
    if engine == "sqlite3":
        return f"{alias} (sqlite3, {settings_dict.get('NAME')})"
    where = f"database {settings_dict.get('NAME')}"
    schema = schema_of(dict(settings_dict))
    return f"{alias} ({engine}, {where}, schema {schema})" if schema else f"{alias} ({engine}, {where})"


def render_module_table(modules: Sequence[ModuleLike], databases: Mapping[str, Mapping[str, Any]]) -> str:
    """One block per module: its database, provided and consumed contracts, published and handled events."""
    if not modules:
        return "No modules are installed (a module is a package under modules/ whose AppConfig is a ModuleConfig).\n"
    blocks = [f"{len(modules)} module{'s' if len(modules) != 1 else ''}: {', '.join(m.label for m in modules)}\n"]
    for module in modules:
        rows = [
            ("database", [describe_database(module.database_alias, databases)]),
            ("provides", [c.__seams_name__ for c in module.provides]),
            ("consumes", [c.__seams_name__ for c in module.consumes]),
            ("publishes", [e.event_type for e in module.publishes]),
            ("handles", [e.event_type for e in module.handled_events()]),
        ]
        lines = [f"{module.label}  ({module.name})"]
        for key, values in rows:
            lines.append(f"  {key:<10} {', '.join(values) if values else '-'}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)
