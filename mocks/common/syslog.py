"""Syslog sending for the device mocks, and the `/_mock/syslog` endpoint that sets its target.

`SyslogSender` sends to one target, `udp://HOST:PORT` or `tcp://HOST:PORT` (optionally
`?source=IP`: the local address lines are sent from, as FortiOS `set source-ip` does; on loopback
any 127.0.0.0/8 address, so that several mocks on one host are told apart), from a background
thread, so a request handler that emits lines only queues them and never waits on the network:
- UDP: one datagram per line (the line's UTF-8 bytes, nothing added);
- TCP: RFC 6587 octet counting (`LEN SP MSG`) on one connection kept open; when connecting or
  sending fails, the connection is closed and opened again (backoff from 0.1 s doubling to 2 s)
  and the same line is sent again, so nothing queued is lost while the receiver comes back; a
  connection the receiver has closed (an idle timeout) is opened again before a line is sent on it,
  since a line written after the receiver's close would be lost without an error.
At most `max_pending` lines wait; lines beyond are dropped and counted (`stats()`).

`SyslogEndpoint` holds a mock's sender and its settings: `GET /_mock/syslog` shows them with the
counters, `POST /_mock/syslog {"target": URL, "format": F, <option>: bool}` changes those given
(`"target": null` or `""` stops sending); a reset restores the settings given at start.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import select
import socket
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mocks.common.http import Request, Response, settings_endpoint

TRANSPORTS = ("udp", "tcp")
MAX_PENDING = 100_000
BACKOFF_START = 0.1
BACKOFF_MAX = 2.0


@dataclass(frozen=True)
class SyslogTarget:
    transport: str  # udp | tcp
    host: str
    port: int
    source: str | None = None  # the local address to send from (None: the system's choice)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}://{host}:{self.port}" + (f"?source={self.source}" if self.source else "")

    @classmethod
    def parse(cls, text: str) -> SyslogTarget:
        """`udp://HOST:PORT` or `tcp://HOST:PORT` (ValueError saying what is wrong)."""
        try:
            parts = urlsplit(text.strip())
            port = parts.port
        except ValueError:
            raise ValueError(f"syslog target {text!r} has an invalid port") from None
        if parts.scheme not in TRANSPORTS:
            raise ValueError(f"syslog target {text!r} must start with udp:// or tcp://")
        if not parts.hostname or port is None or not 0 < port <= 65535:
            raise ValueError(f"syslog target {text!r} needs HOST:PORT")
        source = parts.query.removeprefix("source=") if parts.query.startswith("source=") else None
        if parts.path not in ("", "/") or (parts.query and not source):
            raise ValueError(f"syslog target {text!r} must be just {parts.scheme}://HOST:PORT[?source=IP]")
        if source is not None:
            try:
                source = str(ipaddress.ip_address(source))
            except ValueError:
                raise ValueError(f"syslog target {text!r}: source {source!r} is not an IP address") from None
        return cls(parts.scheme, parts.hostname, port, source)


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether the receiver closed (or reset) this TCP connection: it never sends, so a readable
    socket means an end of stream or an error."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def octet_counted(message: bytes) -> bytes:
    """One RFC 6587 octet-counting frame: `LEN SP MSG`."""
    return str(len(message)).encode() + b" " + message


class SyslogSender:
    """Queues lines for one target and sends them from a daemon thread (see the module doc)."""

    def __init__(self, target: SyslogTarget, max_pending: int = MAX_PENDING,
                 connect_timeout: float = 2.0) -> None:
        self.target = target
        self.max_pending = max_pending
        self.connect_timeout = connect_timeout
        self._pending: deque[bytes] = deque()
        self._busy = 0  # lines taken from the queue and not yet sent or given up
        self._cond = threading.Condition()
        self._closed = False
        self._wake = threading.Event()
        self._sock: socket.socket | None = None
        self.sent = 0
        self.dropped = 0
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name=f"syslog-{target.url}", daemon=True)
        self._thread.start()

    def send(self, lines: Iterable[str]) -> int:
        """Queue lines; returns how many were queued (the rest were dropped: queue full or closed)."""
        queued = 0
        with self._cond:
            for line in lines:
                if self._closed or len(self._pending) >= self.max_pending:
                    self.dropped += 1
                    continue
                self._pending.append(line.encode("utf-8"))
                queued += 1
            self._cond.notify_all()
        return queued

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued line is sent or given up; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self) -> None:
        """Stop the thread; lines still queued are dropped."""
        with self._cond:
            self._closed = True
            self.dropped += len(self._pending)
            self._pending.clear()
            self._cond.notify_all()
        self._wake.set()
        self._thread.join(timeout=1)  # a connect in progress ends by itself (connect_timeout)
        self._disconnect()

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {"sent": self.sent, "dropped": self.dropped, "errors": self.errors,
                    "pending": len(self._pending) + self._busy}

    # --- the thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closed)
                if self._closed:
                    return
                line = self._pending.popleft()
                self._busy += 1
            delivered = self._deliver(line)
            with self._cond:
                self._busy -= 1
                if delivered:
                    self.sent += 1
                else:
                    self.dropped += 1
                self._cond.notify_all()

    def _deliver(self, line: bytes) -> bool:
        if self.target.transport == "udp":
            try:
                sock = self._socket()
                sock.sendto(line, (self.target.host, self.target.port))
                return True
            except OSError:
                self._count_error()
                self._disconnect()
                return False
        backoff = BACKOFF_START
        frame = octet_counted(line)
        while not self._closed:
            try:
                if self._sock is not None and _closed_by_peer(self._sock):
                    self._disconnect()
                self._socket().sendall(frame)
                return True
            except OSError:
                self._count_error()
                self._disconnect()
                self._wake.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
        return False

    def _count_error(self) -> None:
        with self._cond:
            self.errors += 1

    def _socket(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        if self.target.transport == "udp":
            info = socket.getaddrinfo(self.target.host, self.target.port, type=socket.SOCK_DGRAM)[0]
            self._sock = socket.socket(info[0], socket.SOCK_DGRAM)
            if self.target.source:
                self._sock.bind((self.target.source, 0))
        else:
            self._sock = socket.create_connection((self.target.host, self.target.port),
                                                  timeout=self.connect_timeout,
                                                  source_address=(self.target.source, 0) if self.target.source
                                                  else None)
            self._sock.settimeout(self.connect_timeout)
        return self._sock

    def _disconnect(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


class SyslogEndpoint:
    """A mock's syslog settings and sender, and its `/_mock/syslog` endpoint.

    `formats`: the line formats the device offers (the first given at start is the default);
    `options`: boolean device settings that shape logging (e.g. FortiOS's implicit-deny logging),
    with their start values."""

    def __init__(self, target: SyslogTarget | None, formats: tuple[str, ...], fmt: str | None = None,
                 options: Mapping[str, bool] | None = None) -> None:
        self.formats = formats
        self._initial = (target, fmt or formats[0], dict(options or {}))
        if self._initial[1] not in formats:
            raise ValueError(f"syslog format must be one of {', '.join(formats)}, not {fmt!r}")
        self._lock = threading.Lock()
        self.sender: SyslogSender | None = None
        self.format = self._initial[1]
        self.options: dict[str, bool] = dict(self._initial[2])
        self._set_target(target)

    def option(self, name: str) -> bool:
        return self.options.get(name, False)

    def emit(self, lines: Iterable[str]) -> int:
        """Queue lines for the target; 0 (nothing sent) when there is none."""
        with self._lock:
            sender = self.sender
        return sender.send(lines) if sender is not None else 0

    def reset(self) -> None:
        target, fmt, options = self._initial
        with self._lock:
            self.format, self.options = fmt, dict(options)
        self._set_target(target)

    def close(self) -> None:
        self._set_target(None)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            sender = self.sender
            out: dict[str, Any] = {"target": sender.target.url if sender else None, "format": self.format,
                                   "formats": list(self.formats), **self.options}
        out.update(sender.stats() if sender else {"sent": 0, "dropped": 0, "errors": 0, "pending": 0})
        return out

    def route(self, request: Request) -> Response | None:
        """Serve `/_mock/syslog`; None for other paths."""
        return settings_endpoint(request, "/_mock/syslog", self._configure, self.describe)

    def _configure(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise ValueError("a JSON object: {\"target\": \"udp://HOST:PORT\" or null, \"format\": ...}")
        known = {"target", "format", *self.options}
        unknown = sorted(set(body) - known)
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
        fmt = body.get("format", self.format)
        if fmt not in self.formats:
            raise ValueError(f"format must be one of {', '.join(self.formats)}, not {fmt!r}")
        for name in self.options:
            if name in body and not isinstance(body[name], bool):
                raise ValueError(f"{name} must be true or false")
        target: SyslogTarget | None = None
        change_target = "target" in body
        if change_target and body["target"] not in (None, ""):
            if not isinstance(body["target"], str):
                raise ValueError("target must be a string udp://HOST:PORT or tcp://HOST:PORT")
            target = SyslogTarget.parse(body["target"])
        with self._lock:
            self.format = fmt
            self.options.update({name: body[name] for name in self.options if name in body})
        if change_target:
            self._set_target(target)

    def _set_target(self, target: SyslogTarget | None) -> None:
        with self._lock:
            old = self.sender
            if old is not None and target is not None and old.target == target:
                return
            self.sender = SyslogSender(target) if target is not None else None
        if old is not None:
            old.close()


def syslog_target_argument(text: str) -> SyslogTarget:
    """argparse type for `--syslog udp://HOST:PORT|tcp://HOST:PORT`."""
    try:
        return SyslogTarget.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
