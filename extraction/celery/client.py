"""The calling side of the Celery transport: a contract served by workers on a Celery queue.

``use(Catalog)`` returns ``CeleryTransport(contract=Catalog, binding=...)`` when the providing module
is bound to ``celery`` (``SEAMS_BIND_CATALOG=celery``, binding ``{"TRANSPORT": "celery", "QUEUE":
"seams.rpc.catalog", "TIMEOUT": "5"}``). The object is an instance of a subclass of the contract,
so callers cannot tell it from the in-process implementation:

* arguments are checked against the declaration (pydantic strict) before anything is sent and
  travel as JSON (:mod:`extraction.wire`); the answer is rebuilt into the declared return type: a
  ``ProductDTO`` comes back as a ``ProductDTO``, a ``Decimal`` as a ``Decimal``;
* each call is one ``seams.call_contract`` task (:mod:`extraction.celery.tasks`) sent to the
  binding's ``QUEUE`` of the project's broker (a standard Celery message, published past
  ``send_task``'s per-call work when it is answered on a reply key, :mod:`extraction.celery.sending`); the caller waits for its answer at most ``TIMEOUT``
  seconds. With a Redis result backend the worker pushes the answer to a reply key of the call's
  own and the caller takes it with one ``BLPOP`` (:mod:`extraction.celery.replies`: no result
  record, no pub/sub subscription); with another backend, the answer is the task's result, which
  expires after ``CELERY_RESULT_EXPIRES`` (no per-call delete, which would cost a round trip);
* the call carries its deadline (now + ``TIMEOUT``): a call whose caller gave up is dropped by the
  worker that receives it late, instead of running for nobody (a call already running is not
  stopped);
* a contract error comes back as the same class (``ContractError.by_code``), with its message and
  details; a code this process does not know becomes its kind (NotFound, Conflict, ...);
* anything that prevents an answer (the broker or result backend unreachable, no answer in time,
  a worker that failed or crashed) raises ``TransportUnavailable``, the ``ServiceUnavailable``
  shared with the HTTP transport, naming the module, the queue and the cause; the public API
  answers it with 503;
* the trace context (W3C ``traceparent`` / ``tracestate``) travels with the call and is continued on
  the worker;
* every message carries a service token (:mod:`extraction.identity`) signed in the name of the
  calling module (the binding's ``CALLER``), verified by the worker before anything runs: access
  to the broker alone is not enough to inject a call. A refusal (``{"refused": {"status",
  "message"}}``) raises ``TransportUnavailable`` saying why.

Events: ``CeleryTransport.forward_event`` (the callable the kernel looks up on the transport, see
``contracts.kernel.remote``) delivers an outbox envelope to a handler of a module bound to Celery,
as task ``seams.receive_event`` on the same queue; the worker runs it once with the module's inbox.

No call is sent twice after a timeout (it may still be running). Publishing retries a lost broker
connection briefly, and only for calls that are safe to repeat: ``@query`` methods and commands
called with an idempotency key (the ``idempotency_key`` parameter, as for HTTP); see
docs/transports.md.

Calling from inside a Celery task (an event handler delivered by ``seams.deliver_publication`` that
uses a contract bound to Celery) is allowed: ``result.get()`` is called with
``disable_sync_subtasks=False``. The risk Celery guards against is a deadlock: a worker whose every
pool slot waits for a call that only that same worker would serve. Here every wait is bounded by
``TIMEOUT`` (it then fails with ``TransportUnavailable`` rather than hanging), and the way to avoid
it is to serve the RPC queues (``seams.rpc.<module>``) with workers other than the ones that wait on
them, e.g. separate ``celery worker -Q seams.rpc.catalog`` processes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from celery import Celery, current_app
from celery.exceptions import TimeoutError as CeleryTimeout
from kombu.utils.url import maybe_sanitize_url
from kombu.utils.uuid import uuid
from redis.exceptions import TimeoutError as RedisTimeout

from contracts.kernel import ConfigurationError, Contract, Undeliverable
from contracts.kernel.telemetry.tracing import carrier, contained
from extraction import wire
from extraction.bindings import forwarding_module, rpc_queue
from extraction.identity import allowed_publisher, issue
from extraction.proxy import client_class
from extraction.wire import IDEMPOTENCY_PARAMETER, TransportUnavailable

from . import replies, sending
from .tasks import RECEIVE_TASK_NAME, TASK_NAME

__all__ = ["DEFAULT_TIMEOUT", "PUBLISH_RETRY_POLICY", "CeleryChannel", "CeleryTransport", "channel_of", "forward_event"]

DEFAULT_TIMEOUT = 5.0

#: Publishing a safe call retries a lost broker connection briefly, then gives up (503).
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}

#: The message's ``kwargsrepr`` header: the only keyword argument is the service token, which stays
#: in the body (where the worker reads it) and out of everything that prints headers.
REDACTED = "{'token': '<redacted>'}"


def _timeout(binding: Mapping[str, Any], module: str) -> float:
    raw = binding.get("TIMEOUT", DEFAULT_TIMEOUT)
    try:
        value = float(raw)
        if value <= 0:
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"The Celery binding of '{module}' has TIMEOUT={raw!r}; it must be a positive number of seconds."
        ) from None
    return value


def _describe(exc: BaseException) -> str:
    """``Type: message`` on one line (Celery's messages span several)."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _refusal(refused: Mapping[str, Any], caller: str) -> str:
    who = f"module '{caller}'" if caller else "a caller that is not a module"
    return f"refused the call from {who} ({refused.get('status')}: {refused.get('message', '')})"


class _Reply:
    """Where the answer of one task comes back (:mod:`.replies`): its own reply key, pushed by the
    worker and taken with one ``BLPOP``, when the result backend is Redis; otherwise Celery's result
    backend (``AsyncResult.get``)."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.client = replies.reply_client(app)
        self.kwargs: dict[str, str] = {}
        if self.client is not None:
            self.task_id = uuid()
            self.key = replies.key_for(self.task_id)
            self.kwargs = {"reply_to": self.key}

    def send(self, name: str, args: list[Any], token: str, *, queue: str, retry: bool, argsrepr: str, deadline: float | None = None) -> Any:
        """Publish the task (in a copy of the context, :func:`~contracts.kernel.telemetry.tracing.contained`).

        With a reply key, Celery neither subscribes to the task's result nor stores one
        (``ignore_result``), and the message goes out through :func:`.sending.send`, past
        ``send_task``'s per-call work; without one, through ``send_task``, whose ``AsyncResult``
        is the answer."""
        kwargs = {"token": token, **self.kwargs}
        options: dict[str, Any] = {
            "queue": queue,
            "retry": retry,
            "retry_policy": PUBLISH_RETRY_POLICY,
            "argsrepr": argsrepr,
            "kwargsrepr": REDACTED,
        }
        if self.client is not None:
            # A forwarded event's deadline travels in a header (.names.DEADLINE_HEADER), not as Celery's
            # expires; a call carries its deadline in its arguments (no date handling either way).
            return contained(sending.send, self.app, name, args, kwargs, task_id=self.task_id, deadline=deadline, **options)
        if deadline is not None:  # Celery's result backend: Celery's own expiry, as before
            options["expires"] = max(deadline - time.time(), 0.0)
        return contained(self.app.send_task, name, args=args, kwargs=kwargs, **options)

    def answer(self, result: Any, timeout: float) -> Any:
        """The task's answer; raises Celery's ``TimeoutError`` when none came within ``timeout``."""
        if self.client is None:
            return result.get(timeout=timeout, propagate=True, disable_sync_subtasks=False)
        try:
            arrived, answer = replies.wait(self.client, self.key, timeout)
        except RedisTimeout:  # the backend's socket timeout is shorter than the wait
            arrived, answer = False, None
        if not arrived:
            raise CeleryTimeout(f"no answer on {self.key} within {timeout:g} s")
        return answer


class CeleryChannel:
    """Sends the calls of one contract to one queue and waits for their answers."""

    def __init__(self, contract: type[Contract], binding: Mapping[str, Any], *, app: Celery | None = None) -> None:
        self.contract = contract.__seams_contract__
        self.module = self.contract.__seams_module__
        self.queue = str(binding.get("QUEUE") or rpc_queue(self.module))
        self.timeout = _timeout(binding, self.module)
        #: The module in whose name calls are signed ("" for a caller that is not a module: refused).
        self.caller = str(binding.get("CALLER") or "")
        #: The project's Celery app (``app.celery_app``, the current app) unless one is given.
        self.app: Celery = app if app is not None else current_app._get_current_object()

    def __repr__(self) -> str:
        return f"<CeleryChannel {self.contract.__seams_name__} -> queue {self.queue}>"

    def _unavailable(self, method: str, reason: str, cause: BaseException | None = None) -> TransportUnavailable:
        details: dict[str, Any] = {
            "module": self.module,
            "queue": self.queue,
            "contract": self.contract.__seams_name__,
            "method": method,
        }
        if cause is not None:
            details["cause"] = _describe(cause)
        return TransportUnavailable(
            f"{self.contract.__seams_name__}.{method} is unavailable: the '{self.module}' module on Celery queue "
            f"'{self.queue}' {reason}.",
            **details,
        )

    def call(self, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        arguments = wire.bind_arguments(self.contract, method, args, kwargs)
        payload = wire.encode_arguments(self.contract, method, arguments)
        # A publish retried after a dropped connection may deliver the message twice: only for calls
        # that are safe to repeat (queries, commands called with an idempotency key).
        safe = self.contract.__seams_methods__[method].is_query or bool(arguments.get(IDEMPOTENCY_PARAMETER))
        trace = carrier()  # the caller's span as W3C traceparent/tracestate; the worker continues it
        deadline = time.monotonic() + self.timeout
        reply = _Reply(self.app)
        try:
            result = reply.send(
                TASK_NAME,
                [self.contract.__seams_name__, method, payload, trace, time.time() + self.timeout],
                issue(self.caller, self.module),
                queue=self.queue,
                retry=safe,
                # What logs, events and monitors show of the message (headers ``argsrepr`` and
                # ``kwargsrepr``): the call, never the arguments or the service token (Celery would
                # put a repr of both in the headers, built on every call).
                argsrepr=f"{self.contract.__seams_name__}.{method}",
            )
        except Exception as exc:  # kombu's OperationalError, redis' ConnectionError, OSError...
            broker = maybe_sanitize_url(self.app.conf.broker_url or "")
            backend = maybe_sanitize_url(str(self.app.conf.result_backend or ""))
            raise self._unavailable(
                method,
                f"could not be reached: the call was not sent ({_describe(exc)}; broker {broker}, result backend {backend})",
                exc,
            ) from exc
        try:
            answer = reply.answer(result, max(deadline - time.monotonic(), 0.01))
        except CeleryTimeout as exc:
            maybe_ran = "" if safe else "; the call may or may not take effect"
            raise self._unavailable(
                method,
                f"did not answer within {self.timeout:g} s (no worker consumes the queue, or its workers are busy "
                f"or down{maybe_ran})",
                exc,
            ) from None
        except Exception as exc:  # the task failed outside the protocol, a lost worker, a lost backend
            raise self._unavailable(method, f"failed before answering ({_describe(exc)})", exc) from exc
        # No result.forget(): one more synchronous round trip per call; results expire on their own
        # (CELERY_RESULT_EXPIRES).
        return self._answer(method, answer)

    def _answer(self, method: str, answer: Any) -> Any:
        if isinstance(answer, dict) and "ok" in answer:
            return wire.decode_result(self.contract, method, answer["ok"])
        if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
            raise wire.error_from_wire(answer["error"])
        if isinstance(answer, dict) and isinstance(answer.get("refused"), dict):
            raise self._unavailable(method, _refusal(answer["refused"], self.caller))
        raise self._unavailable(method, f"answered outside the protocol ({answer!r:.120})")


def _where(channel: Any) -> str:
    return f"queue {channel.queue}"


def CeleryTransport(*, contract: type[Contract], binding: Mapping[str, Any], app: Celery | None = None) -> Contract:
    """The factory named in ``SEAMS_TRANSPORTS["celery"]``: an object with the contract's methods whose
    calls are served by workers on ``binding["QUEUE"]``. ``app`` (another Celery app: broker, result
    backend) is for tests; by default the project's app is used."""
    contract = contract.__seams_contract__
    return client_class(contract, "Celery", _where)(CeleryChannel(contract, binding, app=app))


def channel_of(remote: Contract) -> CeleryChannel:
    """The channel behind an object returned by :func:`CeleryTransport` (queue, timeout, app)."""
    return remote._channel  # type: ignore[attr-defined,no-any-return]


# --- events ---------------------------------------------------------------------------------------
OUTCOMES = frozenset({"completed", "duplicate"})


def forward_event(
    *, binding: Mapping[str, Any], subscriber: str, envelope: Mapping[str, Any], app: Celery | None = None
) -> str:
    """Deliver one outbox envelope to ``subscriber``, a handler of a module served by Celery workers
    on ``binding["QUEUE"]`` (task ``seams.receive_event``, answered like the HTTP receiver).

    Returns ``"completed"`` or ``"duplicate"``; raises ``Undeliverable`` when the receiver says it
    can never handle the event, and ``TransportUnavailable`` for everything worth retrying (broker
    unreachable, no answer within ``TIMEOUT``, the handler failing on the worker). One attempt: the
    publisher's outbox retries with backoff, and the receiver's inbox makes a repeat harmless (so
    publishing may retry a lost connection). It runs inside ``seams.deliver_publication`` with
    Celery dispatch, hence ``disable_sync_subtasks=False`` (see the module docstring).
    """
    module = forwarding_module(binding, subscriber)
    queue = str(binding.get("QUEUE") or rpc_queue(module))
    timeout = _timeout(binding, module)
    app = app if app is not None else current_app._get_current_object()
    event = f"Event {envelope.get('id', '?')} ({envelope.get('type')})"
    publisher = allowed_publisher(str(envelope.get("type", "")), envelope.get("version")) or ""

    def unavailable(reason: str, cause: BaseException | None = None, **details: Any) -> TransportUnavailable:
        if cause is not None:
            details["cause"] = _describe(cause)
        return TransportUnavailable(
            f"{event} was not delivered to {subscriber}: the '{module}' module on Celery queue '{queue}' {reason}.",
            module=module,
            queue=queue,
            subscriber=subscriber,
            event_id=str(envelope.get("id", "?")),
            **details,
        )

    reply = _Reply(app)
    try:
        result = reply.send(
            RECEIVE_TASK_NAME,
            [module, subscriber, dict(envelope)],
            issue(publisher, module),
            queue=queue,
            deadline=time.time() + timeout,
            retry=True,
            argsrepr=f"{subscriber} <- {envelope.get('type')} {envelope.get('id', '?')}",  # no payload, no token
        )
    except Exception as exc:
        broker = maybe_sanitize_url(app.conf.broker_url or "")
        raise unavailable(f"could not be reached ({_describe(exc)}; broker {broker})", exc) from exc
    try:
        answer = reply.answer(result, timeout)
    except CeleryTimeout as exc:
        raise unavailable(f"did not answer within {timeout:g} s", exc) from None
    except Exception as exc:
        raise unavailable(f"failed before answering ({_describe(exc)})", exc) from exc
    # No result.forget(), as for calls: it is one more round trip; results expire on their own.
    if isinstance(answer, dict) and answer.get("outcome") in OUTCOMES:
        return str(answer["outcome"])
    if isinstance(answer, dict) and isinstance(answer.get("refused"), dict):
        raise unavailable(_refusal(answer["refused"], publisher))
    if isinstance(answer, dict) and isinstance(answer.get("undeliverable"), str):
        raise Undeliverable(f"{answer['undeliverable']} (refused by the '{module}' module on Celery queue '{queue}')")
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict) and error.get("type"):
        raise unavailable(f"failed on the worker: {error['type']}: {error.get('message', '')}", error_type=error["type"])
    raise unavailable(f"answered outside the protocol ({answer!r:.120})")


#: The kernel finds the forwarder on the factory named in SEAMS_TRANSPORTS["celery"].
CeleryTransport.forward_event = forward_event  # type: ignore[attr-defined]
