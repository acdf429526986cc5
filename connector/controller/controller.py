"""`Controller`: the runtime of `fusion-connector run`.

Flow: migrate the store → start the watch (`ClusterWatcher`) → wait until every kind is listed →
full compile → then event-driven: change batches (minus the controller's own status writes) feed
the incremental compiler on the loop thread, and every device whose desired state changed is
submitted to its `DeviceWorker` (debounced, one sync in flight, retried with backoff), with the
changed objects as audit triggers. An event-driven sync plans against what the device is known
to hold after its last good sync (`KnownState`) instead of reading it back; the first sync, every
sync after a failure or a change of leadership, and the periodic ones read. An APScheduler job
every `reconcile.interval` (coalesced, one instance, jittered) recompiles everything and syncs
every device, reading it back: drift is repaired. Only the leader of the Lease syncs devices and
writes statuses and Events; a standby keeps its cache and compile warm and takes over when the
Lease is free or expires. Every device write is fenced by the Lease: the adapters' HTTP clients
ask `_may_write` before each write request, so a leader deposed mid-sync (e.g. resumed after
SIGSTOP) sends nothing more. In `plan` mode nothing is written to devices: each sync plans and
records drift.

What is told, and where: a device whose last sync failed or was refused unprograms every rule on
it (status), is listed as degraded in `readiness()` (which stays ready: devices do not decide it),
sets `device_problem{device,reason}` and gets an Event on the Lease; namespace warnings are logged
and become Warning Events on the Namespace once each; weakened transport security is logged and
counted at start; a Lease that cannot be used makes the process unready with the reason.

Devices are isolated: each has its own worker thread and adapter, so a slow or failing device
never delays the others. A sync that the planner finds unsafe is refused (Event, status, metric)
and not retried until the desired state changes or the next interval; `run` never forces.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from apscheduler.schedulers.background import BackgroundScheduler
from kubernetes import client as k8s_client
from sqlalchemy import Engine, text

from adapters.base import Adapter
from adapters.base.http import write_fence
from connector.cluster import KINDS, Kind, ObjectChange
from connector.compiler import Compiler, CompileResult, RuleRef, RuleStatus
from connector.config import Config, Secrets
from connector.controller.changes import meaningful, trigger_names
from connector.controller.events import NORMAL, WARNING, EventRecorder, ObjectRef
from connector.controller.kubeapi import KubeApi, KubeUnavailable
from connector.controller.leader import LeaderElector
from connector.controller.metrics import ControllerMetrics
from connector.controller.status import (
    CAPACITY_EXCEEDED,
    PROBLEM_REASONS,
    DeviceReport,
    OriginKey,
    build_status,
    capacities,
    fingerprints,
    only_sources_differ,
)
from connector.controller.worker import DeviceWorker, Job
from connector.model import DeviceState, RuleKind
from connector.reconciler.device import DeviceOutcome, ErrorClass, Refusal, sync_device
from connector.reconciler.known import KnownState
from connector.reconciler.once import compile_settings, open_adapters
from connector.reconciler.record import record_snapshot
from connector.reconciler.recorder import Recorder
from connector.reports.serve import HttpAnswer, serve_report
from connector.security import TransportWarning, transport_warnings
from connector.sources import ClusterWatcher, KubeListWatch, WatchTimings, build_api_client
from connector.store import Store, create_engine, device_write_lock, migrate, session_factory

log = logging.getLogger(__name__)

Mode = Literal["apply", "plan"]
RULE_KINDS: dict[RuleKind, Kind] = {
    RuleKind.CLUSTER: Kind.CLUSTER_EGRESS_RULE,
    RuleKind.NAMESPACE: Kind.NAMESPACE_EGRESS_RULE,
    RuleKind.SERVICE: Kind.SERVICE_EGRESS_RULE,
}
WEDGED_AFTER = 60.0
STORE_CHECK_EVERY = 5.0


@dataclass(frozen=True)
class ControllerOptions:
    """Runtime knobs beyond the configuration file (defaults suit production)."""

    mode: Mode = "apply"
    identity: str = ""
    lease_seconds: int = 15
    renew_seconds: float = 5.0
    retry_seconds: float = 2.0
    shutdown_grace: float = 10.0
    status_debounce: float = 0.5
    # a status whose only change is its `sources` count (pod churn) is written at most this often
    status_sources_interval: float = 10.0
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    sync_timeout: float | None = None  # None: wait for the cache as long as it takes
    watch_timings: WatchTimings | None = None


def default_identity() -> str:
    """The pod name (env POD_NAME) or host name, with the process id."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{os.getpid()}"


