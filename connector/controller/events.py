"""Kubernetes Events (core/v1) with client-side aggregation, like client-go's recorder.

Contract: `record(involved, type, reason, message)` creates an Event about the object `involved`
(a `ObjectRef`); repeating the same (object, type, reason, message) increments the existing
Event's `count` and `lastTimestamp` instead of creating another. An Event about a namespaced
object lives in that object's namespace; one about a cluster-scoped object (a ClusterEgressRule,
a Namespace) lives in `default` with no `involvedObject.namespace`, as the API server requires of
core/v1 Events and as client-go's recorder does. Failures to write Events are logged, never
raised: Events are informational.

`EventChannel` is where the controller's collaborators tell Events: nothing is written before the
controller connects a recorder at start, and each Event told is counted by reason
(`fusion_connector_events_total`).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from connector.cluster import Obj
from connector.controller.leader import micro_time
from connector.controller.metrics import ControllerMetrics
from connector.kube import KubeApi, KubernetesUnavailable

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"
COMPONENT = "fusion-connector"
MAX_KEYS = 4096
MAX_MESSAGE = 1024
CLUSTER_SCOPED_NAMESPACE = "default"  # where Events about cluster-scoped objects go


@dataclass(frozen=True)
class ObjectRef:
    """The object an Event is about."""

    kind: str
    api_version: str
    namespace: str
    name: str
    uid: str = ""

    def to_json(self) -> Obj:
        out: Obj = {"kind": self.kind, "apiVersion": self.api_version, "name": self.name}
        if self.namespace:
            out["namespace"] = self.namespace
        if self.uid:
            out["uid"] = self.uid
        return out


@dataclass
class _Seen:
    name: str
    namespace: str
    count: int


class EventRecorder:
    """Writes Events through `kube` as `instance` (see the module docstring)."""

    def __init__(self, kube: KubeApi, instance: str) -> None:
        self.kube = kube
        self.instance = instance
        self._seen: OrderedDict[tuple[ObjectRef, str, str, str], _Seen] = OrderedDict()
        self._lock = threading.Lock()
        self.written = 0

    def record(self, involved: ObjectRef, type: str, reason: str, message: str) -> None:
        message = message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"
        key = (involved, type, reason, message)
        now = micro_time()
        stamp = now[:19] + "Z"
        try:
            with self._lock:
                seen = self._seen.get(key)
                if seen is not None:
                    self._seen.move_to_end(key)
                    seen.count += 1
                    status, _ = self.kube.merge_patch(
                        f"/api/v1/namespaces/{seen.namespace}/events/{seen.name}",
                        {"count": seen.count, "lastTimestamp": stamp})
                    if status == 200:
                        self.written += 1
                        return
                    del self._seen[key]
                namespace = involved.namespace or CLUSTER_SCOPED_NAMESPACE
                name = f"{involved.name}.{secrets.token_hex(8)}"
                body: Obj = {
                    "apiVersion": "v1", "kind": "Event",
                    "metadata": {"name": name, "namespace": namespace},
                    "involvedObject": involved.to_json(),
                    "type": type, "reason": reason, "message": message,
                    "count": 1, "firstTimestamp": stamp, "lastTimestamp": stamp,
                    "source": {"component": COMPONENT, "host": self.instance},
                    "reportingComponent": COMPONENT, "reportingInstance": self.instance,
                }
                status, answer = self.kube.create(f"/api/v1/namespaces/{namespace}/events", body)
                if status not in (200, 201):
                    log.warning("event %s %s on %s/%s not written: HTTP %s %s", type, reason,
                                involved.kind, involved.name, status, answer.get("message", ""))
                    return
                self.written += 1
                self._seen[key] = _Seen(name, namespace, 1)
                while len(self._seen) > MAX_KEYS:
                    self._seen.popitem(last=False)
        except KubernetesUnavailable as exc:
            log.warning("event %s %s on %s/%s not written: %s", type, reason, involved.kind,
                        involved.name, exc)


class EventSink(Protocol):
    """What records Events (an `EventRecorder`)."""

    def record(self, involved: ObjectRef, type: str, reason: str, message: str) -> None: ...


class EventChannel:
    """The controller's Events: written through `recorder` once connected, each counted by reason."""

    def __init__(self, metrics: ControllerMetrics) -> None:
        self.metrics = metrics
        self.recorder: EventSink | None = None

    @property
    def connected(self) -> bool:
        return self.recorder is not None

    def tell(self, involved: ObjectRef, type: str, reason: str, message: str) -> None:
        """Record an Event about `involved` and count it; nothing before a recorder is connected."""
        if self.recorder is None:
            return
        self.recorder.record(involved, type, reason, message)
        self.metrics.events.labels(reason).inc()
