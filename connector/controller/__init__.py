"""The controller runtime behind `fusion-connector run` (see `controller`).

- `Controller(config, secrets, ControllerOptions(...)).start()` ... `.stop()` (controller, options).
- `ReconcileLoop` (loop): compiles and hands desired states to the workers, told by `messages`.
- `DeviceWorker` (worker): debounced, coalescing, retried per-device sync thread; `DeviceSyncs`
  (syncing) runs one sync, `Accounting` (accounting) accounts its outcome into the `DeviceBook`
  (device_book), metrics and Events.
- `WriteFence` (fence): device writes only while this process leads.
- `LeaderElector` (leader): Lease-based leader election.
- `StatusWriter` (status_writer) writes rule statuses built by `build_status` (status_subresource)
  from each device's `DeviceReport` (device_report).
- `EventRecorder`, `EventChannel` (events): aggregated Events; `NamespaceWarnings`
  (namespace_warnings).
- `Health` (health): liveness and readiness; `TransportSecurity` (transport).
- `ControllerMetrics` (metrics): the Prometheus metrics.
"""

from connector.controller.controller import Controller
from connector.controller.device_report import DeviceReport, fingerprints
from connector.controller.events import EventRecorder, ObjectRef
from connector.controller.leader import LeaderElector
from connector.controller.metrics import ControllerMetrics
from connector.controller.options import ControllerOptions, lease_name
from connector.controller.status_subresource import build_status
from connector.controller.worker import DeviceWorker, Job

__all__ = [
    "Controller",
    "ControllerMetrics",
    "ControllerOptions",
    "DeviceReport",
    "DeviceWorker",
    "EventRecorder",
    "Job",
    "LeaderElector",
    "ObjectRef",
    "build_status",
    "fingerprints",
    "lease_name",
]