def lease_name(cluster: str) -> str:
    return f"fusion-connector-{cluster}".replace("_", "-")


def _settle_heap() -> None:
    """After a full compile: collect once, then move every object alive now out of the cyclic
    garbage collector's sight (`gc.freeze`). The watch cache and compiled state of a large cluster
    are millions of long-lived objects; without this, each full collection during pod churn walks
    all of them and stalls every thread for up to a second. Objects still free by reference
    counting; only cycles created before the freeze are kept."""
    gc.collect()
    gc.freeze()


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamp(at: float | None) -> str | None:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if at else None


# readiness: a device's state by the reason of its last sync's problem
DEVICE_STATES = {"DeviceError": "failing", "PlanRefused": "refused", CAPACITY_EXCEEDED: "refused",
                 "PlanMode": "plan-only"}
DEGRADED = frozenset({"failing", "refused"})


@dataclass(frozen=True)
class DeviceHealth:
    """How a device's syncs have gone lately: the problem its last sync ended with (reason,
    message), consecutive syncs that ended with one of `PROBLEM_REASONS`, since when (Unix time),
    and when one last succeeded."""

    problem: tuple[str, str] | None = None
    failures: int = 0
    since: float | None = None
    last_ok: float | None = None

    def after(self, problem: tuple[str, str] | None) -> DeviceHealth:
        now = time.time()
        if problem is None or problem[0] not in PROBLEM_REASONS:
            return DeviceHealth(problem, 0, None, now if problem is None else self.last_ok)
        return DeviceHealth(problem, self.failures + 1, self.since or now, self.last_ok)


