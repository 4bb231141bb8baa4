"""What changed between two descriptions of the published language, and whether it breaks a peer.

Once a module is extracted, its callers and the provider deploy separately, and so do an event's
publisher and subscribers: for a while each side may run the older version. A change is breaking
when either side, running either version, would refuse or misread what the other sends:

* parameters (the provider receives them): a removed parameter, a new required one, an optional
  one made required, or a type that accepts less (narrowed) break an older caller;
* results and event payloads (the other side receives them): a removed field, a new required
  field, a required field made optional, or a type that may hold more (widened) break an older
  consumer, and a newer consumer of an older producer;
* a removed method, contract, event version or error, a query made a command (or back), a changed
  key field or error kind; a contract version or event version is *retired* (additive) once the
  snapshot records that no module consumes, publishes or subscribes to it any more.

Anything else (a new method, contract, event, error, optional parameter or optional field, a
parameter widened, a result narrowed) is additive.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["in", "out"]

#: Numeric and length bounds: for each, which way is looser.
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")


@dataclass(frozen=True)
class Change:
    """One difference: where (``catalog.Catalog.get_product(sku)``), what, and whether it breaks."""

    where: str
    what: str
    breaking: bool

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every change from ``old`` to ``new`` (two ``describe_published_language()`` results)."""
    return sorted(_compare(old, new), key=lambda c: (not c.breaking, c.where, c.what))


def _compare(old: dict[str, Any], new: dict[str, Any]) -> Iterator[Change]:
    old_contracts, new_contracts = old.get("contracts", {}), new.get("contracts", {})
    for name in sorted(old_contracts.keys() - new_contracts.keys()):
        yield _removed_contract(name, old_contracts[name])
    for name in sorted(new_contracts.keys() - old_contracts.keys()):
        yield Change(name, "contract added", False)
    for name in sorted(old_contracts.keys() & new_contracts.keys()):
        yield from _contract(name, old_contracts[name], new_contracts[name])

    old_events, new_events = old.get("events", {}), new.get("events", {})
    for name in sorted(old_events.keys() - new_events.keys()):
        yield _removed_event(name, old_events[name])
    for name in sorted(new_events.keys() - old_events.keys()):
        yield Change(name, "event added", False)
    for name in sorted(old_events.keys() & new_events.keys()):
        before, after = old_events[name], new_events[name]
        if before.get("key_field") != after.get("key_field"):
            yield Change(name, f"key field changed from {before.get('key_field')!r} to {after.get('key_field')!r} "
                               "(per-key ordering would split)", True)
        yield from schema_changes(before["payload"], after["payload"], "out", name)
        yield from _users_changes(name, before, after, ("publishers", "subscribers"))

    old_errors, new_errors = old.get("errors", {}), new.get("errors", {})
    for code in sorted(old_errors.keys() - new_errors.keys()):
        yield Change(code, "contract error removed (callers catch it by its code)", True)
    for code in sorted(new_errors.keys() - old_errors.keys()):
        yield Change(code, "contract error added", False)
    for code in sorted(old_errors.keys() & new_errors.keys()):
        if old_errors[code] != new_errors[code]:
            yield Change(code, f"error kind changed from {old_errors[code]} to {new_errors[code]}", True)


def _removed_contract(name: str, old: dict[str, Any]) -> Change:
    """A removed contract (version) breaks the modules that consumed it when the snapshot was
    taken: their deployed version still calls it. One nobody consumed any more is retired."""
    consumers = old.get("consumers")
    if consumers == []:
        return Change(name, "contract version retired (no module consumes it)", False)
    if consumers:
        return Change(name, f"contract removed while {', '.join(consumers)} still consume(s) it (a deployed "
                            f"version calls it): move them to the next version, deploy, then remove it", True)
    return Change(name, "contract removed", True)


def _removed_event(name: str, old: dict[str, Any]) -> Change:
    """A removed event version breaks its publishers and subscribers of the snapshot (deployed
    versions still send or expect it); one that nothing published or subscribed to is retired."""
    users = [m for role in ("publishers", "subscribers") for m in old.get(role) or ()]
    if "publishers" in old and "subscribers" in old and not users:
        return Change(name, "event version retired (no module publishes or subscribes to it)", False)
    who = f" ({', '.join(sorted(set(users)))} still use(s) it)" if users else ""
    return Change(name, f"event version removed{who} (subscribers and publishers of it still run)", True)


def _users_changes(name: str, old: dict[str, Any], new: dict[str, Any], roles: tuple[str, ...]) -> Iterator[Change]:
    """Who consumes, publishes or subscribes changed: additive, recorded so that retiring a version
    is judged on who uses it now."""
    for role in roles:
        before, after = set(old.get(role) or ()), set(new.get(role) or ())
        for module in sorted(after - before):
            yield Change(name, f"{role[:-1]} {module} added", False)
        for module in sorted(before - after):
            yield Change(name, f"{role[:-1]} {module} gone", False)


def _contract(name: str, old: dict[str, Any], new: dict[str, Any]) -> Iterator[Change]:
    yield from _users_changes(name, old, new, ("consumers",))
    old_methods, new_methods = old.get("methods", {}), new.get("methods", {})
    for method in sorted(old_methods.keys() - new_methods.keys()):
        yield Change(f"{name}.{method}", "method removed", True)
    for method in sorted(new_methods.keys() - old_methods.keys()):
        yield Change(f"{name}.{method}", "method added", False)
    for method in sorted(old_methods.keys() & new_methods.keys()):
        before, after, where = old_methods[method], new_methods[method], f"{name}.{method}"
        if before["kind"] != after["kind"]:
            yield Change(where, f"{before['kind']} became a {after['kind']} (transports retry queries only)", True)
        yield from schema_changes(before["parameters"], after["parameters"], "in", f"{where}()", noun="parameter")
        yield from schema_changes(before["result"], after["result"], "out", f"{where} -> result")


