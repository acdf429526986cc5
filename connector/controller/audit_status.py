"""`AuditBook`: the running audit counts of every audit rule (`mode: Audit`), fed by the flow
pipeline and written by the `StatusWriter` as `status.audit {matched, wouldChange, since}`.

Contract:
- `observe(records)` is a flow-pipeline subscriber (`FlowPipeline.subscribe`) and never blocks:
  it queues the records for the book's own thread (`start`/`stop`); at most `max_pending`
  records wait, the rest are dropped and counted (`fusion_connector_audit_flows_dropped_total`).
- `count(records)` (the thread's step) counts records against the device states the controller
  compiled last (`states()`, via `connector.flows.audit.count_audit`), adds the counts to the
  rules' tallies and to the metric `fusion_connector_audit_flows_total{rule,result}` (`rule`
  `KIND/NAMESPACE/NAME` of an audit rule, so bounded by the number of audit rules; `result`
  `matched` or `wouldChange`), and kicks the status writer when a count moved. `drain(timeout)`
  waits until what was queued is counted.
- `status(rule, previous)` is the status writer's hook: None for an Enforce rule (a previous
  `status.audit` is then cleared); for an Audit rule `{matched, wouldChange, since}`. A tally
  starts when the rule is first seen in Audit mode at a generation: from the counts of its
  `previous` status when that status is of the same generation and has them (a restart or a new
  leader goes on counting), else from zero with `since` = now. A new generation (the spec changed)
  or a switch to Enforce and back starts afresh.
Thread-safe: the pipeline's worker and the status writer call it concurrently.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from connector.compiler import RuleStatus
from connector.flows.audit import AuditCount, AuditKey, SourceIndexes, count_audit
from connector.flows.record import FlowRecord
from connector.model import DeviceState, Mode

log = logging.getLogger(__name__)

PREFIX = "fusion_connector_"
MAX_PENDING = 200_000


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Tally:
    __slots__ = ("count", "generation", "since")

    def __init__(self, generation: int, count: AuditCount, since: str) -> None:
        self.generation = generation
        self.count = count
        self.since = since


class AuditBook:
    """See the module docstring."""

    def __init__(self, states: Callable[[], Mapping[str, DeviceState]], registry: CollectorRegistry,
                 kick: Callable[[], None] = lambda: None, now: Callable[[], str] = _now_text,
                 max_pending: int = MAX_PENDING) -> None:
        self._states = states
        self._kick = kick
        self._now = now
        self.max_pending = max_pending
        self._queue: deque[Sequence[FlowRecord]] = deque()
        self._queued = 0  # records waiting in `_queue`
        self._busy = False
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._work, name="audit-counts", daemon=True)
        self._lock = threading.Lock()
        self._pending: dict[AuditKey, AuditCount] = {}  # counted since the tally last took them
        self._tallies: dict[AuditKey, _Tally] = {}
        self._indexes = SourceIndexes()
        self.flows = Counter(PREFIX + "audit_flows_total",
                             "observed flows an audit rule would have decided (matched), and those "
                             "whose decision it would have changed (wouldChange)",
                             ["rule", "result"], registry=registry)
        self.dropped = Counter(PREFIX + "audit_flows_dropped_total",
                               "observed flows not audited: too many were waiting", registry=registry)

    def start(self) -> AuditBook:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.drain(timeout)
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def observe(self, records: Sequence[FlowRecord]) -> None:
        """Queue `records` for counting (the pipeline's subscriber; never blocks)."""
        if not records:
            return
        with self._cond:
            if self._queued + len(records) > self.max_pending:
                self.dropped.inc(sum(r.count for r in records))
                return
            self._queue.append(records)
            self._queued += len(records)
            self._cond.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait until every queued record is counted; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def _work(self) -> None:
        while not self._stopping.is_set():
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue) or self._stopping.is_set(), 1.0)
                if not self._queue:
                    continue
                batch = self._queue.popleft()
                self._queued -= len(batch)
                self._busy = True
            try:
                self.count(batch)
            except Exception:
                log.exception("counting %d flow record(s) against audit rules failed", len(batch))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def count(self, records: Sequence[FlowRecord]) -> None:
        """Count `records` against the audit rules now (see the module docstring)."""
        counts = count_audit(records, self._states(), self._indexes)
        if not counts:
            return
        with self._lock:
            for key, count in counts.items():
                self._pending[key] = self._pending.get(key, AuditCount()) + count
        for (kind, namespace, name), count in counts.items():
            label = f"{kind}/{namespace}/{name}"
            self.flows.labels(label, "matched").inc(count.matched)
            if count.would_change:
                self.flows.labels(label, "wouldChange").inc(count.would_change)
        self._kick()

    def status(self, rule: RuleStatus, previous: Mapping[str, Any]) -> dict[str, Any] | None:
        """`status.audit` of `rule` (None for an Enforce rule); `previous` is its last status."""
        key = (rule.ref.kind.value, rule.ref.namespace, rule.ref.name)
        with self._lock:
            if rule.mode is not Mode.AUDIT:
                self._tallies.pop(key, None)
                self._pending.pop(key, None)
                return None
            tally = self._tallies.get(key)
            if tally is None or tally.generation != rule.observed_generation:
                tally = self._start(rule, previous)
                self._tallies[key] = tally
            pending = self._pending.pop(key, None)
            if pending is not None:
                tally.count = tally.count + pending
            return {"matched": tally.count.matched, "wouldChange": tally.count.would_change,
                    "since": tally.since}

    def _start(self, rule: RuleStatus, previous: Mapping[str, Any]) -> _Tally:
        audit = previous.get("audit")
        same = previous.get("observedGeneration") == rule.observed_generation
        if same and isinstance(audit, Mapping) and isinstance(audit.get("since"), str):
            matched, changed = audit.get("matched"), audit.get("wouldChange")
            if isinstance(matched, int) and isinstance(changed, int):
                return _Tally(rule.observed_generation, AuditCount(matched, changed), audit["since"])
        return _Tally(rule.observed_generation, AuditCount(), self._now())
