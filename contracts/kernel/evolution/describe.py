"""The published language (every contract, event and contract error) as plain, sorted JSON.

Schemas are pydantic's JSON Schema with every ``$ref`` inlined and titles and descriptions dropped:
the snapshot shows, and the comparison judges, only what a peer's validation depends on. A
method's parameters are one object schema (properties = parameters, required = those without a
default), so parameters and fields follow the same rules.

Each contract version and event version also records who uses it (``consumers``; ``publishers`` and
``subscribers``): a version may be retired once the snapshot says nothing uses it any more.
"""

from __future__ import annotations

import inspect
from typing import Any

from pydantic import TypeAdapter

from ..contract import Contract, declared_contracts
from ..errors import Conflict, ContractError, Invalid, NotFound, ServiceUnavailable
from ..events import declared_events

SNAPSHOT_FORMAT = 1
#: The kinds a contract error can have, most specific first (its HTTP status follows from it).
ERROR_KINDS = (NotFound, Conflict, Invalid, ServiceUnavailable)
_NOISE = {"title", "description", "examples"}


def describe_published_language(modules: set[str] | None = None) -> dict[str, Any]:
    """Contracts, events and errors declared in ``contracts/<module>.py`` (of ``modules``, or all)."""

    def wanted(module: str) -> bool:
        return modules is None or module in modules

    contracts = {
        name: describe_contract(contract)
        for name, contract in sorted(declared_contracts.items())
        if wanted(contract.__seams_module__) and contract.__module__.startswith("contracts.")
    }
    events = {
        f"{event_type}@v{version}": {
            "type": event_type,
            "version": version,
            "key_field": event.key_field,
            "payload": schema_of(event),
            **users_of_event(event_type, version),
        }
        for (event_type, version), event in sorted(declared_events.items())
        if event.declared_in_contracts and wanted(event.publisher) and event.__module__.startswith("contracts.")
    }
    errors = {
        code: kind_of(error)
        for code, error in sorted(ContractError.by_code.items())
        if error.__module__.startswith("contracts.") and not error.__module__.startswith("contracts.kernel")
        and wanted(code.split(".", 1)[0])
    }
    return {"format": SNAPSHOT_FORMAT, "contracts": contracts, "events": events, "errors": errors}


def describe_contract(contract: type[Contract]) -> dict[str, Any]:
    methods = {}
    for name, spec in sorted(contract.__seams_methods__.items()):
        properties, required = {}, []
        for param in spec.parameters:
            properties[param.name] = schema_of(spec.hints.get(param.name, Any))
            if param.default is inspect.Parameter.empty:
                required.append(param.name)
        methods[name] = {
            "kind": "query" if spec.is_query else "command",
            "parameters": {"type": "object", "properties": properties, "required": sorted(required)},
            "result": schema_of(spec.hints.get("return", Any)),
        }
    return {
        "module": contract.__seams_module__,
        "family": getattr(contract, "__seams_family__", contract.__name__),
        "version": getattr(contract, "version", 1),
        "consumers": consumers_of(contract),
        "methods": methods,
    }


def consumers_of(contract: type[Contract]) -> list[str]:
    """The installed modules whose manifest ``consumes`` this contract (version): while one does,
    removing it would break that module's deployed version."""
    return sorted(config.label for config in _installed() if contract in tuple(config.consumes))


def users_of_event(event_type: str, version: int) -> dict[str, list[str]]:
    """The installed modules that publish (``publishes``) and subscribe to (``@subscribe``) this
    version of an event: while one does, removing the version would break it."""
    from ..registry import get_registry

    def same(event: Any) -> bool:
        return getattr(event, "event_type", None) == event_type and getattr(event, "version", None) == version

    publishers = sorted(config.label for config in _installed() if any(same(e) for e in config.publishes))
    subscribers = sorted({s.module for s in get_registry().all_subscribers() if same(s.event)})
    return {"publishers": publishers, "subscribers": subscribers}


def _installed() -> list[Any]:
    from django.apps import apps

    from ..modules import module_configs

    return module_configs() if apps.apps_ready else []


def kind_of(error: type[ContractError]) -> str:
    for kind in ERROR_KINDS:
        if issubclass(error, kind):
            return kind.__name__
    return ContractError.__name__


def schema_of(annotation: Any) -> dict[str, Any]:
    """JSON Schema of a type, self-contained (refs inlined) and without presentation-only keys."""
    if annotation is None or annotation is type(None):
        return {"type": "null"}
    schema = TypeAdapter(annotation).json_schema(mode="serialization")
    definitions = schema.pop("$defs", {})
    return _clean(schema, definitions, depth=0)


def _clean(node: Any, definitions: dict[str, Any], depth: int) -> Any:
    if depth > 32:  # a recursive type: stop inlining, keep the reference
        return node
    if isinstance(node, dict):
        if "$ref" in node:
            target = definitions.get(node["$ref"].rsplit("/", 1)[-1], {})
            return _clean({**target, **{k: v for k, v in node.items() if k != "$ref"}}, definitions, depth + 1)
        out = {
            # "properties" maps field names (a field may be called "title") to schemas: keep every name.
            k: ({name: _clean(sub, definitions, depth) for name, sub in v.items()} if k == "properties" and isinstance(v, dict)
                else _clean(v, definitions, depth))
            for k, v in node.items() if k not in _NOISE
        }
        if "required" in out and isinstance(out["required"], list):
            out["required"] = sorted(out["required"])
        return out
    if isinstance(node, list):
        return [_clean(item, definitions, depth) for item in node]
    return node
