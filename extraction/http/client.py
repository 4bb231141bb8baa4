"""The client side of the HTTP transport: a contract served by a remote Seams service.

``use(Catalog)`` returns ``HttpTransport(contract=Catalog, binding=...)`` when the providing module
is bound to ``http`` (``SEAMS_BIND_CATALOG=http://catalog:8000``). The object is an instance of a
subclass of the contract, so callers cannot tell it from the in-process implementation:

* arguments are checked against the generated body model (pydantic strict) before anything is sent,
  and the answer is rebuilt into the declared return type (strict, JSON mode): a ``ProductDTO``
  comes back as a ``ProductDTO``;
* a contract error comes back as the same class (``ContractError.by_code``), with its message and
  details; a code this process does not know becomes its kind (NotFound, Conflict, ...), as with
  every transport (:mod:`extraction.wire`);
* anything that prevents an answer (connection refused, timeout, a 5xx or any response that is not
  the protocol's) raises ``TransportUnavailable`` (:mod:`extraction.wire`, shared with the Celery
  transport), a ``ServiceUnavailable`` naming the module
  and URL, which the public API answers with 503;
* one ``httpx.Client`` per base URL and process over :class:`~extraction.http.pool.KeepAliveTransport`
  (``http.client`` underneath: a third of the CPU of httpx's own transport per call), a connection
  pool with keep-alive, its sockets with ``TCP_NODELAY`` (a small request is sent at once, not held
  back by Nagle's algorithm waiting for the server's delayed ACK); each request goes straight to the
  client's transport (:mod:`extraction.http.exchange`: no cookie jar, auth flow or redirect loop);
* each attempt is bounded by the binding's ``TIMEOUT`` (seconds);
* retries (``RETRIES``, default 2, with a short jittered backoff) only where repeating is safe:
  ``@query`` methods, and commands called with an idempotency key (a parameter named
  ``idempotency_key`` that the implementation uses to do the work at most once);
* a circuit breaker per base URL (:mod:`extraction.http.breaker`) fails fast while the service is
  down and lets one probe through after a cool-down (``BREAKER_THRESHOLD``, ``BREAKER_COOLDOWN``);
* the trace context travels in the W3C ``traceparent`` / ``tracestate`` headers;
* every request carries a service token (``Authorization: Bearer``, :mod:`extraction.identity`)
  signed in the name of the calling module (the binding's ``CALLER``, set by ``use()``), a new one
  for every attempt (a token is good for one request: the receiver refuses a replay); a 401 or
  403 answer (the service does not trust our key, or our manifest does not consume the contract)
  raises ``TransportUnavailable`` saying so, without counting against the breaker.

Events: ``HttpTransport.forward_event`` (the callable the kernel looks up on the transport, see
``contracts.kernel.remote``) posts a publication to the subscriber's service, ``POST
/internal/<module>/events/`` (:mod:`extraction.http.events`), through the same pooled client and
breaker, signed in the name of the event's publisher (the module that declares it). It makes **one attempt** per call: retries are the publisher outbox's (durable, with
backoff, counted against ``MAX_ATTEMPTS``), and safe because the receiver's inbox drops repeats.

One resend below those rules, for a forward and a safe call only: when the pool reports that the
server closed a kept-alive connection as the request reached it (:class:`~extraction.http.pool.StaleConnection`,
the keep-alive race), the request goes once more at once, on a fresh connection, with a new token,
neither counted against the breaker nor waiting a backoff. A command without an idempotency key is
not resent (it may have taken effect).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import pydantic

from contracts.kernel import ConfigurationError, Contract, ContractViolation, Undeliverable
from contracts.kernel.telemetry.tracing import active, carrier
from extraction.bindings import forwarding_module
from extraction.identity import allowed_publisher, issue
from extraction.proxy import client_class
from extraction.wire import IDEMPOTENCY_PARAMETER, TransportUnavailable, error_from_wire, kind_for_status

from .breaker import DEFAULT_COOLDOWN, DEFAULT_THRESHOLD, CircuitBreaker, breaker_for
from .exchange import post
from .pool import KeepAliveTransport, StaleConnection
from .wire import (
    IDEMPOTENCY_HEADER,
    body_model,
    events_path,
    method_path,
    return_adapter,
)

__all__ = [
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "HttpChannel",
    "HttpTransport",
    "TransportUnavailable",
    "close_clients",
    "forward_event",
    "rebuild_error",
    "shared_client",
]

DEFAULT_TIMEOUT = 5.0
DEFAULT_RETRIES = 2
#: Backoff before retry n (1, 2, ...): BACKOFF_BASE * 2**(n-1), at most BACKOFF_MAX, times 0.5..1.
BACKOFF_BASE = 0.05
BACKOFF_MAX = 1.0
#: Statuses that mean "not now" from a gateway or server, retried for safe calls.
RETRYABLE_STATUSES = frozenset({502, 503, 504})
#: The receiver refused our service identity (401) or its manifests do not allow the call (403).
REFUSED_STATUSES = frozenset({401, 403})


# --- connection pools ---------------------------------------------------------------------------
_clients: dict[tuple[int, str], httpx.Client] = {}
_clients_lock = threading.Lock()
#: Idle kept-alive connections per origin, and for how long (seconds).
MAX_IDLE = 20
KEEPALIVE_EXPIRY = 30.0
#: Set explicitly, though http.client sets it today too: a contract call is one small request and
#: one small answer, the case where Nagle's algorithm and delayed ACKs cost up to 40 ms.
SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def pooled_transport() -> KeepAliveTransport:
    """The transport of every pooled client (also what ``bench/transports.py`` gives its baseline)."""
    return KeepAliveTransport(max_idle=MAX_IDLE, keepalive_expiry=KEEPALIVE_EXPIRY, socket_options=SOCKET_OPTIONS)


def shared_client(base_url: str) -> httpx.Client:
    """The pooled, keep-alive ``httpx.Client`` of this process for ``base_url``.

    Keyed by process id too: a client created before a fork (gunicorn ``--preload``) is never
    shared with the children, whose sockets it would mix up.
    """
    key = (os.getpid(), base_url)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = httpx.Client(
                base_url=base_url,
                transport=pooled_transport(),
                headers={"User-Agent": "seams-http-transport"},
            )
            _instrument(client)
        return client


def _instrument(client: httpx.Client) -> None:
    """With tracing on and the httpx instrumentation installed, this client's requests get their
    HTTP client span as httpx's own transport's do (the instrumentation patches that class, not ours)."""
    if not active():
        return
    with contextlib.suppress(ImportError):
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor.instrument_client(client)


def close_clients() -> None:
    """Close every pooled client of this process (shutdown, tests)."""
    with _clients_lock:
        clients = [c for (pid, _), c in _clients.items() if pid == os.getpid()]
        _clients.clear()
    for client in clients:
        client.close()


# --- errors ---------------------------------------------------------------------------------------
def rebuild_error(error: Mapping[str, Any], status: int) -> Exception:
    """The exception an error body stands for (``extraction.wire.error_from_wire``, as for every
    transport): the same ``ContractError`` class when its code is known here, else the class of its
    ``kind`` (or, from a server that sends none, of its status) keeping the code;
    ``ContractViolation`` for ``seams.ContractViolation``."""
    if not error.get("kind"):
        error = {**error, "kind": kind_for_status(status).code}
    return error_from_wire(error)


def _error_of(response: httpx.Response) -> dict[str, Any] | None:
    """The ``{"code", "message", "details"}`` of a protocol error body, else None."""
    body = _json_object(response)
    error = body.get("error") if body is not None else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return error
    return None


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The response body when it is a JSON object, else None."""
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _refusal(response: httpx.Response, caller: str) -> str:
    """Why the receiver refused the call, for the caller's message (a configuration to fix)."""
    error = (_json_object(response) or {}).get("error")
    message = error.get("message") if isinstance(error, dict) else None
    who = f"module '{caller}'" if caller else "a caller that is not a module"
    return f"refused the call from {who} with HTTP {response.status_code}" + (f": {message}" if message else "")


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "did not accept the connection in time"
    if isinstance(exc, httpx.ConnectError):
        return f"refused or failed the connection ({exc})"
    if isinstance(exc, httpx.TimeoutException):
        return "did not answer in time"
    return f"failed the exchange ({type(exc).__name__}: {exc})"