class Controller:
    """See the module docstring. `start()`, then `stop()`; `alive`/`readiness`/`metrics` serve HTTP."""

    def __init__(self, config: Config, secrets: Secrets, options: ControllerOptions | None = None,
                 api_client: k8s_client.ApiClient | None = None) -> None:
        self.config = config
        self.secrets = secrets
        self.options = options or ControllerOptions()
        self.identity = self.options.identity or default_identity()
        self.metrics = ControllerMetrics()
        self._api_client = api_client
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stopping = threading.Event()
        self._compiled = threading.Event()
        self._heartbeat = time.monotonic()
        self._recorder: Recorder | None = None
        self._reports_lock = threading.Lock()
        self._reports: dict[str, DeviceReport] = {d.name: DeviceReport(d.name) for d in config.devices}
        self._health: dict[str, DeviceHealth] = {d.name: DeviceHealth() for d in config.devices}
        self._states: dict[str, DeviceState] = {}
        self._rules: dict[RuleRef, RuleStatus] = {}
        self._written: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self._written_at: dict[tuple[str, str, str, str], float] = {}  # monotonic time of each write
        self._status_due: float | None = None  # when deferred `sources`-only updates fall due
        self._status_kick = threading.Event()
        self._store_ok = (0.0, False)
        self._engine: Engine | None = None
        self._adapters: dict[str, Adapter] = {}
        self._workers: dict[str, DeviceWorker] = {}
        self._known: dict[str, KnownState] = {d.name: KnownState() for d in config.devices}
        self._fenced: dict[str, int] = {d.name: 0 for d in config.devices}  # writes the fence refused
        self._fence_lock = threading.Lock()
        self._closing_thread: int | None = None
        self._ns_logged: dict[str, frozenset[str]] = {}  # namespace warnings logged
        self._insecure: list[TransportWarning] = []
        self._ns_evented: dict[str, frozenset[str]] = {}  # namespace warnings recorded as Events
        self._threads: list[threading.Thread] = []
        self._scheduler: BackgroundScheduler | None = None
        self._elector: LeaderElector | None = None
        self._watcher: ClusterWatcher | None = None
        self._events: EventRecorder | None = None
        self._kube: KubeApi | None = None
        self._compiler = Compiler(compile_settings(config))
        self._lease = ObjectRef("Lease", "coordination.k8s.io/v1", config.kubernetes.connector_namespace,
                                lease_name(config.cluster))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Controller:
        """Migrate, connect, start watching and campaigning; returns once the loop runs (the first
        compile happens on the loop thread after the cache is synced)."""
        config = self.config
        migrate(config.database)
        self._engine = create_engine(config.database)
        self._with_store(self._register_devices)
        self._recorder = Recorder(session_factory(self._engine), config.cluster,
                                  threads=max(1, min(4, len(config.devices)))).start()
        self._adapters = self._open_adapters()
        api = self._api_client or build_api_client(config.kubernetes, self.secrets)
        self._api_client = api
        self._warn_transport(api)
        self._kube = KubeApi(api)
        self._events = EventRecorder(self._kube, self.identity)
        self._watcher = ClusterWatcher(KubeListWatch(api), timings=self.options.watch_timings)
        self._watcher.add_listener(self._on_changes)
        self.metrics.watch(self._watcher.stats, lambda: self._watcher is not None and self._watcher.synced)
        for device in config.devices:
            worker = DeviceWorker(device.name, functools.partial(self._sync_job, device.name),
                                  debounce=config.reconcile.debounce, backoff_base=self.options.backoff_base,
                                  backoff_cap=self.options.backoff_cap)
            worker.pause()
            self._workers[device.name] = worker.start()
        self._watcher.start()
        self._spawn(self._loop, "reconcile-loop")
        self._spawn(self._status_loop, "status-writer")
        self._elector = LeaderElector(
            self._kube, config.kubernetes.connector_namespace, lease_name(config.cluster), self.identity,
            lease_seconds=self.options.lease_seconds, renew_seconds=self.options.renew_seconds,
            retry_seconds=self.options.retry_seconds, on_change=self._on_leadership).start()
        interval = config.reconcile.interval
        scheduler = BackgroundScheduler(timezone="UTC")
        scheduler.add_job(lambda: self._queue.put(("periodic", None)), "interval", seconds=interval,
                          jitter=max(1, int(interval * 0.1)), coalesce=True, max_instances=1,
                          id="periodic-reconcile")
        scheduler.start()
        self._scheduler = scheduler
        log.info("controller %s started in %s mode for cluster %s with %d device(s)", self.identity,
                 self.options.mode, config.cluster, len(config.devices))
        return self

    def stop(self) -> None:
        """Stop syncing (in-flight syncs get `shutdown_grace` seconds), release the Lease, stop
        watching, close adapters."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        log.info("controller stopping")
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        for worker in self._workers.values():
            worker.pause()
        deadline = time.monotonic() + self.options.shutdown_grace
        for name, worker in self._workers.items():
            if not worker.stop(max(0.0, deadline - time.monotonic())):
                log.warning("%s: abandoning the sync in flight at shutdown", name)
        if self._recorder is not None and not self._recorder.stop(self.options.shutdown_grace):
            log.warning("store recorder: syncs left unrecorded at shutdown")
        if self._elector is not None:
            self._elector.stop(release=True)
        self._status_kick.set()
        self._queue.put(("stop", None))
        for thread in self._threads:
            thread.join(5)
        if self._watcher is not None:
            self._watcher.stop(5)
        self._closing_thread = threading.get_ident()  # may release device sessions (BIG-IP token)
        for adapter in self._adapters.values():
            adapter.close()
        if self._engine is not None:
            self._engine.dispose()
        if self._api_client is not None:
            self._api_client.close()  # type: ignore[no-untyped-call]
        log.info("controller stopped")

    def _warn_transport(self, api: k8s_client.ApiClient) -> None:
        """Say every weakening of transport security once, at start: a warning line each, the
        `insecure_transport{device,reason}` gauge (device empty for the Kubernetes API), and the
        list in /readyz. The kubeconfig's `insecure-skip-tls-verify` is told apart from
        `kubernetes.verifyTls: false` by the client configuration it produced."""
        kube_insecure = not api.configuration.verify_ssl and self.config.kubernetes.verify_tls
        self._insecure = transport_warnings(self.config, kube_insecure)
        for finding in self._insecure:
            log.warning("insecure transport: %s", finding.message)
            self.metrics.insecure_transport.labels(finding.device, finding.reason).set(1)

    def _open_adapters(self) -> dict[str, Adapter]:
        """One adapter per device, each HTTP client fenced by `_may_write` (every device write
        asks it first; see `adapters.base.http.write_fence`)."""
        adapters: dict[str, Adapter] = {}
        for device in self.config.devices:
            with write_fence(functools.partial(self._may_write, device.name)):
                adapters.update(open_adapters(self.config, [device], self.secrets))
        return adapters

    def _may_write(self, name: str) -> bool:
        """The write fence of device `name`'s adapter: True while this process holds the Lease,
        as judged by the local monotonic clock against its last successful renewal (so a process
        resumed after SIGSTOP writes nothing before it renews), or on the thread closing the
        adapters at shutdown. A refusal is counted (`fenced_writes_total`) and ends the sync."""
        if (self._elector is not None and self._elector.is_leader) or \
                threading.get_ident() == self._closing_thread:
            return True
        with self._fence_lock:
            self._fenced[name] = self._fenced.get(name, 0) + 1
        self.metrics.fenced_writes.labels(name).inc()
        return False

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # ------------------------------------------------------------------ state
    @property
    def leading(self) -> bool:
        return self._elector is not None and self._elector.is_leader and not self._stopping.is_set()

    @property
    def compiled(self) -> bool:
        return self._compiled.is_set()

    def wait_compiled(self, timeout: float) -> bool:
        return self._compiled.wait(timeout)

    def alive(self) -> bool:
        loop_ok = all(t.is_alive() for t in self._threads) or self._stopping.is_set()
        return loop_ok and time.monotonic() - self._heartbeat < WEDGED_AFTER

    def readiness(self) -> dict[str, Any]:
        """`/readyz`: ready once the cache is synced, compiled and the store reachable, unless this
        process can never lead (`leaderElection`: the Lease's namespace is missing or RBAC forbids
        the Lease); `reasons` says why not. Devices do not decide readiness (an unready pod only
        leaves Service endpoints; a firewall that is down must not take the report and metrics
        away or stall a rollout): each device's state is listed under `devices`, and those whose
        last sync failed or was refused under `degraded`, with the reason (also
        `fusion_connector_device_problem`)."""
        synced = self._watcher is not None and self._watcher.synced
        store = self._store_reachable()
        role = "leader" if self.leading else "standby"
        election = self._elector.problem if self._elector is not None else None
        reasons = [text for failed, text in (
            (not synced, "the watch cache is not synced yet"),
            (not self.compiled, "the cluster is not compiled yet"),
            (not store, "the store is unreachable"),
            (self._stopping.is_set(), "stopping"),
            (election is not None, f"leader election: {election}")) if failed]
        devices = self._device_health()
        return {"ready": not reasons, "reasons": reasons,
                "synced": synced, "compiled": self.compiled, "store": store, "role": role,
                "leaderElection": election, "mode": self.options.mode, "identity": self.identity,
                "devices": devices,
                "degraded": sorted(name for name, d in devices.items() if d["state"] in DEGRADED),
                "insecureTransport": [{"device": w.device, "reason": w.reason, "message": w.message}
                                      for w in self._insecure]}

    def _device_health(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name, health in sorted(self._health.items()):
            problem = health.problem
            if problem is None:
                state = "in-sync" if health.last_ok else "pending"
            else:
                state = DEVICE_STATES.get(problem[0], "pending")
            entry: dict[str, Any] = {"state": state, "failures": health.failures,
                                     "lastSync": _stamp(health.last_ok)}
            if problem is not None:
                entry.update(reason=problem[0], message=problem[1], since=_stamp(health.since))
            out[name] = entry
        return out

    def render_metrics(self) -> bytes:
        return self.metrics.render()

    def report_answer(self, query: str, authorization: str | None) -> HttpAnswer:
        """`GET /report` (docs/report.md): from the latest compile and the store, never the devices."""
        return serve_report(query, authorization, engine=self._engine, cluster=self.config.cluster,
                            compiled=lambda: self._compiler.result,
                            view=self._watcher.cache if self._watcher is not None else None,
                            configured=[d.name for d in self.config.devices], ready=self.compiled,
                            capacity=lambda: capacities(self.device_reports()),
                            transport=lambda: self._insecure)

    def _store_reachable(self) -> bool:
        checked_at, ok = self._store_ok
        if time.monotonic() - checked_at < STORE_CHECK_EVERY or self._engine is None:
            return ok
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            ok = True
        except Exception as exc:  # any driver error means unreachable
            log.warning("store unreachable: %s", exc)
            ok = False
        self._store_ok = (time.monotonic(), ok)
        return ok

    def device_reports(self) -> dict[str, DeviceReport]:
        with self._reports_lock:
            return dict(self._reports)

    # ------------------------------------------------------------------ inputs
    def _on_changes(self, changes: Sequence[ObjectChange]) -> None:
        self._queue.put(("changes", (time.monotonic(), list(changes))))

    def _on_leadership(self, leading: bool) -> None:
        self.metrics.leader.set(1 if leading else 0)
        self._written = {}  # another leader may have written statuses meanwhile: compare afresh
        for known in self._known.values():  # another leader may have written devices meanwhile
            known.forget()
        if not leading:
            for worker in self._workers.values():
                worker.pause()
        self._queue.put(("leader", leading))

    # ------------------------------------------------------------------ loop
    def _loop(self) -> None:
        watcher = self._watcher
        assert watcher is not None
        while not self._stopping.is_set():
            self._heartbeat = time.monotonic()
            if watcher.wait_synced(1.0):
                break
        if self._stopping.is_set():
            return
        # batches queued so far are already in the cache the full compile reads
        pending = [item for item in self._drain_nowait() if item[0] != "changes"]
        self._full("initial")
        self._compiled.set()
        log.info("cache synced and compiled: %d rule(s), %d device(s)", len(self._rules), len(self._states))
        if pending:
            self._handle(pending)
        while not self._stopping.is_set():
            self._heartbeat = time.monotonic()
            try:
                item = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            items = [item, *self._drain_nowait()]
            try:
                self._handle(items)
            except Exception:  # a bug must not stop the controller's loop
                log.exception("reconcile loop: handling %d item(s) failed", len(items))

    def _drain_nowait(self) -> list[tuple[str, Any]]:
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def _handle(self, items: list[tuple[str, Any]]) -> None:
        changes: list[ObjectChange] = []
        seen: list[float] = []
        periodic = False
        leader: bool | None = None
        for kind, payload in items:
            if kind == "changes":
                at, batch = payload
                kept = [change for change in batch if meaningful(change)]
                if kept:
                    changes.extend(kept)
                    seen.append(at)
            elif kind == "periodic":
                periodic = True
            elif kind == "leader":
                leader = payload
        if periodic:
            self._full("periodic", extra=trigger_names(changes), seen=seen)
        elif changes:
            result = self._compiler.apply(changes)
            self._publish(result, trigger_names(changes), seen, immediate=False, only_changed=True)
        if leader:
            log.info("leading: syncing every device")
            self._record_snapshot()
            if self.compiled:  # Events a standby only logged
                self._namespace_warnings(self._compiler.result)
            for name, worker in self._workers.items():
                if name in self._states:
                    worker.submit(self._states[name], ["leader-elected"], immediate=True, read=True)
                if self.leading:
                    worker.resume()
            self._status_kick.set()

    def _full(self, why: str, extra: Sequence[str] = (), seen: Sequence[float] = ()) -> None:
        assert self._watcher is not None
        started = time.monotonic()
        result = self._compiler.full(self._watcher.cache)
        log.info("%s full compile in %.2fs", why, time.monotonic() - started)
        _settle_heap()
        if why == "periodic" and self.leading:
            self._record_snapshot(result)
        self._publish(result, [why, *extra], seen, immediate=True, only_changed=False, read=True)

    def _publish(self, result: CompileResult, triggers: list[str], seen: Sequence[float], *,
                 immediate: bool, only_changed: bool, read: bool = False) -> None:
        for name, state in result.devices.items():
            previous = self._states.get(name)
            if only_changed and previous is state:
                continue
            with self._reports_lock:
                self._states[name] = state
                report = self._reports[name]
                # a pod change keeps the rules tuple: the fingerprints stay valid
                same_rules = previous is not None and previous.rules is state.rules
                wanted = report.wanted if same_rules and report.wanted else fingerprints(state)
                self._reports[name] = DeviceReport(name, report.held, wanted, report.problem, report.capacity)
            self._workers[name].submit(state, triggers, seen, immediate=immediate, read=read)
        if result.rules != self._rules:
            self._rules = result.rules
            self._status_kick.set()
        self._namespace_warnings(result)

    def _namespace_warnings(self, result: CompileResult) -> None:
        """Tell each namespace warning of `result` (bad annotation values, host-network pods) once:
        a log line when it first appears, and (as leader) a Warning Event on the Namespace, in
        `default` as for every cluster-scoped object. A warning that changes, or goes away and
        comes back, is told again; an unchanged one never is, however often the cluster compiles."""
        leading = self.leading and self._events is not None
        for name, status in result.namespaces.items():
            warnings = status.warnings
            if not warnings and name not in self._ns_logged and name not in self._ns_evented:
                continue
            current = frozenset(warnings)
            logged = self._ns_logged.get(name, frozenset())
            for line in warnings:
                if line not in logged:
                    log.warning("%s", line)
            evented = self._ns_evented.get(name, frozenset())
            if leading and any(line not in evented for line in warnings):
                assert self._events is not None
                involved = ObjectRef("Namespace", "v1", "", name, self._uid(Kind.NAMESPACE, "", name))
                for line in warnings:
                    if line not in evented:
                        reason = "InvalidAnnotation" if line.startswith(f"namespace {name}: annotation ") \
                            else "NamespaceWarning"
                        self._events.record(involved, WARNING, reason, line)
                        self.metrics.events.labels(reason).inc()
                evented = current
            self._set_or_drop(self._ns_logged, name, current)
            self._set_or_drop(self._ns_evented, name, evented & current)
        for store in (self._ns_logged, self._ns_evented):
            for name in [n for n in store if n not in result.namespaces]:
                del store[name]

    @staticmethod
    def _set_or_drop(store: dict[str, frozenset[str]], name: str, lines: frozenset[str]) -> None:
        if lines:
            store[name] = lines
        else:
            store.pop(name, None)

    def _uid(self, kind: Kind, namespace: str, name: str) -> str:
        obj = self._watcher.cache.get(kind, namespace, name) if self._watcher is not None else None
        return str(((obj or {}).get("metadata") or {}).get("uid") or "")

    def _register_devices(self, store: Store) -> None:
        for device in self.config.devices:
            store.devices.register(device.name, device.type, device.url)

    def _record_snapshot(self, result: CompileResult | None = None) -> None:
        compiled = result or self._compiler.result
        try:
            self._with_store(lambda store: record_snapshot(store, compiled, self.config.devices))
        except Exception:
            log.exception("recording the cluster snapshot failed")

    def _with_store(self, work: Any) -> None:
        assert self._engine is not None
        with session_factory(self._engine).begin() as session:
            work(Store(session, self.config.cluster))

    # ------------------------------------------------------------------ one device
    def _sync_job(self, name: str, job: Job) -> bool:
        """The worker's entry point: `_sync`, with any unexpected exception accounted as a failed
        sync of the device (status, metrics, Event, readiness), never lost in a log line."""
        try:
            return self._sync(name, job)
        except Exception as exc:  # a bug or an input that breaks an invariant: visible, retried
            log.exception("%s: sync failed unexpectedly", name)
            if not self.leading:
                return True
            outcome = DeviceOutcome(name, error=f"{name}: internal error: {type(exc).__name__}: {exc}",
                                    error_class=ErrorClass.PERMANENT)
            self._account(name, job, outcome, self.options.mode == "apply")
            self._status_kick.set()
            return False

    def _sync(self, name: str, job: Job) -> bool:
        """One device sync (worker thread); False asks the worker to retry with backoff."""
        apply = self.options.mode == "apply"
        if not self.leading:
            return True
        adapter = self._adapters[name]
        known = self._known[name]
        fenced = self._fenced.get(name, 0)
        started = time.monotonic()
        if apply:
            assert self._engine is not None
            with device_write_lock(self._engine, self.config.device(name).url):
                outcome = sync_device(adapter, job.state, self.config.safety, apply=True,
                                      may_write=lambda: self.leading, known=known, read=job.read,
                                      vanished=job.vanished)
        else:
            outcome = sync_device(adapter, job.state, self.config.safety, apply=False, known=known,
                                  read=job.read, vanished=job.vanished)
        elapsed = time.monotonic() - started
        self.metrics.reconcile_duration.labels(name).observe(elapsed)
        if outcome.extra.get("withheld"):
            return True
        if self._fenced.get(name, 0) != fenced:
            return self._deposed(name, job, outcome, apply)
        recorded_at = time.monotonic()
        assert self._recorder is not None
        self._recorder.submit(name, job.state, outcome, apply=apply, triggers=job.trigger_names())
        log.info("%s: sync in %.2fs (%s %.2fs, apply %.2fs; record queued in %.2fs): %d change(s)%s, "
                 "%d trigger(s)", name, elapsed, "read" if outcome.read else "known state",
                 outcome.read_seconds, outcome.apply_seconds, time.monotonic() - recorded_at,
                 len(outcome.plan.changes) if outcome.plan is not None else 0,
                 "" if outcome.ok else f", {outcome.error or 'refused'}", len(job.triggers))
        ok = self._account(name, job, outcome, apply)
        self._status_kick.set()
        return ok

    def _deposed(self, name: str, job: Job, outcome: DeviceOutcome, apply: bool) -> bool:
        """A sync cut short by the write fence: this process lost its leadership during it. Not a
        device failure (no metric, Event or status); the writes it made before are audited, and
        the leader (or this process once it leads again, reading the device back) takes over."""
        writes = outcome.result.writes if outcome.result is not None else 0
        log.warning("%s: sync cut short, this process no longer leads: %d write(s) made before; "
                    "nothing more is sent", name, writes)
        if writes and self._recorder is not None:
            self._recorder.submit(name, job.state, outcome, apply=apply, triggers=job.trigger_names())
        return True

    def _account(self, name: str, job: Job, outcome: DeviceOutcome, apply: bool) -> bool:
        """Metrics, device report and Events of one outcome; whether the sync succeeded.

        Two problems are kept apart: the device's (readiness, `device_problem`, Events), and the
        one that keeps its rules from counting as programmed (the report's). They differ when an
        unsafe plan had only its unconfirmed deletions withheld and the rest applied: the device
        is refused until forced, yet it holds every current rule as desired (the withheld objects
        are emptied leftovers of rules and namespaces that are gone)."""
        plan = outcome.plan
        if outcome.capacity is not None:
            self.metrics.table_usage(outcome.capacity)
        with self._reports_lock:
            report = self._reports[name]
            is_current = job.state is self._states.get(name)
        health = self._health.get(name, DeviceHealth())
        held = report.held
        problem: tuple[str, str] | None = None  # the device's
        unprogrammed = True  # the device's problem unprograms its rules
        ok = True
        if outcome.error is not None:
            ok = False
            problem = ("DeviceError", outcome.error)
            self.metrics.device_errors.labels(name, outcome.error_class or "permanent").inc()
            self._device_event(WARNING, "DeviceError", f"device {name}: {outcome.error}")
        elif outcome.refusal is Refusal.CAPACITY_EXCEEDED and plan is not None:
            message = f"{outcome.refusal_message}; nothing written to the device"
            problem = (CAPACITY_EXCEEDED, message)
            self.metrics.capacity_refusals.labels(name).inc()
            self._device_event(WARNING, CAPACITY_EXCEEDED, f"device {name}: plan refused: {message} "
                               f"({plan.summary()})")
        elif outcome.refused and plan is not None:
            self.metrics.unsafe_plans.labels(name).inc()
            if plan.withheld and (outcome.applied or plan.empty):
                message = outcome.refusal_message or f"unsafe plan: {plan.unsafe}"
                problem = ("PlanRefused", message)
                unprogrammed = False
                held = self._synced(name, job, outcome, report, is_current)
                self._device_event(WARNING, "UnsafePlanRefused", f"device {name}: {message} "
                                   f"({plan.summary()})")
            else:
                problem = ("PlanRefused", f"unsafe plan refused: {plan.unsafe}")
                self._device_event(WARNING, "UnsafePlanRefused",
                                   f"device {name}: plan refused, nothing written: {plan.unsafe} "
                                   f"({plan.summary()})")
        elif plan is not None and not plan.empty and not apply:
            problem = ("PlanMode", f"plan mode: {len(plan.changes)} change(s) not applied")
        else:
            held = self._synced(name, job, outcome, report, is_current)
            if health.problem is not None and health.problem[0] in PROBLEM_REASONS:
                self._device_event(NORMAL, "DeviceSynced", f"device {name} is in sync again")
        with self._reports_lock:
            current = self._reports[name]
            self._reports[name] = DeviceReport(name, held, current.wanted, problem if unprogrammed else None,
                                               outcome.capacity or current.capacity)
        self._health[name] = health.after(problem)
        failing = problem[0] if problem is not None and problem[0] in PROBLEM_REASONS else None
        self.metrics.device_problem(name, failing)
        return ok

    def _synced(self, name: str, job: Job, outcome: DeviceOutcome, report: DeviceReport,
                is_current: bool) -> Mapping[OriginKey, int]:
        """Bookkeeping of a sync after which the device holds the job's state: metrics; returns
        the fingerprints it now holds."""
        plan = outcome.plan
        self.metrics.last_sync.labels(name).set(time.time())
        self.metrics.owned_objects.labels(name).set(len(outcome.desired))
        now = outcome.finished_at or time.monotonic()  # when the device held it, before recording
        for seen_at in job.seen:  # one observation per change batch the sync carried
            self.metrics.convergence.labels(name).observe(now - seen_at)
        if outcome.applied and plan is not None:
            for change in plan.changes:
                self.metrics.plan_changes.labels(name, change.kind, change.op.value).inc()
        return report.wanted if is_current and report.wanted else fingerprints(job.state)

    def _device_event(self, type: str, reason: str, message: str) -> None:
        if self._events is not None and self.leading:
            self._events.record(self._lease, type, reason, message)
            self.metrics.events.labels(reason).inc()

    # ------------------------------------------------------------------ statuses
    def _status_loop(self) -> None:
        while not self._stopping.is_set():
            self._status_kick.wait(1.0)
            if self._stopping.is_set():
                return
            deferred_due = self._status_due is not None and time.monotonic() >= self._status_due
            if not self._status_kick.is_set() and not deferred_due:
                continue
            self._stopping.wait(self.options.status_debounce)
            self._status_kick.clear()
            if not self.leading or not self.compiled:
                continue
            try:
                self.write_statuses()
            except Exception:
                log.exception("writing rule statuses failed")

    def write_statuses(self) -> int:
        """Write every rule status whose content changed; returns the number written."""
        assert self._watcher is not None and self._kube is not None
        reports = self.device_reports()
        now = _now_text()
        clock = time.monotonic()
        interval = self.options.status_sources_interval
        self._status_due = None
        written = 0
        live: set[tuple[str, str, str, str]] = set()
        for ref, rule in sorted(self._rules.items()):
            kind = RULE_KINDS.get(ref.kind)
            if kind is None:
                continue
            obj = self._watcher.cache.get(kind, ref.namespace, ref.name)
            if obj is None:
                continue
            uid = str((obj.get("metadata") or {}).get("uid") or "")
            key = (ref.kind.value, ref.namespace, ref.name, uid)
            live.add(key)
            base: dict[str, Any] = self._written.get(key) or dict(obj.get("status") or {})
            status = build_status(rule, reports, base, now)
            if status == base:
                continue
            if only_sources_differ(status, base):
                due = self._written_at.get(key, -interval) + interval
                if clock < due:  # pod churn: the count is brought up to date at most every interval
                    self._status_due = due if self._status_due is None else min(self._status_due, due)
                    continue
            if not self.leading:  # deposed while writing: the new leader writes statuses
                return written
            path = KINDS[kind].collection_path(ref.namespace or None) + f"/{ref.name}/status"
            try:
                code, answer = self._kube.merge_patch(path, {"status": status})
            except KubeUnavailable as exc:
                log.warning("status of %s not written: %s", ref, exc)
                self._status_kick.set()
                return written
            if code == 404:
                continue
            if code != 200:
                log.warning("status of %s not written: HTTP %s %s", ref, code, answer.get("message", ""))
                continue
            written += 1
            self.metrics.status_writes.inc()
            self._written[key] = status
            self._written_at[key] = clock
            self._rule_events(ref, uid, base, status)
        for key in set(self._written) - live:
            del self._written[key]
            self._written_at.pop(key, None)
        return written

    def _rule_events(self, ref: RuleRef, uid: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        if self._events is None:
            return
        before = {c.get("type"): c for c in old.get("conditions") or []}
        involved = ObjectRef(ref.kind.value, "fusion-connector.io/v1alpha1", ref.namespace, ref.name, uid)
        for condition in new["conditions"]:
            prior = before.get(condition["type"]) or {}
            if (prior.get("reason"), prior.get("message")) == (condition["reason"], condition["message"]):
                continue
            reason = condition["reason"]
            if condition["type"] == "Accepted" and reason != "Accepted":
                type = WARNING if condition["status"] == "False" or reason == "SharedSource" else NORMAL
            elif condition["type"] == "Programmed" and reason in PROBLEM_REASONS:
                if prior.get("reason") == reason:
                    continue  # a device failing again: its own Event on the Lease counts the repeats
                type = WARNING
            else:
                continue
            self._events.record(involved, type, reason, condition["message"])
            self.metrics.events.labels(reason).inc()
