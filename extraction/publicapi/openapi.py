"""Every status the public API can answer, in its OpenAPI document.

Routers declare the business errors of each operation (``error_responses(409)``); what any
operation can answer because of the machinery in front of it is added here, once:

* 400 (unreadable body), 413 (too large), 415 (not ``application/json``): operations with a body;
* 401 and 403: operations with a security requirement;
* 404 (also what the gateway answers for a module served elsewhere with forwarding off), 422
  (parameters or body), 429 (rate limit), 500 (a bug: only an error id) and 503 (a module or the
  token keys out of reach): every operation.
"""

from __future__ import annotations

from typing import Any

from contracts.kernel.public import ErrorOut, ValidationErrorOut

__all__ = ["document_errors"]

DESCRIPTIONS = {
    "400": "The body is not JSON this API accepts (malformed, too deep, NUL or lone surrogate in a string).",
    "401": "No bearer token, or one that is malformed, expired, for another audience or signed by an unknown key.",
    "403": "The token is valid but lacks the scope (or the customer email) this operation needs.",
    "404": "Not found (another customer's order is not found either).",
    "409": "Conflicts with the current state.",
    "413": "The body is larger than the API accepts.",
    "415": "The body is not sent as Content-Type: application/json.",
    "422": "The request does not match the schema, or the input is not acceptable; loc names the field.",
    "429": "Too many requests from this client; retry after Retry-After seconds.",
    "500": "An internal error; the body carries only an error id to quote.",
    "503": "A module or the token keys cannot be reached right now; retry after Retry-After seconds.",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}


def _components(schema: dict[str, Any]) -> None:
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorOut, ValidationErrorOut):
        document = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(document.pop("$defs", {}))
        schemas.setdefault(model.__name__, document)


def _response(status: str) -> dict[str, Any]:
    name = "ValidationErrorOut" if status == "422" else "ErrorOut"
    response: dict[str, Any] = {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }
    if status in {"429", "503"}:
        response["headers"] = RETRY_AFTER
    return response


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the machinery's statuses to every operation of ``schema`` (in place; returned)."""
    _components(schema)
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            if method not in {"get", "put", "post", "patch", "delete"}:
                continue
            statuses = {"404", "429", "500", "503"}
            if operation.get("requestBody"):
                statuses |= {"400", "413", "415", "422"}
            if operation.get("parameters"):
                statuses.add("422")
            if operation.get("security"):
                statuses |= {"401", "403"}
            # ninja keys its responses by int; JSON (and schemathesis) by string: one key per status.
            responses = operation["responses"] = {str(k): v for k, v in operation.get("responses", {}).items()}
            for status in sorted(statuses):
                responses.setdefault(status, _response(status))
            for status in DESCRIPTIONS.keys() & responses.keys():
                responses[status].setdefault("description", DESCRIPTIONS[status])
    return schema