# --- the channel ----------------------------------------------------------------------------------
def _number(binding: Mapping[str, Any], key: str, default: float, kind: type = float) -> Any:
    raw = binding.get(key, default)
    try:
        value = kind(raw)
        if value < 0 or (key != "RETRIES" and value == 0):
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigurationError(f"HTTP binding {key}={raw!r} must be a positive number.") from None
    return value


class HttpChannel:
    """Sends the calls of one contract to one base URL: validation, retries, breaker, errors."""

    def __init__(
        self,
        contract: type[Contract],
        binding: Mapping[str, Any],
        *,
        client: httpx.Client | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.contract = contract.__seams_contract__
        self.module = self.contract.__seams_module__
        url = str(binding.get("URL", "")).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"Module '{self.module}' is bound to HTTP without a base URL: set SEAMS_BIND_{self.module.upper()}="
                f"http://host:port (got URL={binding.get('URL')!r})."
            )
        self.url = url
        #: The module in whose name calls are signed ("" for a caller that is not a module: refused).
        self.caller = str(binding.get("CALLER") or "")
        self.timeout = httpx.Timeout(_number(binding, "TIMEOUT", DEFAULT_TIMEOUT))
        self._timeouts = self.timeout.as_dict()
        self.retries = _number(binding, "RETRIES", DEFAULT_RETRIES, int)
        self.client = client if client is not None else shared_client(url)
        self.breaker = breaker if breaker is not None else breaker_for(
            url,
            _number(binding, "BREAKER_THRESHOLD", DEFAULT_THRESHOLD, int),
            _number(binding, "BREAKER_COOLDOWN", DEFAULT_COOLDOWN),
        )
        self.sleep = sleep
        self._targets: dict[str, httpx.URL] = {}
        #: Why the last attempt failed (for the messages of fast failures).
        self.last_failure = ""

    def __repr__(self) -> str:
        return f"<HttpChannel {self.contract.__seams_name__} -> {self.url}>"

    def _unavailable(self, method: str, reason: str, **details: Any) -> TransportUnavailable:
        return TransportUnavailable(
            f"{self.contract.__seams_name__}.{method} is unavailable: the '{self.module}' service at {self.url} {reason}.",
            module=self.module,
            url=self.url,
            contract=self.contract.__seams_name__,
            method=method,
            **details,
        )

    def _target(self, method: str) -> httpx.URL:
        """The method's absolute URL, parsed once: httpx parses a relative path against the client's
        base URL on every request otherwise (two URL parses, a tenth of the client's CPU per call)."""
        url = self._targets.get(method)
        if url is None:
            url = self._targets[method] = httpx.URL(self.url + method_path(self.contract, method))
        return url

    def _backoff(self, retry: int) -> float:
        return min(BACKOFF_MAX, BACKOFF_BASE * 2 ** (retry - 1)) * (0.5 + random.random() / 2)

    def _fast_fail_reason(self, last: str) -> str:
        wait = self.breaker.retry_in()
        when = f"the next probe goes in {wait:.1f} s" if wait else "a probe is checking whether it is back"
        last = last or self.last_failure
        why = f"; last failure: it {last}" if last else ""
        return f"is failing: the circuit breaker is open, so calls fail fast ({when}{why})"

    def call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        spec = self.contract.__seams_methods__[method]
        name = f"{self.contract.__seams_name__}.{method}"
        try:
            bound = spec.signature.bind(None, *args, **kwargs)
        except TypeError as exc:
            raise ContractViolation(f"{name}: {exc}") from None
        bound.apply_defaults()
        arguments = {k: v for k, v in bound.arguments.items() if k != "self"}
        try:
            body = body_model(self.contract, method).model_validate(arguments, strict=True)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ContractViolation(f"{name}({where}): {first['msg']}") from None
        key = arguments.get(IDEMPOTENCY_PARAMETER)
        headers = {"Content-Type": "application/json", **carrier()}  # W3C traceparent/tracestate
        if key:
            headers[IDEMPOTENCY_HEADER] = str(key)
        safe = spec.is_query or bool(key)
        return self._send(method, name, body.model_dump_json().encode(), headers, safe)

    def _send(self, method: str, name: str, content: bytes, headers: dict[str, str], safe: bool) -> Any:
        attempts = 1 + (self.retries if safe else 0)
        reason = ""
        for attempt in range(attempts):
            if attempt:
                self.sleep(self._backoff(attempt))
            if not self.breaker.allow():
                raise self._unavailable(method, self._fast_fail_reason(reason), circuit="open")
            try:
                response = self._post(method, content, headers, safe)
            except httpx.HTTPError as exc:
                self.breaker.failure()
                reason = self.last_failure = _describe(exc)
                if not safe and not isinstance(exc, httpx.ConnectError):
                    reason += "; the call may or may not have taken effect"
                continue
            except BaseException:
                self.breaker.abandon()
                raise
            if response.status_code == 200:
                self.breaker.success()
                try:
                    return return_adapter(self.contract, method).validate_json(response.content, strict=True)
                except pydantic.ValidationError as exc:
                    raise ContractViolation(
                        f"{name} -> return: the '{self.module}' service at {self.url} answered a value that does "
                        f"not match the declaration ({exc.errors()[0]['msg']}); are both sides on the same contract?"
                    ) from None
            if response.status_code in REFUSED_STATUSES:
                self.breaker.success()  # an answer: the service is up and does not accept our identity
                raise self._unavailable(method, _refusal(response, self.caller), status=response.status_code)
            error = _error_of(response)
            if error is not None:
                self.breaker.success()  # the service answered, in the protocol
                raise rebuild_error(error, response.status_code)
            self.breaker.failure()
            reason = self.last_failure = f"answered HTTP {response.status_code} outside the protocol"
            if response.status_code == 404:
                reason += f" (does it serve {method_path(self.contract, method)}?)"
            if response.status_code not in RETRYABLE_STATUSES:
                break
        raise self._unavailable(method, reason)


    def _post(self, method: str, content: bytes, headers: dict[str, str], safe: bool) -> httpx.Response:
        """One attempt; a safe one is sent again at once when the server had closed the kept-alive
        connection as it arrived (:class:`StaleConnection`)."""
        for resend in (False, True):
            # A token is good for one request (the receiver refuses a replayed jti): one per request.
            headers["Authorization"] = f"Bearer {issue(self.caller, self.module)}"
            try:
                return post(self.client, self._target(method), content, headers, self._timeouts)
            except StaleConnection:
                if not safe or resend:
                    raise
        raise AssertionError("unreachable")


