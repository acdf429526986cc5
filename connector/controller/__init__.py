"""The controller runtime behind `fusion-connector run` (see `controller`).

- `Controller(config, secrets, ControllerOptions(...)).start()` ... `.stop()`
- `DeviceWorker` (worker): debounced, coalescing, retried per-device sync thread.
- `LeaderElector` (leader): Lease-based leader election.
- `build_status` (status): rule status content; `EventRecorder` (events): aggregated Events.
- `ControllerMetrics` (metrics): the Prometheus metrics.
"""

from connector.controller.controller import Controller, ControllerOptions, lease_name
from connector.controller.events import EventRecorder, ObjectRef
from connector.controller.leader import LeaderElector
from connector.controller.metrics import ControllerMetrics
from connector.controller.status import DeviceReport, build_status, fingerprints
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
