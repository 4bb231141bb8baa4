"""The serving side of the Celery transport: one task, ``seams.call_contract``.

A worker that consumes a module's RPC queue (``seams.rpc.<module>``) runs each call here::

    call_contract("catalog.Catalog", "get_product", {"sku": "KB-101"}, {"traceparent": "00-..."}, <deadline>)
    -> {"ok": {"sku": "KB-101", "name": "...", "price_cents": 4999}}
    -> {"error": {"code": "catalog.ProductNotFound", "message": "...", "details": {...}, "kind": "seams.NotFound"}}

The answer goes to the caller's reply key when the message names one (``reply_to``: pushed there,
no Celery result stored, a call's task returns nothing; :mod:`extraction.celery.replies`), else it is
the task's result.

The contract is found by its name among the declared contracts, the implementation in the kernel
registry (never through ``use()``, which in a process where the contract is bound to a transport
would send the call back out), behind the kernel's validating proxy. Arguments are rebuilt from
JSON and checked against the declaration (strict); the result is checked and encoded the same way.

The task never fails for a business outcome: a ``ContractError`` is an answer like any other, and so
are arguments that do not match the declaration (``seams.ContractViolation``). A failure on this
side (an exception from the implementation, a bug, a database that is down; a result its
declaration does not allow) is logged here with its traceback under a fresh error id
(:mod:`extraction.incidents`) and answered with that id only: ``seams.InternalError``, which the
caller raises as ``TransportUnavailable`` (the ``ServiceUnavailable`` shared with the HTTP
transport), or ``seams.ContractViolation`` for the result. A clear error at once instead of a
Celery failure or a timeout, and no exception text or value for the caller.

Both tasks first check the service token inside the message (``token``, :mod:`extraction.identity`):
a caller whose module does not consume the contract, or a forwarder that does not publish the
event, or no token or a bad one, is answered ``{"refused": {"status": 401 | 403, "code", "message"}}``
and nothing runs, nothing is recorded: access to the broker alone does not let anyone inject work.

A token is good for one message: a token seen before with *another* task id (a replay, even
within its minute) is refused like a bad one. The *same* task id again is the broker delivering one
message twice (a publish retried after a dropped connection; a redelivery under ``acks_late``): it
is dropped unrun with ``Ignore``, so no result is stored over the first delivery's answer. An event
dropped that way is still delivered: either its first delivery ran, or the publisher's wait times
out and its outbox forwards again, with a new token and a new task id, and the inbox makes a repeat
harmless. Calls are acknowledged before they run (not ``acks_late``), so a call that started is
never redelivered; a redelivered call that never started carries a token nobody has seen yet.

It is imported by the project's Celery app (``app/celery.py``); workers need nothing else.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import current_app, current_task, shared_task
from celery.exceptions import Ignore

from contracts.kernel import Contract, ContractError, ContractViolation
from contracts.kernel.contract import declared_contracts
from contracts.kernel.registry import get_registry
from contracts.kernel.telemetry import tracing
from contracts.kernel.telemetry.calls import outcome_of
from extraction import wire
from extraction.identity import Refused, Replayed, admit_call, admit_event
from extraction.incidents import record
from extraction.wire import TransportUnavailable, handler_failed_to_wire, internal_error_to_wire

from . import replies
from .names import DEADLINE_HEADER, RECEIVE_TASK_NAME, TASK_NAME

__all__ = ["RECEIVE_TASK_NAME", "TASK_NAME", "call_contract", "receive_forwarded_event", "serve_call"]

logger = logging.getLogger("seams.celery")

# TASK_NAME: the name callers send; workers must have imported this module to know it.
# RECEIVE_TASK_NAME: the task that receives an event forwarded to a handler served by this worker.
#: How long a reply waits for its caller when the message carries no deadline (seconds).
DEFAULT_REPLY_TTL = 60.0

def _refused(exc: Refused, what: str) -> dict[str, Any]:
    """The answer to a refused message; a second delivery of one message is dropped (``Ignore``)."""
    if isinstance(exc, Replayed) and exc.same_message:
        logger.warning("Dropped %s: the broker delivered message %s twice; its first delivery answers", what, _message_id())
        raise Ignore()
    logger.warning("Refused %s: %s (%s)", what, exc, exc.code)
    return {"refused": {"status": exc.status, "code": exc.code, "message": str(exc)}}


def _message_id() -> str:
    """The id of the task message being run ("" when the task is called as a function)."""
    request = getattr(current_task, "request", None)
    return str(getattr(request, "id", None) or "")


def _served(contract: type[Contract]) -> Contract:
    """The in-process implementation: the arguments are decoded strictly and the result is checked
    strictly while encoding, so a validating proxy would check everything twice."""
    return get_registry().instance_of(contract)


def serve_call(contract_name: str, method: str, arguments: Any) -> Any:
    """Run one call on the in-process implementation; returns the result's JSON form.

    Raises the implementation's ``ContractError``, ``ContractViolation`` for arguments that do not
    match the declaration, ``BrokeDeclaration`` for a result that does not, and ``TransportUnavailable`` for a contract this process does
    not serve.
    """
    contract = declared_contracts.get(contract_name)
    if contract is None:
        raise TransportUnavailable(
            f"This worker does not know the contract {contract_name}: its module is not installed here "
            f"(SEAMS_MODULES) or the worker runs an older version of contracts/.",
            contract=contract_name,
        )
    if method not in contract.__seams_methods__:
        raise ContractViolation(
            f"{contract_name} declares no method '{method}' on this worker: the caller and the worker run "
            f"different versions of contracts/{contract.__seams_module__}.py."
        )
    kwargs = wire.decode_arguments(contract, method, arguments)
    result = getattr(_served(contract), method)(**kwargs)
    try:
        return wire.encode_result(contract, method, result)
    except ContractViolation as exc:
        raise BrokeDeclaration(str(exc)) from exc


class BrokeDeclaration(Exception):
    """The implementation returned a value its declaration does not allow: a bug on this side."""


def _reply(answer: dict[str, Any] | None, reply_to: str | None, ttl: float) -> dict[str, Any] | None:
    """Push the answer to the caller's reply key, if it named one (:mod:`.replies`), and return
    nothing; without a reply key the answer is the task's return value, stored by Celery's result
    backend. Celery builds a ``saferepr`` of every task's return value for its success log, logged
    or not (``celery.app.trace``: about 8% of a catalog worker's task CPU for a list of products),
    and a call's answer has no other reader once it is pushed (the message sent ``ignore_result``);
    it stays out of the worker's log, like the arguments (``argsrepr``). A forwarded event's
    outcome is still returned (:func:`receive_forwarded_event`)."""
    if reply_to is None:
        return answer
    if answer is not None:
        replies.push(current_app, str(reply_to), answer, ttl)
    return None


@shared_task(name=TASK_NAME, ignore_result=False, acks_late=False, typing=False)
def call_contract(
    contract: str,
    method: str,
    arguments: Any,
    trace: Any = None,
    deadline: float | None = None,
    token: str | None = None,
    reply_to: str | None = None,
) -> dict[str, Any] | None:
    """Serve one contract call; the answer is ``{"ok": result}`` or ``{"error": {...}}``.

    ``trace`` is the caller's trace context (``{"traceparent": ..., "tracestate": ...}``), continued
    by the call's ``SERVER`` span. ``deadline`` (epoch seconds) is when the caller stops waiting: a
    call taken later is dropped unrun (answered ``None``, which nobody reads), as Celery's
    ``expires`` would, without its per-message date handling. ``reply_to``: the key the caller waits
    on (:mod:`.replies`); without it (an older caller) the answer is the task's result."""
    answer = _call(contract, method, arguments, trace, deadline, token)
    ttl = deadline - time.time() if isinstance(deadline, (int, float)) else DEFAULT_REPLY_TTL
    return _reply(answer, reply_to, ttl)


def _call(
    contract: str, method: str, arguments: Any, trace: Any, deadline: float | None, token: str | None
) -> dict[str, Any] | None:
    if deadline is not None and time.time() > deadline:
        logger.warning("%s.%s arrived after its caller gave up: dropped, not run", contract, method)
        return None
    declared = declared_contracts.get(contract) if isinstance(contract, str) else None
    if declared is not None:
        try:
            admit_call(token, declared, _message_id())
        except Refused as exc:
            return _refused(exc, f"{contract}.{method}")
    attributes = {"seams.contract": contract, "seams.method": method, "seams.transport": "celery"}
    carried = trace if isinstance(trace, dict) else None  # an older caller sent a bare trace id
    with tracing.continued(carried, f"{contract}.{method}", tracing.SpanKind.SERVER, attributes) as span:
        try:
            answer = {"ok": serve_call(contract, method, arguments)}
        except ContractError as exc:
            tracing.mark_outcome(span, outcome_of(exc), error_code=exc.code)
            return {"error": wire.error_to_wire(exc)}
        except ContractViolation as exc:
            logger.warning("%s.%s: %s", contract, method, exc)
            tracing.mark_outcome(span, "error", error_code="seams.ContractViolation")
            return {"error": wire.violation_to_wire(str(exc), contract=contract, method=method)}
        except BrokeDeclaration as exc:
            tracing.mark_outcome(span, "error", error_code="seams.ContractViolation")
            error_id = record(logger, "%s.%s broke its contract on this worker: %s", contract, method, exc)
            message = f"{contract}.{method} answered a value its declaration does not allow (error id {error_id})"
            return {"error": wire.violation_to_wire(message, error_id=error_id)}
        except Exception as exc:
            tracing.mark_outcome(span, "error")
            error_id = record(logger, "%s.%s failed on this worker", contract, method, exc=exc)
            return {"error": internal_error_to_wire(f"{contract}.{method}", error_id)}
        tracing.mark_outcome(span, "ok")
        return answer


@shared_task(name=RECEIVE_TASK_NAME, ignore_result=False, acks_late=False, typing=False)
def receive_forwarded_event(
    module: str, subscriber: str, envelope: Any, token: str | None = None, reply_to: str | None = None
) -> dict[str, Any] | None:
    """Run one event forwarded to ``subscriber`` (a handler of ``module``) once, with the module's
    inbox (``contracts.kernel.outbox.receive_event``). The answer is the same as over HTTP:

    * ``{"outcome": "completed"}``, or ``"duplicate"`` when the inbox has already seen the event;
    * ``{"undeliverable": reason}`` when it can never succeed (malformed envelope, unknown type or
      subscriber, schema drift, a handler of another module): the sender marks it dead at once;
    * ``{"error": {"type": "HandlerFailed", "message", "error_id"}}`` when the handler raised (logged
      here with its traceback under that error id; nothing of the exception is sent back), or
      ``{"error": {"type": "NotServedHere", ...}}`` when ``module`` is not served by this process:
      the sender's outbox retries with backoff.

    With ``reply_to`` the answer is pushed to that key (:mod:`.replies`; the sender waits at most
    its ``TIMEOUT``) and still returned, for the success log only (the message is ``ignore_result``).

    An event taken after the deadline in its :data:`~.names.DEADLINE_HEADER` header (when its
    sender stopped waiting) is dropped unrun and answered nothing, as Celery does with an expired
    task: the sender's outbox forwards it again, and the inbox would make a late run harmless anyway.
    """
    deadline = getattr(getattr(current_task, "request", None), DEADLINE_HEADER, None)
    if isinstance(deadline, (int, float)) and not isinstance(deadline, bool):
        if time.time() > deadline:
            logger.warning("An event for %s arrived after its publisher gave up: dropped, not run (its outbox forwards it again)", subscriber)
            return None
        ttl = deadline - time.time()
    else:  # a sender of the previous version (Celery's own expires) or a direct call
        ttl = DEFAULT_REPLY_TTL
    answer = _receive(module, subscriber, envelope, token)
    _reply(answer, reply_to, ttl)
    # Returned either way: an outcome is a few bytes and carries nothing of the event, and it is what
    # the worker's success log shows for the delivery ("{'outcome': 'completed'}").
    return answer


def _receive(module: str, subscriber: str, envelope: Any, token: str | None) -> dict[str, Any]:
    from contracts.kernel import Undeliverable
    from contracts.kernel.modules import module_of
    from contracts.kernel.outbox import receive_event
    from contracts.kernel.remote import is_remote

    try:
        admit_event(token, str(module), envelope, _message_id())
    except Refused as exc:
        return _refused(exc, f"event for {subscriber} of '{module}'")
    if is_remote(module):
        message = (
            f"module '{module}' is bound to a transport in this process: its events are served elsewhere "
            f"(check SEAMS_BIND_{module.upper()} on both sides)"
        )
        logger.error("Refused a forwarded event for %s: %s", module, message, extra={"seams_module": module})
        return {"error": {"type": "NotServedHere", "message": message}}
    owner = module_of(subscriber) if isinstance(subscriber, str) else None
    if owner is None or owner.label != module:
        where = f"module '{owner.label}'" if owner else "no module installed here"
        return {"undeliverable": f"subscriber {subscriber} belongs to {where}, not to '{module}'"}
    if not isinstance(envelope, dict):
        return {"undeliverable": "malformed envelope: expected an object"}
    event_id = str(envelope.get("id", "?"))
    extra = {"event_id": event_id, "event_type": str(envelope.get("type", "?")), "handler": subscriber, "seams_module": module}
    try:
        return {"outcome": receive_event(subscriber, envelope)}
    except Undeliverable as exc:
        logger.warning("Forwarded event %s for %s is undeliverable: %s", event_id, subscriber, exc, extra=extra)
        return {"undeliverable": str(exc)}
    except Exception as exc:
        error_id = record(
            logger, "Handler %s failed on forwarded event %s; the sender will retry.", subscriber, event_id, exc=exc, **extra
        )
        return {"error": handler_failed_to_wire(error_id)}
