"""Forwarding attributed records to a SIEM over TCP (`flows.forward`).

`encode_json(record)` is one JSON line (the record of docs/flows.md); `encode_cef(record)` one CEF
line (ArcSight Common Event Format: header escapes `\\|` and `\\\\`, extension escapes `\\=`,
`\\\\`, `\\n`, `\\r`), each ending in a newline: the stream is newline-framed.

`Forwarder(address, encode)` owns one sender thread and a bounded buffer: `send(records)` encodes
and queues, never blocks and never raises; when the buffer is full the oldest queued records are
dropped and counted (`dropped`), so a SIEM that is down or too slow costs memory up to the bound,
never the pipeline's time. The thread connects, writes, and on any failure closes the socket and
reconnects after a backoff doubling from `backoff_base` to `backoff_cap` seconds. A record whose
write failed part-way is dropped and counted, not resent (a SIEM may have read a part of it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import threading
from collections import deque
from collections.abc import Callable, Sequence

from connector import __version__
from connector.flows.record import FlowRecord, rfc3339

log = logging.getLogger(__name__)

Encoder = Callable[[FlowRecord], bytes]

MAX_BUFFERED = 10_000
CONNECT_TIMEOUT = 5.0
WRITE_TIMEOUT = 10.0

_PROTOCOL_NUMBERS = {"ICMP": "1", "TCP": "6", "UDP": "17", "SCTP": "132", "ICMPV6": "58"}


def encode_json(record: FlowRecord) -> bytes:
    """The record as one JSON line."""
    return (json.dumps(record.to_json(), separators=(",", ":"), sort_keys=True) + "\n").encode()


def _cef_header(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _cef_value(text: str) -> str:
    return (text.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n")
            .replace("\r", "\\r"))


def encode_cef(record: FlowRecord) -> bytes:
    """The record as one CEF line: `rt` (epoch milliseconds), `src`/`spt`/`dst`/`dpt`, `proto`
    (IANA number when known), `act` (allow|deny), `dvchost` (the device), `cnt`, and custom
    strings: cs1 namespace, cs2 pod, cs3 Services, cs4 deciding rule (KIND/NAMESPACE/NAME),
    cs5 the device's own rule, cs6 `ambiguous` when the owner changed within the clock skew."""
    line, identity, rule = record.line, record.identity, record.rule
    name = "Egress allowed" if line.action == "Allow" else "Egress denied"
    severity = "3" if line.action == "Allow" else "6"
    header = "|".join(["CEF:0", "fusion-connector", "fusion-connector", _cef_header(__version__),
                       f"flow-{line.action.lower()}", name, severity])
    fields: list[tuple[str, str]] = [
        ("rt", str(int(line.time.timestamp() * 1000))),
        ("src" if ":" not in line.src else "c6a2", line.src),
        ("dst" if ":" not in line.dst else "c6a3", line.dst),
        ("proto", _PROTOCOL_NUMBERS.get(line.protocol.upper(), line.protocol)),
        ("act", line.action.lower()),
        ("dvchost", line.device),
        ("cnt", str(line.count)),
    ]
    if line.src_port is not None:
        fields.append(("spt", str(line.src_port)))
    if line.dst_port is not None:
        fields.append(("dpt", str(line.dst_port)))
    if identity is not None:
        fields += [("cs1Label", "namespace"), ("cs1", identity.namespace)]
        if identity.pod:
            fields += [("cs2Label", "pod"), ("cs2", identity.pod)]
        if identity.services:
            fields += [("cs3Label", "services"), ("cs3", ",".join(identity.services))]
    if rule is not None:
        fields += [("cs4Label", "rule"), ("cs4", f"{rule.kind}/{rule.namespace}/{rule.name}")]
    device_rule = line.device_rule if line.device_rule is not None else line.device_rule_id
    if device_rule is not None:
        fields += [("cs5Label", "deviceRule"), ("cs5", device_rule)]
    if record.ambiguous:
        fields += [("cs6Label", "attribution"), ("cs6", "ambiguous")]
    fields.append(("end", rfc3339(line.time)))
    extension = " ".join(f"{key}={_cef_value(value)}" for key, value in fields)
    return (header + "|" + extension + "\n").encode()


ENCODERS: dict[str, Encoder] = {"json": encode_json, "cef": encode_cef}


