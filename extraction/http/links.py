"""OpenAPI links between the methods of one contract, derived from the declaration.

A link says "a value in this operation's answer is a valid input of that operation", which is what
schemathesis' stateful phase follows (tests/integration/test_internal_schemathesis.py) and what a
reader of the internal document wants to know. A contract's methods are one document each
(``/internal/<m>/v<N>/<contract>/openapi.json``), so links stay inside one contract. The rule,
from the annotations alone:

* method ``B`` takes exactly one parameter ``p`` (its only input), and
* method ``A`` (not ``B``) returns a model with a field ``p`` of the same type, or a list of them:
  ``{"p": "$response.body#/p"}`` (``#/0/p`` for a list: its first item), or
* ``B``'s one parameter is a list of that type named ``p`` + ``s`` (``skus: list[str]`` for the
  field ``sku``): ``{"ps": ["$response.body#/p"]}``.

So ``Catalog.get_products -> get_product`` (a product the batch returns can be read alone) and
``Catalog.get_product -> get_products`` (and asked in a batch). A contract whose methods share no
such value (``Inventory.get_stock``, ``Orders.get_order``: one method each) has no link: there is no
sequence of its calls in which one answer feeds the next.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

import pydantic

from contracts.kernel import Contract

__all__ = ["add_links", "contract_links"]


def _parameters(contract: type[Contract], method: str) -> list[tuple[str, Any]]:
    spec = contract.__seams_methods__[method]
    return [(p.name, spec.hints.get(p.name, Any)) for p in spec.parameters if p.name != "self"]


def _fields(annotation: Any) -> tuple[dict[str, Any], str] | None:
    """The fields of a returned model and the JSON pointer prefix to one of them ("" or "/0")."""
    prefix = ""
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        (item, *_) = typing.get_args(annotation) or (None,)
        annotation, prefix = item, "/0"
    if inspect.isclass(annotation) and issubclass(annotation, pydantic.BaseModel):
        return {name: field.annotation for name, field in annotation.model_fields.items()}, prefix
    return None


def _link_body(parameter: str, hint: Any, fields: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    if parameter in fields and fields[parameter] == hint:
        return {parameter: f"$response.body#{prefix}/{parameter}"}
    if typing.get_origin(hint) is list and parameter.endswith("s"):
        single = parameter[:-1]
        (item,) = typing.get_args(hint) or (None,)
        if single in fields and fields[single] == item:
            return {parameter: [f"$response.body#{prefix}/{single}"]}
    return None


def contract_links(contract: type[Contract], operation_id: Any) -> dict[str, dict[str, Any]]:
    """``{source method: {link name: OpenAPI link object}}`` (see the module docstring);
    ``operation_id(method)`` names an operation as the document does."""
    contract = contract.__seams_contract__
    links: dict[str, dict[str, Any]] = {}
    methods = list(contract.__seams_methods__)
    for source in methods:
        returned = _fields(contract.__seams_methods__[source].hints.get("return"))
        if returned is None:
            continue
        fields, prefix = returned
        for target in methods:
            parameters = _parameters(contract, target)
            if target == source or len(parameters) != 1:
                continue
            body = _link_body(*parameters[0], fields, prefix)
            if body is not None:
                links.setdefault(source, {})[target] = {
                    "operationId": operation_id(target),
                    "requestBody": body,
                    "description": f"{contract.__name__}.{target} with a value of this answer",
                }
    return links


def add_links(schema: dict[str, Any], contract: type[Contract], operation_id: Any) -> dict[str, Any]:
    """Put :func:`contract_links` on the 200 responses of ``schema`` (in place; returned)."""
    by_id = {
        operation.get("operationId"): operation
        for item in schema.get("paths", {}).values()
        for operation in item.values()
        if isinstance(operation, dict)
    }
    for source, links in contract_links(contract, operation_id).items():
        operation = by_id.get(operation_id(source))
        if operation is None:
            continue
        responses = operation.setdefault("responses", {})
        ok = responses.get(200) or responses.get("200")
        if ok is not None:
            ok.setdefault("links", {}).update(links)
    return schema
