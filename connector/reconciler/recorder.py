"""`Recorder`: records device syncs in the store off the devices' latency path.

Contract:
- `submit(device, state, outcome, ...)` queues a record job and returns at once (a device worker
  goes on as soon as its device holds the change); the job is stamped with the submission time,
  which the store records as the time of the sync.
- Jobs of one device are recorded in submission order, one device by one thread at a time;
  different devices are recorded concurrently by up to `threads` threads. No lock is held while
  the store works, except the database's own (SQLite serializes writers with its busy timeout,
  PostgreSQL runs them concurrently).
- Each job is one transaction. Jobs of one device that queued up while the store was busy are
  coalesced into one transaction (up to `batch`), recorded one after another in it, so no audit
  entry is lost; if that transaction fails, they are retried one transaction each.
- A job that fails is logged and skipped; the thread goes on. The device's next recorded job that
  writes ownership records then replaces them in full (the failed job's changes are repaired),
  and compares its rules again.
- Bounded: at most `max_pending` jobs per device wait. When a device's queue is full, `submit`
  blocks (backpressure: the worker then waits for the store as if it recorded itself) for up to
  `submit_timeout` seconds; after that the job is dropped with an error log, and the device's
  ownership records are repaired as after a failure.
- A device's compiled rules are compared with the store only when its rules tuple is not the one
  this recorder last recorded for it (the compiler keeps the very tuple while only group members
  change), or when the sync read the device.
- `flush(timeout)` waits until every job submitted before it is recorded (or failed);
  `stop(timeout)` flushes, then ends the threads; jobs submitted after `stop` are dropped with a
  warning.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from connector.model import CompiledRule, DeviceState
from connector.reconciler.device import DeviceOutcome
from connector.reconciler.record import record_outcome
from connector.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordJob:
    """One sync to record: the state synced, its outcome, whether it was an apply, the triggers,
    when it was submitted (UTC) and its place in the submission order."""

    device: str
    state: DeviceState
    outcome: DeviceOutcome
    apply: bool
    triggers: tuple[str, ...]
    at: datetime
    seq: int


@dataclass
class RecorderStats:
    """Counts since start: jobs recorded, failed (logged and skipped), dropped (queue full or
    stopped), and transactions committed."""

    recorded: int = 0
    failed: int = 0
    dropped: int = 0
    transactions: int = 0


class Recorder:
    """Records sync outcomes of one cluster on background threads (see the module docstring)."""

    def __init__(self, sessions: sessionmaker[Session], cluster: str, *, threads: int = 2,
                 max_pending: int = 1000, batch: int = 50, submit_timeout: float = 30.0) -> None:
        if threads < 1 or max_pending < 1 or batch < 1:
            raise ValueError("threads, max_pending and batch must be positive")
        self._sessions = sessions
        self.cluster = cluster
        self.threads = threads
        self.max_pending = max_pending
        self.batch = batch
        self.submit_timeout = submit_timeout
        self.stats = RecorderStats()
        self._cond = threading.Condition()
        self._queues: dict[str, deque[RecordJob]] = {}
        self._ready: deque[str] = deque()  # devices with queued jobs and no thread on them
        self._busy: set[str] = set()
        self._submitted = 0
        self._done = 0
        self._closed = False
        self._workers: list[threading.Thread] = []
        # the rules tuple last recorded per device (touched by the thread serving the device)
        self._rules: dict[str, tuple[CompiledRule, ...]] = {}
        # device -> seq of its last job lost (failed or dropped): later jobs repair its records
        self._repair: dict[str, int] = {}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Recorder:
        for index in range(self.threads):
            thread = threading.Thread(target=self._run, name=f"store-recorder-{index}", daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every job submitted so far is recorded or failed; False on timeout."""
        with self._cond:
            target = self._submitted
            return self._cond.wait_for(lambda: self._done >= target, timeout)

    def stop(self, timeout: float | None = None) -> bool:
        """Flush for up to `timeout` seconds, then end the threads (a job still being recorded is
        finished first, queued ones left are dropped); False when the flush timed out."""
        flushed = self.flush(timeout)
        with self._cond:
            self._closed = True
            left = sum(len(jobs) for jobs in self._queues.values())
            self._queues.clear()
            self._ready.clear()
            self.stats.dropped += left
            self._done += left
            self._cond.notify_all()
        if left:
            log.error("store recorder stopped with %d sync(s) not recorded", left)
        for thread in self._workers:
            thread.join(5)
        return flushed

    @property
    def pending(self) -> int:
        """Jobs submitted and not recorded (or failed) yet."""
        with self._cond:
            return self._submitted - self._done

    # ------------------------------------------------------------------ submitting
    def submit(self, device: str, state: DeviceState, outcome: DeviceOutcome, *, apply: bool,
               triggers: Sequence[str] = ()) -> bool:
        """Queue the record of one sync of `device`; False when it was dropped (see the module
        docstring)."""
        at = datetime.now(UTC)
        deadline = time.monotonic() + self.submit_timeout
        with self._cond:
            jobs = self._queues.setdefault(device, deque())
            while len(jobs) >= self.max_pending and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.stats.dropped += 1
                    self._repair[device] = self._submitted  # every later job is numbered above
                    log.error("%s: the store is %d sync records behind; this sync is not recorded "
                              "(its ownership records are repaired by the next one)", device, len(jobs))
                    return False
                self._cond.wait(remaining)
                jobs = self._queues.setdefault(device, deque())
            if self._closed:
                self.stats.dropped += 1
                log.warning("%s: sync not recorded: the store recorder is stopped", device)
                return False
            jobs.append(RecordJob(device, state, outcome, apply, tuple(triggers), at, self._submitted + 1))
            self._submitted += 1
            if device not in self._busy and device not in self._ready:
                self._ready.append(device)
            self._cond.notify_all()
        return True

    # ------------------------------------------------------------------ recording
    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or bool(self._ready))
                if self._closed:
                    return
                device = self._ready.popleft()
                self._busy.add(device)
                queued = self._queues[device]
                jobs = [queued.popleft() for _ in range(min(self.batch, len(queued)))]
                self._cond.notify_all()  # room for blocked submitters
            try:
                self._record(device, jobs)
            except Exception:  # a bug must not end the thread
                log.exception("%s: recording %d sync(s) failed", device, len(jobs))
            with self._cond:
                self._busy.discard(device)
                self._done += len(jobs)
                if self._queues.get(device) and not self._closed:
                    self._ready.append(device)
                self._cond.notify_all()

    def _record(self, device: str, jobs: list[RecordJob]) -> None:
        if len(jobs) > 1:
            try:
                self._transaction(device, jobs)
                return
            except Exception as exc:
                log.warning("%s: recording %d queued syncs together failed (%s); recording them one "
                            "by one", device, len(jobs), exc)
        for job in jobs:
            try:
                self._transaction(device, [job])
            except Exception:
                log.exception("%s: recording the sync in the store failed", device)
                self._rules.pop(device, None)
                with self._cond:
                    self.stats.failed += 1
                    self._repair[device] = max(job.seq, self._repair.get(device, 0))

    def _transaction(self, device: str, jobs: list[RecordJob]) -> None:
        """Record `jobs` in one transaction; the device's memory (rules recorded, repair needed)
        changes only once it committed."""
        started = time.monotonic()
        last = self._rules.get(device)
        with self._cond:
            lost = self._repair.get(device)
        repaired = False
        with self._sessions.begin() as session:
            store = Store(session, self.cluster)
            for job in jobs:
                known = last is not None and job.state.rules is last and not job.outcome.read
                repair = lost is not None and job.seq > lost and not repaired
                if record_outcome(store, job.state, job.outcome, apply=job.apply, triggers=job.triggers,
                                  at=job.at, rules_recorded=known, repair=repair):
                    repaired = repaired or (lost is not None and job.seq > lost)
                last = job.state.rules
        self._rules[device] = jobs[-1].state.rules
        with self._cond:
            if repaired and self._repair.get(device) == lost:
                del self._repair[device]
            self.stats.recorded += len(jobs)
            self.stats.transactions += 1
        log.debug("%s: %d sync(s) recorded in %.3fs", device, len(jobs), time.monotonic() - started)