def schema_changes(
    old: dict[str, Any], new: dict[str, Any], direction: Direction, where: str, noun: str = "field"
) -> Iterator[Change]:
    """Changes between two JSON Schemas of data flowing ``in`` to the provider or ``out`` of it."""
    if _is_object(old) and _is_object(new):
        yield from _object_changes(old, new, direction, where, noun)
        return
    if old.get("type") == "array" and new.get("type") == "array":
        yield from schema_changes(old.get("items", {}), new.get("items", {}), direction, f"{where}[]")
        yield from _bound_changes(old, new, direction, where)
        return
    if old == new:
        return
    wider, narrower = accepts_all(new, old), accepts_all(old, new)
    if wider and narrower:
        return  # spelled differently, same values
    if wider:
        yield Change(where, f"type widened from {_show(old)} to {_show(new)}", direction == "out")
    elif narrower:
        yield Change(where, f"type narrowed from {_show(old)} to {_show(new)}", direction == "in")
    else:
        yield Change(where, f"type changed from {_show(old)} to {_show(new)}", True)


def _object_changes(old: dict[str, Any], new: dict[str, Any], direction: Direction, where: str, noun: str) -> Iterator[Change]:
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    inside = (lambda field: f"{where[:-2]}({field})") if where.endswith("()") else (lambda field: f"{where}.{field}")
    for field in sorted(old_props.keys() - new_props.keys()):
        yield Change(inside(field), f"{noun} removed", True)
    for field in sorted(new_props.keys() - old_props.keys()):
        required = field in new_required
        yield Change(inside(field), f"new {'required' if required else 'optional'} {noun}", required)
    for field in sorted(old_props.keys() & new_props.keys()):
        if field in new_required and field not in old_required:
            yield Change(inside(field), f"optional {noun} made required", True)
        elif field in old_required and field not in new_required:
            yield Change(inside(field), f"required {noun} made optional", direction == "out")
        yield from schema_changes(old_props[field], new_props[field], direction, inside(field))


def _bound_changes(old: dict[str, Any], new: dict[str, Any], direction: Direction, where: str) -> Iterator[Change]:
    stripped_old = {k: v for k, v in old.items() if k != "items"}
    stripped_new = {k: v for k, v in new.items() if k != "items"}
    if stripped_old != stripped_new:
        yield from schema_changes(stripped_old, stripped_new, direction, where)


def accepts_all(wide: dict[str, Any], narrow: dict[str, Any]) -> bool:
    """Whether every value valid for ``narrow`` is valid for ``wide`` (judged on the schema shapes
    pydantic writes: types, anyOf, enum/const, bounds, pattern, format, arrays, objects)."""
    if not wide:  # {} accepts anything
        return True
    alternatives = _alternatives(narrow)
    return all(any(_alternative_accepts(w, n) for w in _alternatives(wide)) for n in alternatives)


def _alternatives(schema: dict[str, Any]) -> list[dict[str, Any]]:
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return [alt for option in schema[key] for alt in _alternatives(option)]
    if isinstance(schema.get("type"), list):
        rest = {k: v for k, v in schema.items() if k != "type"}
        return [{**rest, "type": t} for t in schema["type"]]
    return [schema]


def _values(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    return list(schema["enum"]) if "enum" in schema else None


def _alternative_accepts(wide: dict[str, Any], narrow: dict[str, Any]) -> bool:
    if not wide:
        return True
    wide_type, narrow_type = wide.get("type"), narrow.get("type")
    if wide_type != narrow_type and not (wide_type == "number" and narrow_type == "integer"):
        if wide_type is not None or _values(wide) is None:
            return False
    wide_values, narrow_values = _values(wide), _values(narrow)
    if wide_values is not None:
        if narrow_values is None or not set(map(repr, narrow_values)) <= set(map(repr, wide_values)):
            return False
    for key in ("pattern", "format"):
        if key in wide and wide.get(key) != narrow.get(key):
            return False
    for key in _LOWER_BOUNDS:
        if key in wide and (key not in narrow or narrow[key] < wide[key]):
            return False
    for key in _UPPER_BOUNDS:
        if key in wide and (key not in narrow or narrow[key] > wide[key]):
            return False
    if wide_type == "array":
        return accepts_all(wide.get("items", {}), narrow.get("items", {}))
    if wide_type == "object":
        return not any(True for _ in schema_changes(narrow, wide, "in", "")) if _is_object(wide) else True
    return True


def _is_object(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "object" and "properties" in schema


def _show(schema: dict[str, Any]) -> str:
    alternatives = _alternatives(schema)
    shown = []
    for alt in alternatives:
        values = _values(alt)
        label = " | ".join(map(repr, values)) if values is not None else str(alt.get("type", "any"))
        bounds = ", ".join(f"{k}={alt[k]}" for k in (*_LOWER_BOUNDS, *_UPPER_BOUNDS, "pattern", "format") if k in alt)
        shown.append(f"{label}({bounds})" if bounds else label)
    return " | ".join(shown)
