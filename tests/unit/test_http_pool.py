"""extraction/http/pool.py: the HTTP transport's keep-alive pool over ``http.client``, against a real
loopback server (``http.server`` in a thread): connections are kept and reused, one the server
closed while idle is never reused, failures are httpx's exceptions, bodies arrive whole."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from extraction.http.pool import KeepAliveTransport, StaleConnection
from tests.support.keepalive_race import ClosesAsTheRequestArrives


class Recorder(BaseHTTPRequestHandler):
    """Echoes the body; records each request's client port (one per TCP connection)."""

    protocol_version = "HTTP/1.1"
    ports: list[int] = []
    received: list[tuple[str, dict[str, str], bytes]] = []

    def _answer(self, body: bytes, *, extra: dict[str, str] | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        type(self).ports.append(self.client_address[1])
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received.append((self.path, dict(self.headers), body))
        if self.path == "/slow":
            time.sleep(0.5)
        self._answer(body or b"{}")
        if self.path == "/close-after":
            # Close the kept-alive connection without saying so: what a server's keep-alive timeout does.
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802
        type(self).ports.append(self.client_address[1])
        self._answer(gzip.compress(b'{"zipped": true}'), extra={"Content-Encoding": "gzip"})

    def log_message(self, *args: object) -> None:
        pass


class ClosingServer(ThreadingHTTPServer):
    """Says when it has closed a connection (``closed``): from then on its FIN is the client's to read."""

    closed = threading.Event()

    def shutdown_request(self, request: object) -> None:
        super().shutdown_request(request)  # type: ignore[arg-type]
        self.closed.set()


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.ports, Recorder.received = [], []
    ClosingServer.closed = threading.Event()
    httpd = ClosingServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    transport = KeepAliveTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    with httpx.Client(base_url=server, transport=transport, timeout=5) as http:
        yield http


def test_consecutive_calls_reuse_one_kept_alive_connection(client: httpx.Client) -> None:
    answers = [client.post("/echo", content=f'{{"n": {n}}}'.encode()) for n in range(3)]
    assert [a.json() for a in answers] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert answers[0].status_code == 200 and answers[0].headers["content-type"] == "application/json"
    assert len(set(Recorder.ports)) == 1


def test_a_connection_the_server_closed_while_idle_is_not_reused(client: httpx.Client) -> None:
    assert client.post("/close-after", content=b'{"first": 1}').json() == {"first": 1}
    assert ClosingServer.closed.wait(10)  # the server closed it: its FIN is sent (was a fixed 0.05 s sleep)
    assert client.post("/echo", content=b'{"second": 2}').json() == {"second": 2}
    assert len(set(Recorder.ports)) == 2


def test_headers_and_body_arrive_as_sent_and_a_streamed_body_with_its_length(client: httpx.Client) -> None:
    client.post("/h", content=b'{"a": 1}', headers={"Authorization": "Bearer t", "traceparent": "00-x"})
    client.post("/stream", content=iter([b'{"chunked": ', b"true}"]))
    (_, headers, body), (_, streamed_headers, streamed) = Recorder.received
    assert body == b'{"a": 1}'
    assert headers["Authorization"] == "Bearer t" and headers["traceparent"] == "00-x"
    assert headers["Host"] == client.base_url.netloc.decode()
    assert streamed == b'{"chunked": true}' and streamed_headers["Content-Length"] == str(len(streamed))
    assert "Transfer-Encoding" not in streamed_headers


def test_an_encoded_answer_is_decoded_by_httpx(client: httpx.Client) -> None:
    assert client.get("/zipped").json() == {"zipped": True}


def test_the_sockets_have_tcp_nodelay(client: httpx.Client) -> None:
    answer = client.post("/echo", content=b"{}")
    sock = answer.extensions["network_stream"].get_extra_info("socket")
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_an_answer_later_than_the_read_timeout_is_a_read_timeout_and_the_connection_is_dropped(client: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        client.post("/slow", content=b"{}", timeout=httpx.Timeout(5, read=0.1))
    assert client.post("/echo", content=b'{"after": 1}').json() == {"after": 1}
    assert len(set(Recorder.ports)) == 2  # the timed-out connection was not pooled


def test_no_listener_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: the connection is refused
        with httpx.Client(transport=KeepAliveTransport()) as http, pytest.raises(httpx.ConnectError):
            http.post(f"http://127.0.0.1:{port}/", content=b"{}")


def test_a_server_that_hangs_up_without_answering_is_a_protocol_error() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def hang_up() -> None:
            conn, _ = listener.accept()
            conn.recv(65536)
            conn.close()

        threading.Thread(target=hang_up, daemon=True).start()
        with httpx.Client(transport=KeepAliveTransport()) as http, pytest.raises(httpx.RemoteProtocolError):
            http.post(f"http://127.0.0.1:{listener.getsockname()[1]}/", content=b"{}", timeout=5)


def test_a_closed_transport_keeps_nothing_and_refuses_requests(server: str) -> None:
    transport = KeepAliveTransport()
    http = httpx.Client(base_url=server, transport=transport)
    http.post("/echo", content=b"{}")
    http.close()
    assert transport._idle == {}
    with pytest.raises(RuntimeError):
        transport.handle_request(httpx.Request("POST", f"{server}/echo", content=b"{}"))


def test_with_tracing_on_a_pooled_clients_request_has_its_http_client_span(server: str, spans: object) -> None:
    """The httpx instrumentation patches httpx's own transport class; the pooled clients get it
    attached one by one (``extraction.http.client._instrument``), so tracing still shows each request."""
    from extraction.http.client import close_clients, shared_client

    try:
        shared_client(server).post("/echo", content=b"{}")
    finally:
        close_clients()
    finished = spans.get_finished_spans()  # type: ignore[attr-defined]
    client_spans = [s for s in finished if s.kind.name == "CLIENT" and s.attributes.get("url.full", s.attributes.get("http.url", "")).endswith("/echo")]
    assert len(client_spans) == 1, [(s.name, dict(s.attributes)) for s in finished]


# --- the keep-alive race: the server closes an idle connection as our request reaches it -------------
@pytest.fixture
def closing() -> Iterator[ClosesAsTheRequestArrives]:
    server = ClosesAsTheRequestArrives()
    yield server
    server.close()


def test_a_reused_connection_the_server_resets_before_answering_is_a_stale_connection_then_a_fresh_one(
    closing: ClosesAsTheRequestArrives,
) -> None:
    """The pool does not resend (the caller decides: :mod:`extraction.http.client`); it says which
    failure this is, and the next request goes on a new connection."""
    with httpx.Client(base_url=closing.url, transport=KeepAliveTransport(), timeout=5) as http:
        assert http.post("/", content=b'{"n": 1}').json() == {"ok": True}
        with pytest.raises(StaleConnection, match="ConnectionResetError.*kept-alive connection, before any answer"):
            http.post("/", content=b'{"n": 2}')
        assert http.post("/", content=b'{"n": 3}').json() == {"ok": True}
    assert closing.answered == [b'{"n": 1}', b'{"n": 3}']
    assert closing.connections == 2


def test_a_fresh_connection_the_server_hangs_up_on_is_not_a_stale_one() -> None:
    """Not the keep-alive race: the server itself failed (the outbox's or the channel's retries decide)."""
    server = ClosesAsTheRequestArrives(hang_up_first=True)
    try:
        with httpx.Client(transport=KeepAliveTransport()) as http, pytest.raises(httpx.RemoteProtocolError) as caught:
            http.post(server.url, content=b"{}", timeout=5)
        assert not isinstance(caught.value, StaleConnection)
        assert server.connections == 1
    finally:
        server.close()


def test_an_event_forward_meeting_the_race_is_delivered_not_left_to_a_relay() -> None:
    """A forward makes one attempt (the outbox retries, but only where a relay runs): the stale
    connection must not cost it. The receiver's inbox drops a repeat, so the forward is replayable."""
    from extraction.http import CircuitBreaker
    from extraction.http.client import forward_event

    server = ClosesAsTheRequestArrives(b'{"outcome": "completed"}')
    binding = {"TRANSPORT": "http", "MODULE": "notifications", "URL": server.url, "TIMEOUT": "5"}
    breaker = CircuitBreaker(threshold=1)
    try:
        with httpx.Client(transport=KeepAliveTransport()) as http:
            for n in (1, 2):
                envelope = {
                    "id": f"00000000-0000-0000-0000-00000000000{n}",
                    "type": "orders.OrderConfirmed",
                    "version": 1,
                    "key": "7",
                    "payload": {"order_id": 7, "customer_email": "ada@example.com", "total_cents": 2500},
                    "headers": {},
                    "occurred_at": "2025-01-01T12:00:00+00:00",
                }
                subscriber = "modules.notifications.handlers.email_order_confirmation"
                assert forward_event(binding=binding, subscriber=subscriber, envelope=envelope, client=http, breaker=breaker) == "completed"
        first, second = server.answered
        assert b"00000000-0000-0000-0000-000000000001" in first and b"00000000-0000-0000-0000-000000000002" in second
        assert breaker.state == "closed"  # no failure counted
    finally:
        server.close()
