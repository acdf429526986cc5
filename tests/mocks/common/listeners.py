"""Syslog and HTTP receivers for the mocks' traffic tests: real sockets on 127.0.0.1.

`UdpListener` keeps each datagram as one line; `TcpListener` decodes RFC 6587 octet-counted frames
(and fails the test on anything else) over any number of connections; `FlowsReceiver` is an HTTP
server that records each POST (headers and JSON body) and answers the statuses it is told to.
`lines(n)` / `posts(n)` wait (bounded) until n items arrived and return them.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WAIT = 10.0


class _Collector:
    def __init__(self) -> None:
        self._items: list[Any] = []
        self._cond = threading.Condition()

    def _add(self, item: Any) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def _wait(self, n: int, timeout: float = WAIT) -> list[Any]:
        with self._cond:
            self._cond.wait_for(lambda: len(self._items) >= n, timeout)
            return list(self._items)


class UdpListener(_Collector):
    def __init__(self) -> None:
        super().__init__()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"udp://127.0.0.1:{self.port}"
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self._add(data.decode("utf-8"))

    def lines(self, n: int, timeout: float = WAIT) -> list[str]:
        return self._wait(n, timeout)

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()


class TcpListener(_Collector):
    """Accepts connections and decodes octet-counted frames (`LEN SP MSG`)."""

    def __init__(self, port: int = 0) -> None:
        super().__init__()
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", port))
        self.server.listen(8)
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.url = f"tcp://127.0.0.1:{self.port}"
        self.connections = 0
        self.errors: list[str] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buffer = b""
        conn.settimeout(0.2)
        with conn:
            while not self._stop:
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                while b" " in buffer:
                    length, _, rest = buffer.partition(b" ")
                    if not length.isdigit():
                        self.errors.append(f"not octet counting: {buffer[:40]!r}")
                        return
                    if len(rest) < int(length):
                        break
                    self._add(rest[:int(length)].decode("utf-8"))
                    buffer = rest[int(length):]

    def lines(self, n: int, timeout: float = WAIT) -> list[str]:
        return self._wait(n, timeout)

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)
        self.server.close()


class FlowsReceiver(_Collector):
    """`POST` receiver: records `(headers, json body)`; answers `statuses` in turn, then 202."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        super().__init__()
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.statuses.pop(0) if receiver.statuses else 202
                receiver._add((self.path, dict(self.headers.items()), json.loads(body), status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1/flows"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def posts(self, n: int, timeout: float = WAIT) -> list[tuple[str, dict[str, str], Any, int]]:
        return self._wait(n, timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def udp_listener() -> Iterator[UdpListener]:
    listener = UdpListener()
    try:
        yield listener
    finally:
        listener.close()


@contextlib.contextmanager
def tcp_listener(port: int = 0) -> Iterator[TcpListener]:
    listener = TcpListener(port)
    try:
        yield listener
    finally:
        listener.close()


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