def _where(channel: Any) -> str:
    return channel.url


def HttpTransport(*, contract: type[Contract], binding: Mapping[str, Any], **options: Any) -> Contract:
    """The factory named in ``SEAMS_TRANSPORTS["http"]``: an object with the contract's methods that
    calls the service at ``binding["URL"]``. ``options`` (``client``, ``breaker``, ``sleep``) are for tests."""
    contract = contract.__seams_contract__
    return client_class(contract, "Http", _where)(HttpChannel(contract, binding, **options))


def channel_of(remote: Contract) -> HttpChannel:
    """The channel behind an object returned by :func:`HttpTransport` (breaker state, URL)."""
    return remote._channel  # type: ignore[attr-defined,no-any-return]


# --- events ---------------------------------------------------------------------------------------
_absolute_urls: dict[tuple[str, str], httpx.URL] = {}


def _absolute(base: str, path: str) -> httpx.URL:
    """``base + path`` parsed once per pair (see ``HttpChannel._target``)."""
    url = _absolute_urls.get((base, path))
    if url is None:
        url = _absolute_urls[(base, path)] = httpx.URL(base + path)
    return url


OUTCOMES = frozenset({"completed", "duplicate"})


def _json_body(value: Any) -> bytes:
    """``value`` as httpx's ``json=`` encodes it (UTF-8, compact, no NaN)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def forward_event(
    *,
    binding: Mapping[str, Any],
    subscriber: str,
    envelope: Mapping[str, Any],
    client: httpx.Client | None = None,
    breaker: CircuitBreaker | None = None,
) -> str:
    """Deliver one outbox envelope to ``subscriber`` in the service at ``binding["URL"]``.

    Returns the receiver's outcome, ``"completed"`` or ``"duplicate"``. Raises ``Undeliverable``
    when the receiver answers that it can never handle the event (422), and
    :class:`TransportUnavailable` for everything worth retrying: no connection, a timeout, the
    breaker open, the handler failing on the receiver (500), any answer outside the protocol.
    One attempt (the pool resends it once only when the server closed the kept-alive connection as
    it arrived): the publisher's outbox retries with backoff. ``client`` and ``breaker`` are for tests.
    """
    module = forwarding_module(binding, subscriber)
    url = str(binding.get("URL", "")).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"Module '{module}' is bound to HTTP without a base URL: set SEAMS_BIND_{module.upper()}="
            f"http://host:port (got URL={binding.get('URL')!r})."
        )
    timeout = httpx.Timeout(_number(binding, "TIMEOUT", DEFAULT_TIMEOUT))
    client = client if client is not None else shared_client(url)
    breaker = breaker if breaker is not None else breaker_for(
        url,
        _number(binding, "BREAKER_THRESHOLD", DEFAULT_THRESHOLD, int),
        _number(binding, "BREAKER_COOLDOWN", DEFAULT_COOLDOWN),
    )
    path = events_path(module)
    event_id = str(envelope.get("id", "?"))
    publisher = allowed_publisher(str(envelope.get("type", "")), envelope.get("version")) or ""

    def unavailable(reason: str, **details: Any) -> TransportUnavailable:
        return TransportUnavailable(
            f"Event {event_id} ({envelope.get('type')}) was not delivered to {subscriber}: the '{module}' "
            f"service at {url} {reason}.",
            module=module,
            url=url,
            subscriber=subscriber,
            event_id=event_id,
            **details,
        )

    if not breaker.allow():
        wait = breaker.retry_in()
        when = f"the next probe goes in {wait:.1f} s" if wait else "a probe is checking whether it is back"
        raise unavailable(f"is failing: the circuit breaker is open, so forwards fail fast ({when})", circuit="open")
    target, body, timeouts = _absolute(url, path), _json_body({"subscriber": subscriber, "envelope": dict(envelope)}), timeout.as_dict()

    def send() -> httpx.Response:
        # the forward span's context (the envelope carries it too), and our identity (a token per request)
        headers = {"Content-Type": "application/json", **carrier(), "Authorization": f"Bearer {issue(publisher, module)}"}
        return post(client, target, body, headers, timeouts)

    try:
        try:
            response = send()
        except StaleConnection:  # the server closed the kept-alive connection as it arrived: the inbox drops a repeat
            response = send()
    except httpx.HTTPError as exc:
        breaker.failure()
        raise unavailable(_describe(exc)) from None
    except BaseException:
        breaker.abandon()
        raise
    body = _json_object(response) or {}
    status = response.status_code
    if status in REFUSED_STATUSES:
        breaker.success()  # an answer; retried by the outbox: trust is fixed by configuration
        raise unavailable(_refusal(response, publisher), status=status)
    if status == 200 and body.get("outcome") in OUTCOMES:
        breaker.success()
        return str(body["outcome"])
    if status == 422 and isinstance(body.get("undeliverable"), str):
        breaker.success()  # an answer: the service is up, the event is not for it
        raise Undeliverable(f"{body['undeliverable']} (refused by the '{module}' service at {url})")
    error = body.get("error")
    if status >= 500 and isinstance(error, dict) and error.get("type"):
        # The service answered in the protocol: its handler failed (or it does not serve the module).
        # Not a transport failure: a poison event must not open the breaker for every call.
        breaker.success()
        raise unavailable(f"answered HTTP {status}: {error.get('type')}: {error.get('message', '')}", error_type=error["type"])
    breaker.failure()
    reason = f"answered HTTP {status} outside the protocol"
    if status == 404:
        reason += f" (does it serve {path}?)"
    raise unavailable(reason)


#: The kernel finds the forwarder on the class named in SEAMS_TRANSPORTS["http"].
HttpTransport.forward_event = forward_event  # type: ignore[attr-defined]
