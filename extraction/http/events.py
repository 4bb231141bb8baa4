"""The serving side of events over HTTP: a module's forwarded events are received here.

A publisher whose subscriber's module is bound to HTTP forwards each publication
(``HttpTransport.forward_event``) to::

    POST /internal/<module>/events/     {"subscriber": "<dotted handler name>", "envelope": {...}}

and this view runs the handler once, with the module's inbox (``contracts.kernel.outbox.receive_event``):

* ``200 {"outcome": "completed"}``, or ``"duplicate"`` when the inbox has already seen the event
  for that handler (the sender repeated a forward whose answer it lost);
* ``422 {"undeliverable": "<reason>"}`` when it can never succeed: a malformed request or envelope,
  an unknown event type, a payload that no longer validates, an unknown subscriber, or a subscriber
  that is not a handler of ``<module>``. The sender marks the publication dead at once;
* ``500 {"error": {"type": "HandlerFailed", "message", "error_id"}}`` when the handler raised: the
  exception and its traceback are logged here with the event id under a fresh error id
  (:mod:`extraction.incidents`); the answer carries only that id, never the exception's type or
  text. The sender's outbox retries with backoff (its ``last_error`` quotes the id);
* ``503 {"error": ...}`` when ``<module>`` is bound to a transport in this process (it is served
  elsewhere, so its handlers must not run against this process's database): a configuration
  mistake, retried until it is fixed.

The handler continues the trace carried in the envelope's headers (W3C ``traceparent``, the
sender's ``forward`` span): ``contracts.kernel.outbox.receive_event`` opens its span.

Before anything is read, the forwarder's service token (``Authorization: Bearer``) must be valid
for ``<module>`` (else ``401``), and once the envelope is parsed its module must be the event's
publisher (else ``403``): a forged event leaves no inbox row, runs no handler, sends no email.
These paths are internal, like the contract endpoints: not in the public ``/api/`` documentation,
and mounted only where a binding needs them (docs/security.md, "The internal surface").
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from contracts.kernel import Undeliverable
from contracts.kernel.modules import module_of
from contracts.kernel.outbox import receive_event
from contracts.kernel.remote import is_remote
from extraction.identity import Refused, authorise_event, bearer, verify
from extraction.incidents import record
from extraction.wire import handler_failed_to_wire

from .server import refusal

__all__ = ["receive_events"]

logger = logging.getLogger("seams.http")


def _undeliverable(reason: str) -> JsonResponse:
    return JsonResponse({"undeliverable": reason}, status=422)


def _parse(body: bytes) -> tuple[str, dict[str, Any]]:
    try:
        data = json.loads(body or b"null")
    except ValueError as exc:
        raise Undeliverable(f"malformed request: the body is not JSON ({exc})") from None
    except RecursionError:  # a hostile, deeply nested body: an answer, never a 500
        raise Undeliverable("malformed request: the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise Undeliverable('malformed request: expected {"subscriber": ..., "envelope": {...}}')
    subscriber, envelope = data.get("subscriber"), data.get("envelope")
    if not isinstance(subscriber, str) or not subscriber:
        raise Undeliverable("malformed request: 'subscriber' must be the dotted name of a handler")
    if not isinstance(envelope, dict):
        raise Undeliverable("malformed request: 'envelope' must be an object")
    return subscriber, envelope


@csrf_exempt
@require_POST
def receive_events(request: HttpRequest, module: str) -> HttpResponse:
    """Run one forwarded event for a handler of ``module`` (see the module docstring)."""
    return _receive(request, module)


def _receive(request: HttpRequest, module: str) -> HttpResponse:
    # Who is calling, before anything is read: no valid token for this module is 401.
    try:
        identity = verify(bearer(request.headers.get("Authorization")), module)
    except Refused as exc:
        return refusal(request, exc)
    if is_remote(module):
        message = (
            f"module '{module}' is bound to a transport in this process: its events are served elsewhere "
            f"(check SEAMS_BIND_{module.upper()} on both sides)"
        )
        logger.error("Refused a forwarded event for %s: %s", module, message, extra={"seams_module": module})
        return JsonResponse({"error": {"type": "NotServedHere", "message": message}}, status=503)
    try:
        subscriber, envelope = _parse(request.body)
        owner = module_of(subscriber)
        if owner is None or owner.label != module:
            where = f"module '{owner.label}'" if owner else "no module installed here"
            raise Undeliverable(f"subscriber {subscriber} belongs to {where}, not to '{module}'")
        # Only the publisher of an event may forward it (403): no inbox row, no handler, no email.
        authorise_event(identity, envelope)
    except Refused as exc:
        return refusal(request, exc)
    except Undeliverable as exc:
        logger.warning("Refused a forwarded event for %s: %s", module, exc, extra={"seams_module": module})
        return _undeliverable(str(exc))
    event_id = str(envelope.get("id", "?"))
    extra = {"event_id": event_id, "event_type": str(envelope.get("type", "?")), "handler": subscriber, "seams_module": module}
    try:
        outcome = receive_event(subscriber, envelope)
    except Undeliverable as exc:
        logger.warning("Forwarded event %s for %s is undeliverable: %s", event_id, subscriber, exc, extra=extra)
        return _undeliverable(str(exc))
    except Exception as exc:
        error_id = record(
            logger,
            "Handler %s failed on forwarded event %s (%s); the sender will retry.",
            subscriber,
            event_id,
            envelope.get("type"),
            exc=exc,
            **extra,
        )
        return JsonResponse({"error": handler_failed_to_wire(error_id)}, status=500)
    return JsonResponse({"outcome": outcome})
