"""The reconcile loop: the only thread that compiles.

Contract: `post(message)` never blocks (watch listener, scheduler and election threads post).
`run()` waits until the watch cache is synced, compiles the whole cluster, sets `compiled`, then
takes messages in batches (all that queued up while it worked):

- `ChangesSeen`: the meaningful changes (not the controller's own status writes coming back) feed
  the incremental compiler; every device whose desired state changed is submitted to its
  `DeviceWorker` with the changed objects as triggers and when they were seen.
- `PeriodicReconcile`: a full recompile, and every device submitted to sync now, reading it back
  (drift repair), with any changes of the batch as extra triggers.
- `LeadershipChanged(True)`: record the cluster snapshot, tell the namespace warnings a standby
  only logged, submit every device to sync now, reading it back, and resume the workers.

After each compile the rule statuses go to the `StatusWriter` and the namespace warnings to
`NamespaceWarnings`, and the address timeline's feed (`timeline`, with flows configured) takes
the same changes (a full compile: the whole cache; leading: a reconciliation of the store). A
failure handling a batch is logged; the loop goes on. `heartbeat` is the monotonic time of its
last round (liveness).
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from connector.cluster import ClusterView, ObjectChange
from connector.compiler import Compiler, CompileResult
from connector.controller.changes import meaningful, trigger_names
from connector.controller.device_book import DeviceBook
from connector.controller.messages import (
    ChangesSeen,
    LeadershipChanged,
    Message,
    PeriodicReconcile,
)
from connector.controller.namespace_warnings import NamespaceWarnings
from connector.controller.status_writer import StatusWriter
from connector.controller.worker import DeviceWorker
from connector.flows.timeline_feed import TimelineFeed
from connector.sources import ClusterWatcher

log = logging.getLogger(__name__)


def _settle_heap() -> None:
    """After a full compile: collect once, then move every object alive now out of the cyclic
    garbage collector's sight (`gc.freeze`). The watch cache and compiled state of a large cluster
    are millions of long-lived objects; without this, each full collection during pod churn walks
    all of them and stalls every thread for up to a second. Objects still free by reference
    counting; only cycles created before the freeze are kept."""
    gc.collect()
    gc.freeze()


class ReconcileLoop:
    """Compiles and hands desired states to the device workers (see the module docstring);
    `connect` gives it the watcher and the workers at start."""

    def __init__(self, compiler: Compiler, book: DeviceBook, statuses: StatusWriter,
                 warnings: NamespaceWarnings, *, leading: Callable[[], bool], stopping: threading.Event,
                 record_snapshot: Callable[[CompileResult], None]) -> None:
        self.compiler = compiler
        self.book = book
        self.statuses = statuses
        self.warnings = warnings
        self.leading = leading
        self.stopping = stopping
        self.record_snapshot = record_snapshot
        self.compiled = threading.Event()
        self.heartbeat = time.monotonic()
        self.watcher: ClusterWatcher | None = None
        self.workers: Mapping[str, DeviceWorker] = {}
        self.timeline: TimelineFeed | None = None  # the address timeline's feed (flows configured)
        self._queue: queue.Queue[Message] = queue.Queue()

    def connect(self, watcher: ClusterWatcher, workers: Mapping[str, DeviceWorker]) -> None:
        self.watcher = watcher
        self.workers = workers

    def post(self, message: Message) -> None:
        self._queue.put(message)

    def changes_seen(self, changes: Sequence[ObjectChange]) -> None:
        """The watch listener: a batch of changes the cache holds now."""
        self.post(ChangesSeen(time.monotonic(), tuple(changes)))

    def run(self) -> None:
        """The loop thread, until `stopping` is set."""
        watcher = self.watcher
        assert watcher is not None
        while not self.stopping.is_set():
            self.heartbeat = time.monotonic()
            if watcher.wait_synced(1.0):
                break
        if self.stopping.is_set():
            return
        # batches queued so far are already in the cache the full compile reads
        pending = [message for message in self._drain_nowait() if not isinstance(message, ChangesSeen)]
        self._full(watcher.cache, "initial")
        self.compiled.set()
        log.info("cache synced and compiled: %d rule(s), %d device(s)", len(self.statuses.rules),
                 len(self.book.desired_states()))
        if pending:
            self.handle(pending)
        while not self.stopping.is_set():
            self.heartbeat = time.monotonic()
            try:
                message = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            messages = [message, *self._drain_nowait()]
            try:
                self.handle(messages)
            except Exception:  # a bug must not stop the controller's loop
                log.exception("reconcile loop: handling %d item(s) failed", len(messages))

    def _drain_nowait(self) -> list[Message]:
        out: list[Message] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def handle(self, messages: Sequence[Message]) -> None:
        """One batch of messages, in the order they were posted (see the module docstring)."""
        changes: list[ObjectChange] = []
        seen: list[float] = []
        periodic = False
        leader: bool | None = None
        for message in messages:
            if isinstance(message, ChangesSeen):
                kept = [change for change in message.changes if meaningful(change)]
                if kept:
                    changes.extend(kept)
                    seen.append(message.at)
            elif isinstance(message, PeriodicReconcile):
                periodic = True
            elif isinstance(message, LeadershipChanged):
                leader = message.leading
        if periodic:
            assert self.watcher is not None
            self._full(self.watcher.cache, "periodic", extra=trigger_names(changes), seen=seen)
        elif changes:
            result = self.compiler.apply(changes)
            self._feed(lambda feed: feed.changed(changes, min(seen)))
            self._publish(result, trigger_names(changes), seen, immediate=False, only_changed=True)
        if leader:
            self._lead()

    def _lead(self) -> None:
        log.info("leading: syncing every device")
        self._record(self.compiler.result)
        self._feed(lambda feed: feed.leading())
        if self.compiled.is_set():  # Events a standby only logged
            self.warnings.tell(self.compiler.result)
        states = self.book.desired_states()
        for name, worker in self.workers.items():
            if name in states:
                worker.submit(states[name], ["leader-elected"], immediate=True, read=True)
            if self.leading():
                worker.resume()
        self.statuses.kick()

    def _full(self, cache: ClusterView, why: str, extra: Sequence[str] = (),
              seen: Sequence[float] = ()) -> None:
        started = time.monotonic()
        result = self.compiler.full(cache)
        log.info("%s full compile in %.2fs", why, time.monotonic() - started)
        self._feed(lambda feed: feed.rebuilt(cache))
        _settle_heap()
        if why == "periodic" and self.leading():
            self._record(result)
        self._publish(result, [why, *extra], seen, immediate=True, only_changed=False, read=True)

    def _feed(self, work: Callable[[TimelineFeed], None]) -> None:
        """Tell the address timeline's feed, if any; its failure never stops the loop."""
        if self.timeline is None:
            return
        try:
            work(self.timeline)
        except Exception:
            log.exception("feeding the address timeline failed")

    def _record(self, result: CompileResult) -> None:
        try:
            self.record_snapshot(result)
        except Exception:
            log.exception("recording the cluster snapshot failed")

    def _publish(self, result: CompileResult, triggers: list[str], seen: Sequence[float], *,
                 immediate: bool, only_changed: bool, read: bool = False) -> None:
        for name, state in result.devices.items():
            if only_changed and self.book.desired(name) is state:
                continue
            self.book.publish(name, state)
            self.workers[name].submit(state, triggers, seen, immediate=immediate, read=read)
        self.statuses.set_rules(result.rules)
        self.warnings.tell(result)
