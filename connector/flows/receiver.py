"""The syslog flow receiver: UDP and TCP on one port, listed senders only, bounded under load.

`SyslogReceiver` runs two background threads. The I/O thread reads UDP datagrams (one message each;
LF-separated messages in one datagram are split) and TCP streams (RFC 6587 framing, at most
`max_connections` at a time, each closed after `idle_timeout` seconds without data), accepts a
message only from an address of a listed `Sender`, and queues it raw; it never parses and never
blocks. The worker thread parses each queued message in its sender's format (syslog header, then
the format's parser) and hands the FlowLines to `sink` in batches. `sink`, `count` and `closed` are
only ever called from the worker thread (and by `stop`).

Counted through `count(device, result, n)` (device "unknown" for an unlisted sender):
- `rejected`: a datagram or a TCP connection from an unlisted address (dropped / closed at once);
- `malformed`: a message its parser refused, or longer than `max_line_bytes` (skipped; a TCP
  connection carries on with its next frame), or from a sender whose format is unknown;
- `staged`: a match of a staged (audit) policy, which the device logged but did not enforce
  (`StagedMatch`, BIG-IP AFM `acl_policy_type="Staged"`): dropped, never a flow record;
- `shed`: a message dropped because `max_pending_lines` messages already wait for the worker.
Connections of listed senders the receiver closes are counted through `closed(device, reason, n)`:
- `limit`: a connection accepted while `max_connections` are open, closed at once (the open ones
  go on);
- `idle`: a connection that carried no data for `idle_timeout` seconds (None: never closed for
  that), e.g. a sender gone silent or a peer that vanished without closing; a sender that has more
  to say connects again. What it had sent is read first, and what is left in its framing buffer is
  handled as when the peer closes (a last newline frame without its LF is taken).
The idle check runs on the I/O thread at most every `idle_timeout / 2` seconds (at most 0.5 s
apart), and costs only the connections it closes: connections are kept in the order of their last
data. A failing `sink`
is logged (without the lines) and the receiver goes on. Raw lines are logged only at DEBUG, cut to
200 characters.

Memory is bounded: at most `max_pending_lines` raw messages (default `MAX_PENDING_LINES`, 20,000:
about 16 MB of 700-byte lines, a few seconds of a busy firewall) of at most `max_line_bytes` each wait,
plus per TCP connection one read and a framing buffer of about `max_line_bytes`. Under overload the
worker (which holds the GIL while parsing) hands it to the I/O thread every 64 lines when datagrams
wait in the kernel, so that excess lines are shed and counted here rather than lost unseen when
the socket's buffer overflows (UDP; TCP pushes back on the sender instead).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import ipaddress
import logging
import selectors
import socket
import termios
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from connector.flows.parsers import PARSERS, MalformedLine, Parser, StagedMatch
from connector.flows.record import FlowLine
from connector.flows.syslog import FrameDecoder, parse_syslog

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
_READ_BYTES = 65536
_UDP_BURST = 1024  # datagrams read per readiness before looking at the other sockets
_BATCH = 1000
MAX_PENDING_LINES = 20_000  # like the pipeline's queue (connector/flows/pipeline.py), which follows
MAX_CONNECTIONS = 256
IDLE_TIMEOUT = 300.0  # seconds a TCP connection may stay silent
_TICK = 0.5  # longest wait on the sockets, and longest gap between idle checks
_DEBUG_CHARS = 200
_RECEIVE_BUFFER = 4 * 1024 * 1024  # asked for; Linux caps it at net.core.rmem_max
_YIELD_EVERY = 64  # lines the worker parses between offering the GIL to the I/O thread
_YIELD_SECONDS = 0.0002


@dataclass(frozen=True)
class Sender:
    """A device allowed to send logs: its name, its source addresses (IPs or CIDR networks) and
    its log format (a key of connector.flows.parsers.PARSERS)."""

    device: str
    addresses: tuple[str, ...]
    format: str


class _Source:
    """A listed sender as the threads use it: its device, format and parser (None: unknown)."""

    __slots__ = ("device", "format", "parser")

    def __init__(self, sender: Sender) -> None:
        self.device = sender.device
        self.format = sender.format
        self.parser: Parser | None = PARSERS.get(sender.format)


class _Senders:
    """Source address -> _Source (exact addresses first, then networks)."""

    def __init__(self, senders: Sequence[Sender]) -> None:
        self._exact: dict[str, _Source] = {}
        self._networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, _Source]] = []
        for listed in senders:
            sender = _Source(listed)
            if sender.parser is None:
                log.warning("flows sender %s: unknown log format %r (known: %s); its lines are counted "
                            "malformed", sender.device, sender.format, ", ".join(sorted(PARSERS)))
            for entry in listed.addresses:
                try:
                    if "/" in entry:
                        self._networks.append((ipaddress.ip_network(entry, strict=False), sender))
                    else:
                        self._exact[str(ipaddress.ip_address(entry))] = sender
                except ValueError:
                    raise ValueError(f"flows sender {sender.device!r}: {entry!r} is not an IP address "
                                     "or network") from None

    def find(self, host: str) -> _Source | None:
        sender = self._exact.get(host)
        if sender is not None or not (self._networks or host.startswith("::ffff:")):
            return sender
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
            sender = self._exact.get(str(address))
            if sender is not None:
                return sender
        for network, candidate in self._networks:
            if address.version == network.version and address in network:
                return candidate
        return None


class _Tally:
    """Counts gathered by the I/O thread, handed to `count` by the worker."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def add(self, device: str, result: str, n: int = 1) -> None:
        with self._lock:
            key = (device, result)
            self._counts[key] = self._counts.get(key, 0) + n

    def take(self) -> dict[tuple[str, str], int]:
        with self._lock:
            counts, self._counts = self._counts, {}
        return counts


