"""The HTTP transport's connection pool: an ``httpx`` transport over the standard library's ``http.client``.

Why not httpx's own ``HTTPTransport``: its HTTP/1.1 layer (httpcore's connection pool and h11's
pure-Python state machine) costs about as much CPU per request as the Django endpoint that answers
it. A contract call or a forwarded event is one small request and one small answer on a kept-alive
loopback or cluster connection, and an extracted shop makes three of them per order, so that cost
was most of what extracting a module added (``bench/shop.py``). ``http.client`` (C-accelerated
header parsing, no state machine) does the same exchange for a fraction of it: measured on this
project's 2-core machine, one POST with a small JSON answer costs the calling thread about 250 µs
with ``http.client``, 740 µs through ``httpx.HTTPTransport`` and 980 µs through ``httpx.Client``
with it (``KeepAliveTransport`` under ``httpx.Client``: about 500 µs).

Callers keep an ``httpx.Client`` (timeouts, exceptions, ``httpx.MockTransport`` in tests) and send
through its transport (:mod:`extraction.http.exchange`); only the wire below it changes. What the pool guarantees, as httpcore's did:

* keep-alive: one idle connection per finished exchange is kept per origin (at most
  ``max_idle``, for at most ``keepalive_expiry`` seconds), most recently used first;
* a connection the server has closed while it was idle (readable with nothing asked: EOF) is
  never reused, so a server's keep-alive timeout does not fail the next call;
* ``TCP_NODELAY`` and the other ``socket_options`` on every socket;
* httpx's exceptions: ``ConnectTimeout`` / ``ConnectError`` when no connection could be made (the
  request was never sent), ``WriteTimeout`` / ``ReadTimeout``, ``RemoteProtocolError`` when the
  server closed or broke the exchange; a failed connection is closed, never pooled;
* no retry of its own: whether repeating a request is safe is the caller's decision
  (:mod:`extraction.http.client`). What it tells the caller: :class:`StaleConnection` (a
  ``RemoteProtocolError``) when a *reused* connection failed before any byte of an answer (the
  send broke, or the server reset or closed the connection instead of answering). That is the
  keep-alive race the idle check above cannot close: the server's keep-alive timeout closes the
  connection in the instant between our check and our request (gunicorn's gthread worker closes
  an expired kept-alive socket with the request unread in it, so the client reads a reset). The
  other idle connections to that origin are older still, so they are dropped with it: a request
  sent again goes on a fresh connection.

Bodies are read whole (the transport's requests and answers are small JSON documents; the gateway
forwards public API bodies, bounded by ``SEAMS_API_MAX_BODY_BYTES``).
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from typing import Any

import httpx

__all__ = ["KeepAliveTransport", "StaleConnection"]

Origin = tuple[str, str, int]


class StaleConnection(httpx.RemoteProtocolError):
    """A kept-alive connection failed before any byte of an answer: the server had closed it, most
    likely as the request reached it (its keep-alive timeout), in which case the request was never
    read. A caller whose request is safe to repeat sends it again at once: on a fresh connection."""


class _SocketInfo:
    """``response.extensions["network_stream"]``, as httpx's own transport offers it (the socket)."""

    def __init__(self, sock: socket.socket | None) -> None:
        self._sock = sock

    def get_extra_info(self, name: str) -> Any:
        return self._sock if name == "socket" else None


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle kept-alive socket that is readable has been closed (or broken) by the server: it owes
    us nothing, so anything to read is an EOF, a reset or garbage. (``poll``: no limit on fd numbers.)"""
    poller = select.poll()
    try:
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class KeepAliveTransport(httpx.BaseTransport):
    """An ``httpx`` transport speaking HTTP/1.1 through ``http.client``, with a keep-alive pool."""

    def __init__(
        self,
        *,
        max_idle: int = 20,
        keepalive_expiry: float = 30.0,
        socket_options: Iterable[tuple[int, int, int]] = (),
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.max_idle = max_idle
        self.keepalive_expiry = keepalive_expiry
        self.socket_options = list(socket_options)
        self._ssl_context = ssl_context
        self._idle: dict[Origin, list[tuple[http.client.HTTPConnection, float]]] = {}
        self._lock = threading.Lock()
        self._closed = False

    # --- the pool ---------------------------------------------------------------------------------
    def _checkout(self, origin: Origin) -> http.client.HTTPConnection | None:
        """A kept-alive connection to ``origin`` that is still good, or None."""
        now = time.monotonic()
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                if not idle:
                    return None
                connection, since = idle.pop()
            if now - since <= self.keepalive_expiry and connection.sock is not None and not _closed_by_peer(connection.sock):
                return connection
            connection.close()

    def _checkin(self, origin: Origin, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if not self._closed and len(idle) < self.max_idle:
                idle.append((connection, time.monotonic()))
                return
        connection.close()

    def _connect(self, origin: Origin, timeout: float | None) -> http.client.HTTPConnection:
        scheme, host, port = origin
        connection: http.client.HTTPConnection
        if scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context()
            connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._ssl_context)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            connection.connect()
        except TimeoutError as exc:
            connection.close()
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except OSError as exc:
            connection.close()
            raise httpx.ConnectError(str(exc)) from exc
        assert connection.sock is not None
        for level, option, value in self.socket_options:
            connection.sock.setsockopt(level, option, value)
        return connection

    # --- one exchange -----------------------------------------------------------------------------
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("This transport is closed.")
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{url.scheme}://'.")
        origin: Origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        connection = self._checkout(origin)
        reused = connection is not None
        return self._exchange(origin, request, timeouts, connection or self._connect(origin, timeouts.get("connect")), reused)

    def _exchange(
        self,
        origin: Origin,
        request: httpx.Request,
        timeouts: dict[str, float | None],
        connection: http.client.HTTPConnection,
        reused: bool,
    ) -> httpx.Response:
        """One request and its answer on ``connection``; :class:`StaleConnection` when a ``reused``
        connection failed before any byte of an answer came back."""
        sock = connection.sock
        assert sock is not None
        body = request.read()
        target = request.url.raw_path.decode("ascii")
        answered = False  # a status line came back: the server took the request
        try:
            sock.settimeout(timeouts.get("write"))
            try:
                connection.putrequest(request.method, target, skip_host=True, skip_accept_encoding=True)
                for name, value in request.headers.raw:
                    if name.lower() == b"transfer-encoding":  # the body is sent whole, so with its length
                        name, value = b"Content-Length", str(len(body)).encode()
                    connection.putheader(name, value)
                connection.endheaders(body or None)
            except TimeoutError as exc:
                raise httpx.WriteTimeout("sending the request timed out") from exc
            sock.settimeout(timeouts.get("read"))
            try:
                answer = connection.getresponse()
                answered = True
                content = answer.read()
            except TimeoutError as exc:
                raise httpx.ReadTimeout("the server did not answer in time") from exc
        except httpx.TransportError:
            connection.close()
            raise
        except (http.client.HTTPException, OSError) as exc:
            connection.close()
            message = f"the server closed or broke the exchange ({type(exc).__name__}: {exc})"
            # EOF instead of a status line (RemoteDisconnected), a reset or a broken pipe: nothing answered.
            if reused and not answered and isinstance(exc, (ConnectionError, http.client.RemoteDisconnected)):
                self._drop_idle(origin)
                raise StaleConnection(f"{message} on a kept-alive connection, before any answer") from exc
            raise httpx.RemoteProtocolError(message) from exc
        except BaseException:
            connection.close()
            raise
        headers = answer.getheaders()
        if answer.will_close:
            connection.close()
        else:
            self._checkin(origin, connection)
        return httpx.Response(
            status_code=answer.status,
            headers=headers,
            stream=httpx.ByteStream(content),
            extensions={
                "http_version": b"HTTP/1.1" if answer.version == 11 else b"HTTP/1.0",
                "reason_phrase": answer.reason.encode("ascii", "replace"),
                "network_stream": _SocketInfo(sock),
            },
        )

    def _drop_idle(self, origin: Origin) -> None:
        """Close the idle connections to ``origin`` (older than one the server has just closed)."""
        with self._lock:
            idle = self._idle.pop(origin, [])
        for connection, _ in idle:
            connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle = [c for connections in self._idle.values() for c, _ in connections]
            self._idle.clear()
        for connection in idle:
            connection.close()