class Forwarder:
    """Sends encoded records to `address` over TCP (see the module docstring). `on_sent(n)` and
    `on_dropped(n)` are told how many records went out or were dropped."""

    def __init__(self, address: tuple[str, int], encode: Encoder, *,
                 max_buffered: int = MAX_BUFFERED, backoff_base: float = 0.5, backoff_cap: float = 30.0,
                 on_sent: Callable[[int], None] = lambda n: None,
                 on_dropped: Callable[[int], None] = lambda n: None) -> None:
        self.address = address
        self.encode = encode
        self.max_buffered = max_buffered
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.on_sent = on_sent
        self.on_dropped = on_dropped
        self.sent = 0
        self.dropped = 0
        self.connected = False
        self._buffer: deque[bytes] = deque()
        self._ready = threading.Condition()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flow-forward", daemon=True)
        self._socket: socket.socket | None = None

    def start(self) -> Forwarder:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sending; records still buffered after `timeout` seconds of trying are dropped."""
        self._stopping.set()
        with self._ready:
            self._ready.notify_all()
        self._thread.join(timeout)
        self._close()
        with self._ready:
            left = len(self._buffer)
            self._buffer.clear()
        self._drop(left)

    @property
    def buffered(self) -> int:
        with self._ready:
            return len(self._buffer)

    def send(self, records: Sequence[FlowRecord]) -> None:
        """Queue `records` (never blocks; the oldest are dropped beyond the bound)."""
        if not records or self._stopping.is_set():
            return
        encoded = []
        for record in records:
            try:
                encoded.append(self.encode(record))
            except Exception:  # a record that cannot be encoded is dropped, never raised
                log.warning("a flow record could not be encoded for forwarding", exc_info=True)
                self._drop(1)
        with self._ready:
            self._buffer.extend(encoded)
            overflow = len(self._buffer) - self.max_buffered
            for _ in range(max(0, overflow)):
                self._buffer.popleft()
            self._ready.notify()
        self._drop(max(0, overflow))

    def _drop(self, n: int) -> None:
        if n > 0:
            self.dropped += n
            self.on_dropped(n)

    def _take(self) -> list[bytes]:
        with self._ready:
            while not self._buffer and not self._stopping.is_set():
                self._ready.wait(1.0)
            taken = list(self._buffer)
            self._buffer.clear()
            return taken

    def _run(self) -> None:
        delay = self.backoff_base
        while not self._stopping.is_set():
            if self._socket is None:
                try:
                    self._socket = socket.create_connection(self.address, timeout=CONNECT_TIMEOUT)
                    self._socket.settimeout(WRITE_TIMEOUT)
                    self.connected = True
                    log.info("forwarding flow records to %s:%d", *self.address)
                    delay = self.backoff_base
                except OSError as exc:
                    log.warning("flow forward to %s:%d: cannot connect (%s); retrying in %.1fs",
                                self.address[0], self.address[1], exc, delay)
                    self._stopping.wait(delay)
                    delay = min(self.backoff_cap, delay * 2)
                    continue
            chunk = self._take()
            if chunk:
                self._write(chunk)

    def _peer_closed(self) -> bool:
        """Whether the SIEM closed the connection (readable with nothing to read)."""
        assert self._socket is not None
        try:
            readable, _, _ = select.select([self._socket], [], [], 0)
            if not readable:
                return False
            return self._socket.recv(4096, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _write(self, chunk: list[bytes]) -> None:
        assert self._socket is not None
        if self._peer_closed():
            self._close()
            log.warning("flow forward to %s:%d: the connection was closed; reconnecting", *self.address)
            with self._ready:
                self._buffer.extendleft(reversed(chunk))
            self._stopping.wait(self.backoff_base)
            return
        sent = 0
        for index, data in enumerate(chunk):
            try:
                self._socket.sendall(data)
            except OSError as exc:
                log.warning("flow forward to %s:%d failed (%s); reconnecting", self.address[0],
                            self.address[1], exc)
                self._close()
                with self._ready:  # the failed one is dropped; the rest wait for the next connection
                    self._buffer.extendleft(reversed(chunk[index + 1:]))
                    overflow = len(self._buffer) - self.max_buffered
                    for _ in range(max(0, overflow)):
                        self._buffer.popleft()
                self._drop(1 + max(0, overflow))
                break
            sent += 1
        if sent:
            self.sent += sent
            self.on_sent(sent)

    def _close(self) -> None:
        self.connected = False
        sock, self._socket = self._socket, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