class SyslogReceiver:
    """Receives firewall traffic logs over syslog and hands parsed FlowLines to `sink`."""

    def __init__(self, listen: tuple[str, int], senders: Sequence[Sender],
                 sink: Callable[[list[FlowLine]], None], *,
                 count: Callable[[str, str, int], None],
                 max_line_bytes: int = 8192, max_pending_lines: int = MAX_PENDING_LINES,
                 max_connections: int = MAX_CONNECTIONS, idle_timeout: float | None = IDLE_TIMEOUT,
                 closed: Callable[[str, str, int], None] | None = None,
                 batch_size: int = _BATCH) -> None:
        if max_line_bytes < 1 or max_pending_lines < 1 or max_connections < 1 or batch_size < 1:
            raise ValueError("max_line_bytes, max_pending_lines, max_connections and batch_size "
                             "must be positive")
        if idle_timeout is not None and not idle_timeout > 0:
            raise ValueError("idle_timeout must be positive (None: no idle timeout)")
        self._listen = listen
        self._senders = _Senders(senders)
        self._sink = sink
        self._count = count
        self._max_line = max_line_bytes
        self._max_pending = max_pending_lines
        self._max_connections = max_connections
        self._idle = idle_timeout
        self._tick = _TICK if idle_timeout is None else min(_TICK, idle_timeout / 2)
        self._closed = closed
        self._closures = _Tally()
        self._batch = batch_size
        self._pending: deque[tuple[_Source, bytes]] = deque()
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._tally = _Tally()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._waker: tuple[socket.socket, socket.socket] | None = None
        self._connections: dict[socket.socket, tuple[_Source, FrameDecoder]] = {}
        self._last_data: dict[socket.socket, float] = {}  # monotonic time, oldest first
        self._address: tuple[str, int] | None = None

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) bound, once started."""
        if self._address is None:
            raise RuntimeError("the receiver is not started")
        return self._address

    @property
    def pending_lines(self) -> int:
        """Messages read and waiting for the worker."""
        return len(self._pending)

    @property
    def open_connections(self) -> int:
        """TCP connections open now."""
        return len(self._connections)

    # ---- lifecycle

    def start(self) -> None:
        """Binds UDP and TCP on the same port (port 0: one free port for both) and starts the
        threads. OSError when the port cannot be bound."""
        if self._threads:
            raise RuntimeError("the receiver is already started")
        host, port = self._listen
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._tcp, self._udp = _bind_pair(family, host, port)
        bound = self._tcp.getsockname()
        self._address = (bound[0], bound[1])
        self._selector = selectors.DefaultSelector()
        self._waker = socket.socketpair()
        for sock in (self._tcp, self._udp, self._waker[0]):
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ)
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=self._io_loop, name="flows-syslog-io", daemon=True),
            threading.Thread(target=self._work_loop, name="flows-syslog-worker", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        log.info("flows: receiving syslog on %s:%d (UDP and TCP)", *self._address)

    def stop(self, timeout: float = 5.0) -> None:
        """Stops reading, lets the worker finish its batch, counts what still waited as `shed`,
        closes every socket and joins the threads."""
        if not self._threads:
            return
        self._stopping.set()
        self._wake.set()
        if self._waker is not None:
            with contextlib.suppress(OSError):
                self._waker[1].send(b"\0")
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        for sock in [self._tcp, self._udp, *self._connections, *(self._waker or ())]:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        self._connections.clear()
        self._last_data.clear()
        if self._selector is not None:
            self._selector.close()
        self._tcp = self._udp = self._selector = self._waker = None
        with self._pending_lock:
            left = list(self._pending)
            self._pending.clear()
        for sender, _ in left:
            self._tally.add(sender.device, "shed")
        self._flush_counts()

    # ---- I/O thread

    def _io_loop(self) -> None:
        selector = self._selector
        assert selector is not None
        next_check = time.monotonic() + self._tick
        while not self._stopping.is_set():
            if self._idle is not None and time.monotonic() >= next_check:
                self._close_idle(time.monotonic() - self._idle)
                next_check = time.monotonic() + self._tick
            try:
                events = selector.select(timeout=self._tick)
            except (OSError, ValueError):
                if self._stopping.is_set():
                    return
                log.exception("flows: waiting on the syslog sockets failed; trying again")
                time.sleep(0.1)
                continue
            for key, _ in events:
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    if sock is self._udp:
                        self._read_udp(sock)
                    elif sock is self._tcp:
                        self._accept(sock)
                    elif self._waker is not None and sock is self._waker[0]:
                        with contextlib.suppress(OSError):
                            sock.recv(64)
                    else:
                        self._read_tcp(sock)
                except Exception:  # a bad peer never stops the receiver
                    log.exception("flows: error reading a syslog socket")
                    if sock in self._connections:
                        self._close(sock)

    def _read_udp(self, sock: socket.socket) -> None:
        for _ in range(_UDP_BURST):
            try:
                data, peer = sock.recvfrom(_READ_BYTES)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # e.g. ICMP port unreachable reported on the socket
                log.debug("flows: UDP receive error: %s", error)
                return
            sender = self._senders.find(peer[0])
            if sender is None:
                self._tally.add(UNKNOWN, "rejected")
                continue
            if b"\n" in data.rstrip(b"\r\n\0"):
                frames = [frame for frame in data.split(b"\n") if frame.strip(b"\r\0")]
            else:
                frames = [data]
            for frame in frames:
                if len(frame) > self._max_line:
                    self._tally.add(sender.device, "malformed")
                    log.debug("flows: %d-byte message from %s over the %d-byte limit", len(frame),
                              sender.device, self._max_line)
                else:
                    self._offer(sender, frame)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, peer = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # EMFILE and the like: pause rather than spin, then try again
                log.warning("flows: cannot accept a syslog connection: %s", error)
                time.sleep(0.1)
                return
            sender = self._senders.find(peer[0])
            if sender is None:
                self._tally.add(UNKNOWN, "rejected")
                conn.close()
                continue
            if len(self._connections) >= self._max_connections:
                log.warning("flows: %s connection refused: %d syslog connections already open",
                            sender.device, self._max_connections)
                self._closures.add(sender.device, "limit")
                conn.close()
                continue
            conn.setblocking(False)
            self._connections[conn] = (sender, FrameDecoder(self._max_line))
            self._last_data[conn] = time.monotonic()
            assert self._selector is not None
            self._selector.register(conn, selectors.EVENT_READ)

    def _read_tcp(self, conn: socket.socket) -> None:
        sender, decoder = self._connections[conn]
        try:
            data = conn.recv(_READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            del self._last_data[conn]  # to the end: the order of last data
            self._last_data[conn] = time.monotonic()
        self._deliver(sender, decoder, decoder.feed(data) if data else decoder.finish())
        if not data:
            self._close(conn)

    def _deliver(self, sender: _Source, decoder: FrameDecoder, frames: list[bytes]) -> None:
        """Queue a connection's frames and count those its decoder skipped as oversized."""
        if decoder.oversized:
            self._tally.add(sender.device, "malformed", decoder.oversized)
            log.debug("flows: %d frame(s) from %s over the %d-byte limit skipped", decoder.oversized,
                      sender.device, self._max_line)
            decoder.oversized = 0
        for frame in frames:
            self._offer(sender, frame)

    def _close_idle(self, deadline: float) -> None:
        """Close the connections whose last data came before `deadline` (monotonic), after
        reading what waits on them (which makes them active again)."""
        expired = []
        for conn, last in self._last_data.items():
            if last >= deadline:
                break
            expired.append(conn)
        for conn in expired:
            try:
                self._read_tcp(conn)
            except Exception:  # the peer's trouble ends the connection anyway
                log.debug("flows: reading an idle syslog connection failed", exc_info=True)
            seen = self._last_data.get(conn)
            if seen is None or seen >= deadline:
                continue  # closed by its peer, or data came
            sender, decoder = self._connections[conn]
            self._deliver(sender, decoder, decoder.finish())
            log.info("flows: closing a syslog connection of %s idle for %gs", sender.device, self._idle)
            self._closures.add(sender.device, "idle")
            self._close(conn)

    def _close(self, conn: socket.socket) -> None:
        self._connections.pop(conn, None)
        self._last_data.pop(conn, None)
        if self._selector is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(conn)
        with contextlib.suppress(OSError):
            conn.close()

    def _offer(self, sender: _Source, frame: bytes) -> None:
        pending = self._pending
        with self._pending_lock:
            size = len(pending)
            if size < self._max_pending:
                pending.append((sender, frame))
        if size >= self._max_pending:
            self._tally.add(sender.device, "shed")
        elif size == 0:  # the worker drains until empty: only an empty queue needs waking it
            self._wake.set()

    # ---- worker thread

    def _work_loop(self) -> None:
        last_flush = time.monotonic()
        while True:
            self._wake.wait(0.5)
            self._wake.clear()
            while not self._stopping.is_set():
                with self._pending_lock:
                    take = min(self._batch, len(self._pending))
                    batch = [self._pending.popleft() for _ in range(take)]
                if not batch:
                    break
                self._handle(batch)
                if time.monotonic() - last_flush > 0.5:
                    self._flush_counts()
                    last_flush = time.monotonic()
            self._flush_counts()
            last_flush = time.monotonic()
            if self._stopping.is_set():
                return

    def _handle(self, batch: list[tuple[_Source, bytes]]) -> None:
        lines: list[FlowLine] = []
        malformed: dict[str, int] = {}
        staged: dict[str, int] = {}
        for index, (sender, frame) in enumerate(batch):
            if not index % _YIELD_EVERY:
                self._yield_to_readers()
            text = frame.decode("utf-8", "replace")
            parser = sender.parser
            try:
                if parser is None:
                    raise MalformedLine(f"unknown log format {sender.format!r}")
                message = parse_syslog(text)
                lines.append(parser(message.body, sender.device, message.time))
            except StagedMatch:
                staged[sender.device] = staged.get(sender.device, 0) + 1
            except MalformedLine as error:
                malformed[sender.device] = malformed.get(sender.device, 0) + 1
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("flows: malformed line from %s (%s): %.*s", sender.device, error,
                              _DEBUG_CHARS, text)
            except Exception:  # a parser bug must not stop the receiver
                malformed[sender.device] = malformed.get(sender.device, 0) + 1
                log.exception("flows: the %s parser failed on a line from %s", sender.format,
                              sender.device)
        for device, n in malformed.items():
            self._tally.add(device, "malformed", n)
        for device, n in staged.items():
            self._tally.add(device, "staged", n)
        if lines:
            try:
                self._sink(lines)
            except Exception:
                log.exception("flows: the flow sink failed on %d lines; they are dropped", len(lines))

    def _yield_to_readers(self) -> None:
        """Give the I/O thread the GIL when datagrams wait in the kernel, so that under overload
        lines are shed (and counted) rather than dropped unseen by a full socket buffer."""
        udp = self._udp
        if udp is None:
            return
        try:
            waiting = fcntl.ioctl(udp.fileno(), termios.FIONREAD, b"\0\0\0\0")
        except OSError:
            return
        if waiting != b"\0\0\0\0":
            time.sleep(_YIELD_SECONDS)  # a real sleep: sleep(0) hands the GIL over too rarely

    def _flush_counts(self) -> None:
        for (device, result), n in self._tally.take().items():
            try:
                self._count(device, result, n)
            except Exception:
                log.exception("flows: counting %s lines failed", result)
        for (device, reason), n in self._closures.take().items():
            if self._closed is None:
                continue
            try:
                self._closed(device, reason, n)
            except Exception:
                log.exception("flows: counting connections closed (%s) failed", reason)


def _bind_pair(family: socket.AddressFamily, host: str, port: int) -> tuple[socket.socket, socket.socket]:
    """A TCP listener and a UDP socket on the same port; with port 0, a port free for both."""
    attempts = 20 if port == 0 else 1
    for attempt in range(attempts):
        tcp = socket.socket(family, socket.SOCK_STREAM)
        udp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((host, port))
            tcp.listen(128)
            bound = tcp.getsockname()[1]
            with contextlib.suppress(OSError):
                udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
            udp.bind((host, bound))
            return tcp, udp
        except OSError as error:
            tcp.close()
            udp.close()
            if error.errno != errno.EADDRINUSE or attempt == attempts - 1:
                raise
    raise OSError(errno.EADDRINUSE, "no port free for both UDP and TCP")  # pragma: no cover
