"""`FlowPipeline`: flow lines in (the syslog receiver's sink, `POST /v1/flows`), attributed records
stored and signalled.

Contract:
- `submit(lines)` never blocks: it queues the lines and returns how many were taken. At most
  `max_pending_lines` lines wait at once (default 20,000, as many as the receiver's queue holds
  raw, so a full receiver queue fits; parsed lines take about 0.5 kB each, 10 MB in all); lines
  beyond that are shed and counted per device (`fusion_connector_flow_lines_shed_total`).
- One worker thread takes the waiting lines in batches of at most `max_batch_lines`, attributes
  them (`attribute`), stores the records (`store`: one transaction per batch), counts them
  (`FlowMetrics.records`), hands them to the forwarder (never blocks), to the denied-flow Events
  (only counts) and to every subscriber (`subscribe(callback)`), in that order. A stage that
  raises is counted (`fusion_connector_flow_errors_total{stage}`) and logged; a failed
  attribution drops the batch, a failed store or subscriber does not stop the other stages.
- A housekeeping thread flushes the denied-flow Events every `events_every` seconds and prunes
  (`prune(before)`, with `before` = now - `retention`) every `prune_every` seconds.
- `drain(timeout)` waits until every line submitted so far is processed; `stop(timeout)` stops
  taking lines, processes what waits for at most `timeout` seconds, and stops both threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from connector.flows.denied_events import DeniedEvents
from connector.flows.forward import Forwarder
from connector.flows.metrics import FlowMetrics
from connector.flows.record import FlowLine, FlowRecord

log = logging.getLogger(__name__)

Attribute = Callable[[Sequence[FlowLine]], list[FlowRecord]]
StoreRecords = Callable[[Sequence[FlowRecord]], None]
Subscriber = Callable[[Sequence[FlowRecord]], None]
Prune = Callable[[datetime], None]

MAX_PENDING_LINES = 20_000
MAX_BATCH_LINES = 5_000
PRUNE_EVERY = 300.0
EVENTS_EVERY = 5.0


class FlowPipeline:
    """See the module docstring."""

    def __init__(self, attribute: Attribute, store: StoreRecords, metrics: FlowMetrics, *,
                 forwarder: Forwarder | None = None, denied: DeniedEvents | None = None,
                 prune: Prune | None = None, retention: float = 7 * 86400.0,
                 prune_every: float = PRUNE_EVERY, events_every: float = EVENTS_EVERY,
                 max_pending_lines: int = MAX_PENDING_LINES, max_batch_lines: int = MAX_BATCH_LINES,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.attribute = attribute
        self.store = store
        self.metrics = metrics
        self.forwarder = forwarder
        self.denied = denied
        self.prune = prune
        self.retention = retention
        self.prune_every = prune_every
        self.events_every = events_every
        self.max_pending_lines = max_pending_lines
        self.max_batch_lines = max_batch_lines
        self.now = now
        self.processed = 0  # lines processed (attributed or dropped by a failed stage)
        self._subscribers: list[Subscriber] = []
        self._pending: deque[FlowLine] = deque()
        self._submitted = 0
        self._done = 0
        self._cond = threading.Condition()
        self._accepting = True
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._work, name="flow-pipeline", daemon=True)
        self._housekeeper = threading.Thread(target=self._housekeep, name="flow-housekeeping",
                                             daemon=True)

    # ------------------------------------------------------------------ in
    def subscribe(self, callback: Subscriber) -> None:
        """Call `callback(records)` with every batch of attributed records (on the worker thread:
        keep it quick; an exception is counted and logged, never raised)."""
        with self._cond:
            self._subscribers = [*self._subscribers, callback]

    def submit(self, lines: Sequence[FlowLine]) -> int:
        """Queue `lines`; returns how many were taken (the rest are shed and counted)."""
        if not lines:
            return 0
        with self._cond:
            room = self.max_pending_lines - len(self._pending) if self._accepting else 0
            taken = list(lines[:max(0, room)])
            self._pending.extend(taken)
            self._submitted += len(taken)
            if taken:
                self._cond.notify_all()
        if len(taken) < len(lines):
            for device, n in Counter(line.device for line in lines[len(taken):]).items():
                self.metrics.line_result(device, "shed", n)
        return len(taken)

    def count(self, device: str, result: str, n: int) -> None:
        """The receiver's `count` callback: lines `malformed`, `rejected` or `shed` before parsing."""
        self.metrics.line_result(device, result, n)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FlowPipeline:
        self._worker.start()
        self._housekeeper.start()
        if self.forwarder is not None:
            self.forwarder.start()
        return self

    def drain(self, timeout: float) -> bool:
        """Wait until every line submitted so far is processed; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._submitted
            while self._done < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking lines, process those waiting for up to `timeout` seconds, stop."""
        with self._cond:
            if not self._accepting:
                return
            self._accepting = False
        self.drain(timeout)
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._worker.is_alive():
            self._worker.join(timeout)
        if self._housekeeper.is_alive():
            self._housekeeper.join(timeout)
        if self.denied is not None:
            self._guard("events", self.denied.flush)
        if self.forwarder is not None:
            self.forwarder.stop(min(timeout, 2.0))

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    # ------------------------------------------------------------------ the worker
    def _take(self) -> list[FlowLine]:
        with self._cond:
            while not self._pending and not self._stopping.is_set():
                self._cond.wait(1.0)
            n = min(len(self._pending), self.max_batch_lines)
            return [self._pending.popleft() for _ in range(n)]

    def _work(self) -> None:
        while not self._stopping.is_set():
            batch = self._take()
            if not batch:
                continue
            try:
                self.process(batch)
            finally:
                with self._cond:
                    self._done += len(batch)
                    self.processed += len(batch)
                    self._cond.notify_all()

    def process(self, batch: Sequence[FlowLine]) -> list[FlowRecord]:
        """Attribute, store and signal one batch (the worker's step; see the module docstring)."""
        try:
            records = self.attribute(batch)
        except Exception:
            log.exception("attributing %d flow line(s) failed; dropped", len(batch))
            self.metrics.errors.labels("attribute").inc()
            return []
        self._guard("store", lambda: self.store(records))
        self.metrics.records(records)
        if self.forwarder is not None:
            self.forwarder.send(records)
        if self.denied is not None:
            denied = self.denied
            self._guard("events", lambda: denied.observe(records))
        for subscriber in self._subscribers:
            self._guard("subscriber", lambda: subscriber(records))  # noqa: B023 (called at once)
        return records

    def _guard(self, stage: str, work: Callable[[], object]) -> bool:
        try:
            work()
            return True
        except Exception:
            log.exception("flow %s failed", stage)
            self.metrics.errors.labels(stage).inc()
            return False

    # ------------------------------------------------------------------ housekeeping
    def _housekeep(self) -> None:
        last_prune = time.monotonic()
        if self.prune is not None:
            self._prune()
        while not self._stopping.wait(min(self.events_every, self.prune_every)):
            if self.denied is not None:
                self._guard("events", self.denied.flush)
            if self.prune is not None and time.monotonic() - last_prune >= self.prune_every:
                last_prune = time.monotonic()
                self._prune()

    def _prune(self) -> None:
        assert self.prune is not None
        prune = self.prune
        before = self.now() - timedelta(seconds=self.retention)
        self._guard("prune", lambda: prune(before))
