"""A loopback HTTP server that loses the keep-alive race on purpose, every time (the unit tests of
the HTTP pool, the channel and the gateway)."""

from __future__ import annotations

import select
import socket
import threading

__all__ = ["ClosesAsTheRequestArrives"]


class ClosesAsTheRequestArrives:
    """A keep-alive server that closes a kept-alive connection the moment the next request reaches
    it, unread, as gunicorn's gthread worker does when that connection's keep-alive expired just then
    (``murder_keepalived`` after the poll that did not yet see the request): the client's idle check
    passed, its request is sent, and it reads a reset. Each connection answers its first request
    ``answer`` (JSON); ``answered`` is every body answered, ``connections`` how many were accepted."""

    def __init__(self, answer: bytes = b'{"ok": true}', *, hang_up_first: bool = False) -> None:
        self.answer = answer
        self.hang_up_first = hang_up_first  # also a fresh connection's first request: closed unanswered
        self.answered: list[bytes] = []  # the bodies
        self.request_lines: list[str] = []  # "GET /path HTTP/1.1" of each request answered
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            if self.hang_up_first:
                self._arrived(conn)
                return
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            self.request_lines.append(lines[0].decode("latin-1"))
            length = next((int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:")), 0)
            while len(body) < length:
                body += conn.recv(65536)
            self.answered.append(body)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(self.answer), self.answer))
            self._arrived(conn)

    @staticmethod
    def _arrived(conn: socket.socket) -> None:
        """Until the next request is in the socket; then closed unread (the kernel answers it with RST)."""
        poller = select.poll()
        poller.register(conn, select.POLLIN)
        poller.poll(5000)

    def close(self) -> None:
        self.listener.close()
