"""`Controller`: the runtime of `fusion-connector run`, wired from collaborators with one job each.

Flow: migrate the store → start the watch (`ClusterWatcher`) → wait until every kind is listed →
full compile → then event-driven: change batches (minus the controller's own status writes) feed
the incremental compiler on the loop thread (`ReconcileLoop`), and every device whose desired
state changed is submitted to its `DeviceWorker` (debounced, one sync in flight, retried with
backoff), with the changed objects as audit triggers. An event-driven sync plans against what the
device is known to hold after its last good sync (`KnownState`) instead of reading it back; the
first sync, every sync after a failure or a change of leadership, and the periodic ones read. An
APScheduler job every `reconcile.interval` (coalesced, one instance, jittered) recompiles
everything and syncs every device, reading it back: drift is repaired. Only the leader of the
Lease syncs devices and writes statuses and Events; a standby keeps its cache and compile warm and
takes over when the Lease is free or expires. Every device write is fenced by the Lease
(`WriteFence`), so a leader deposed mid-sync (e.g. resumed after SIGSTOP) sends nothing more. In
`plan` mode nothing is written to devices: each sync plans and records drift.

Who does what:

| activity | collaborator |
| --- | --- |
| compile, hand desired states to the workers | `ReconcileLoop` (loop), told by `messages` |
| one device sync: lock, `sync_device`, record | `DeviceSyncs` (syncing) |
| an outcome → metrics, device report and health, Events | `Accounting` (accounting) |
| what is known of each device | `DeviceBook` (device_book), `DeviceReport` (device_report) |
| device writes only while leading | `WriteFence` (fence) |
| rule statuses and their Events | `StatusWriter` (status_writer), `build_status` (status_subresource) |
| namespace warnings as log lines and Events | `NamespaceWarnings` (namespace_warnings) |
| /healthz and /readyz | `Health` (health) |
| weakened transport security, said at start | `TransportSecurity` (transport) |
| flow logs received, attributed, stored, told; `POST /v1/flows` | `FlowService` (flows.service) |
| audit counts of the rules in Audit mode, from the flow records | `AuditBook` (audit_status) |

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
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.background import BackgroundScheduler
from kubernetes import client as k8s_client
from sqlalchemy import Engine

from connector.cluster import KINDS, Kind
from connector.compiler import Compiler, CompileResult
from connector.config import Config, Secrets
from connector.controller.accounting import Accounting
from connector.controller.audit_status import AuditBook
from connector.controller.device_book import DeviceBook
from connector.controller.device_report import DeviceReport, capacities
from connector.controller.events import EventChannel, EventRecorder, ObjectRef
from connector.controller.fence import WriteFence
from connector.controller.health import Health, ProcessState
from connector.controller.leader import LeaderElector
from connector.controller.loop import ReconcileLoop
from connector.controller.messages import LeadershipChanged, PeriodicReconcile, Stop
from connector.controller.metrics import ControllerMetrics
from connector.controller.namespace_warnings import NamespaceWarnings
from connector.controller.options import ControllerOptions, default_identity, lease_name
from connector.controller.status_writer import StatusWriter
from connector.controller.syncing import DeviceSyncs
from connector.controller.transport import TransportSecurity
from connector.controller.worker import DeviceWorker
from connector.flows.push import not_enabled
from connector.flows.timeline_feed import AddressBook, TimelineFeed, TimelineWriter
from connector.kube import KubeApi, KubeListWatch, build_api_client
from connector.reconciler.record import record_snapshot
from connector.reconciler.recorder import Recorder
from connector.reports.serve import HttpAnswer, serve_report
from connector.sources import ClusterWatcher
from connector.store import Store, create_engine, migrate, session_factory
from connector.wiring import compile_settings

if TYPE_CHECKING:
    from connector.flows.service import FlowService

log = logging.getLogger(__name__)


class Controller:
    """See the module docstring. `start()`, then `stop()`; `alive`/`readiness`/`render_metrics`/
    `report_answer` serve HTTP."""

    def __init__(self, config: Config, secrets: Secrets, options: ControllerOptions | None = None,
                 api_client: k8s_client.ApiClient | None = None) -> None:
        self.config = config
        self.secrets = secrets
        self.options = options or ControllerOptions()
        self.identity = self.options.identity or default_identity()
        self.metrics = ControllerMetrics()
        self._api_client = api_client
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._engine: Engine | None = None
        self._recorder: Recorder | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._elector: LeaderElector | None = None
        self._watcher: ClusterWatcher | None = None
        self._workers: dict[str, DeviceWorker] = {}
        self._timeline: TimelineWriter | None = None
        self.flows: FlowService | None = None
        self._compiler = Compiler(compile_settings(config))
        lease = ObjectRef("Lease", "coordination.k8s.io/v1", config.kubernetes.connector_namespace,
                          lease_name(config.cluster))
        self.book = DeviceBook(d.name for d in config.devices)
        self.events = EventChannel(self.metrics)
        self.transport = TransportSecurity(config, self.metrics)
        self.health = Health(mode=self.options.mode, identity=self.identity, book=self.book,
                             transport=self.transport)
        self.fence = WriteFence(self._holds_lease, self.metrics)
        self.accounting = Accounting(self.book, self.metrics, self.events, lease, self._leading)
        # status.audit of the rules in Audit mode, counted from the flow records (flows configured)
        self.audit = (AuditBook(self.book.desired_states, self.metrics.registry,
                                kick=lambda: self.statuses.kick())
                      if config.flows is not None else None)
        self.statuses = StatusWriter(
            debounce=self.options.status_debounce, sources_interval=self.options.status_sources_interval,
            reports=self.book.reports, events=self.events, metrics=self.metrics, leading=self._leading,
            compiled=lambda: self.compiled, stopping=self._stopping,
            audit=self.audit.status if self.audit is not None else None)
        self.syncs = DeviceSyncs(config, self.options.mode, fence=self.fence, accounting=self.accounting,
                                 metrics=self.metrics, leading=self._leading, synced=self.statuses.kick)
        self.namespace_warnings = NamespaceWarnings(self.events, self._leading, self._namespace_uid)
        self.loop = ReconcileLoop(self._compiler, self.book, self.statuses, self.namespace_warnings,
                                  leading=self._leading, stopping=self._stopping,
                                  record_snapshot=self._record_snapshot)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Controller:
        """Migrate, connect, start watching and campaigning; returns once the loop runs (the first
        compile happens on the loop thread after the cache is synced)."""
        config = self.config
        migrate(config.database)
        self._engine = create_engine(config.database)
        self.health.store.engine = self._engine
        self._with_store(self._register_devices)
        self._recorder = Recorder(session_factory(self._engine), config.cluster,
                                  threads=max(1, min(4, len(config.devices)))).start()
        self.syncs.connect(self._engine, self._recorder, self.fence.open_adapters(config, self.secrets))
        api = self._api_client or build_api_client(config.kubernetes, self.secrets)
        self._api_client = api
        self.transport.announce(api)
        kube = KubeApi(api)
        self.events.recorder = EventRecorder(kube, self.identity)
        if config.flows is not None:  # every replica receives and stores flow records
            # imported here: the flow service tells Events through this package (an import cycle)
            from connector.flows.service import FlowService

            self.flows = FlowService(config, self._engine, self.metrics.registry, self.secrets,
                                     tell=self.events.tell, uid=self._object_uid,
                                     leading=self._leading).start()
            if self.audit is not None:
                self.flows.subscribe(self.audit.start().observe)
        self._watcher = ClusterWatcher(KubeListWatch(api), timings=self.options.watch_timings)
        self._watcher.add_listener(self.loop.changes_seen)
        self.metrics.watch(self._watcher.stats, lambda: self._watcher is not None and self._watcher.synced)
        self.statuses.connect(kube, self._watcher.cache)
        for device in config.devices:
            worker = DeviceWorker(device.name, functools.partial(self.syncs.run, device.name),
                                  debounce=config.reconcile.debounce, backoff_base=self.options.backoff_base,
                                  backoff_cap=self.options.backoff_cap)
            worker.pause()
            self._workers[device.name] = worker.start()
        self.loop.connect(self._watcher, self._workers)
        if config.flows is not None:  # the address timeline: kept by every replica, written by the leader
            sessions = session_factory(self._engine)
            self._timeline = TimelineWriter(sessions, config.cluster, self._leading).start()
            self.loop.timeline = TimelineFeed(AddressBook(config.cluster), self._timeline, self._compiler)
        self._watcher.start()
        self._spawn(self.loop.run, "reconcile-loop")
        self._spawn(self.statuses.run, "status-writer")
        self._elector = LeaderElector(
            kube, config.kubernetes.connector_namespace, lease_name(config.cluster), self.identity,
            lease_seconds=self.options.lease_seconds, renew_seconds=self.options.renew_seconds,
            retry_seconds=self.options.retry_seconds, on_change=self._on_leadership).start()
        interval = config.reconcile.interval
        scheduler = BackgroundScheduler(timezone="UTC")
        scheduler.add_job(lambda: self.loop.post(PeriodicReconcile()), "interval", seconds=interval,
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
        self.statuses.kick()
        self.loop.post(Stop())
        if self.flows is not None:
            self.flows.stop(self.options.shutdown_grace)
        if self.audit is not None:
            self.audit.stop(self.options.shutdown_grace)
        for thread in self._threads:
            thread.join(5)
        if self._watcher is not None:
            self._watcher.stop(5)
        if self._timeline is not None:
            self._timeline.stop()
        self.fence.close_from_this_thread()  # may release device sessions (BIG-IP token)
        self.syncs.close()
        if self._engine is not None:
            self._engine.dispose()
        if self._api_client is not None:
            self._api_client.close()  # type: ignore[no-untyped-call]
        log.info("controller stopped")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # ------------------------------------------------------------------ leadership
    def _holds_lease(self) -> bool:
        """The elector's judgement alone (the write fence: true on the way out as well)."""
        return self._elector is not None and self._elector.is_leader

    def _leading(self) -> bool:
        return self.leading

    @property
    def leading(self) -> bool:
        return self._holds_lease() and not self._stopping.is_set()

    def _on_leadership(self, leading: bool) -> None:
        """The election thread: a change of role."""
        self.metrics.leader.set(1 if leading else 0)
        self.statuses.forget()  # another leader may have written statuses meanwhile
        self.syncs.forget_known()  # another leader may have written devices meanwhile
        if not leading:
            for worker in self._workers.values():
                worker.pause()
        self.loop.post(LeadershipChanged(leading))

    # ------------------------------------------------------------------ probes and report
    @property
    def compiled(self) -> bool:
        return self.loop.compiled.is_set()

    def wait_compiled(self, timeout: float) -> bool:
        return self.loop.compiled.wait(timeout)

    def alive(self) -> bool:
        return self.health.alive(all(t.is_alive() for t in self._threads), self._stopping.is_set(),
                                 self.loop.heartbeat)

    def readiness(self) -> dict[str, Any]:
        """`/readyz` (see `connector.controller.health`)."""
        return self.health.readiness(ProcessState(
            synced=self._watcher is not None and self._watcher.synced, compiled=self.compiled,
            leading=self.leading, stopping=self._stopping.is_set(),
            election=self._elector.problem if self._elector is not None else None))

    def render_metrics(self) -> bytes:
        return self.metrics.render()

    def report_answer(self, query: str, authorization: str | None) -> HttpAnswer:
        """`GET /report` (docs/report.md): from the latest compile and the store, never the devices."""
        return serve_report(query, authorization, engine=self._engine, cluster=self.config.cluster,
                            compiled=lambda: self._compiler.result,
                            view=self._watcher.cache if self._watcher is not None else None,
                            configured=[d.name for d in self.config.devices], ready=self.compiled,
                            capacity=lambda: capacities(self.device_reports()),
                            transport=lambda: self.transport.findings)

    def flows_answer(self, query: str, authorization: str | None, content_type: str | None,
                     content_length: int | None, read: Callable[[int], bytes]) -> HttpAnswer:
        """`POST /v1/flows` (connector.flows.push); 404 when flows are not configured."""
        if self.flows is None:
            return not_enabled()
        return self.flows.answer(query, authorization, content_type, content_length, read)

    def device_reports(self) -> dict[str, DeviceReport]:
        return self.book.reports()

    def write_statuses(self) -> int:
        """Write every rule status whose content changed; returns the number written."""
        return self.statuses.write()

    # ------------------------------------------------------------------ store and cache
    def _namespace_uid(self, name: str) -> str:
        obj = self._watcher.cache.get(Kind.NAMESPACE, "", name) if self._watcher is not None else None
        return str(((obj or {}).get("metadata") or {}).get("uid") or "")

    def _object_uid(self, kind: str, namespace: str, name: str) -> str:
        """The uid of a watched object by its kind name (`Namespace`, `ClusterEgressRule`, ...)."""
        found = next((info.kind for info in KINDS.values() if info.object_kind == kind), None)
        if found is None or self._watcher is None:
            return ""
        obj = self._watcher.cache.get(found, namespace, name)
        return str(((obj or {}).get("metadata") or {}).get("uid") or "")

    def _register_devices(self, store: Store) -> None:
        for device in self.config.devices:
            store.devices.register(device.name, device.type, device.url)

    def _record_snapshot(self, result: CompileResult) -> None:
        self._with_store(lambda store: record_snapshot(store, result, self.config.devices))

    def _with_store(self, work: Callable[[Store], None]) -> None:
        assert self._engine is not None
        with session_factory(self._engine).begin() as session:
            work(Store(session, self.config.cluster))
