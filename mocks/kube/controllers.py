"""Controllers that make the mock behave like a small cluster.

`Kubelet` (scheduler + kubelet in one): a pod created without a status phase beyond Pending gets,
in one MODIFIED event right after its ADDED one, a node (when `spec.nodeName` is unset: the
existing Nodes round-robin in name order; none when there are no Nodes), a pod IP and phase
Running with Ready conditions. Pod IPs come from `pod_cidr` (default 10.244.0.0/14) and, for dual
stack, `pod_cidr_v6` (default fd00:10:244::/64). Annotations on the pod:
  mock.fusion-connector.io/ipv6: "true"  dual stack (IPv4 first, then IPv6); "only": IPv6 only
  mock.fusion-connector.io/phase: Pending leaves the pod alone; Running (default), Succeeded, Failed
  mock.fusion-connector.io/ready: "false" Running but not Ready
`spec.hostNetwork: true` pods get their node's InternalIP. Status written later (e.g. through the
status subresource) is left alone, and so is a pod created with a status that has a phase (a real
server would reset it; keeping it lets tests create running pods in one call). Bulk-loaded pods
(`/_mock/load`) without a phase get the same status inline, in their single ADDED event. A deleted
pod's IP returns to the pool.

`EgressIPController` (OVN-Kubernetes): assigns each EgressIP's `spec.egressIPs` to the Nodes labelled
`k8s.ovn.org/egress-assignable` (round-robin in name order) and writes `status.items[]`
(`egressIP`, `node`) when the EgressIP's spec changes or assignable Nodes come and go; with no
assignable Node it leaves the status alone (so tests may set it through the status subresource).

`EndpointSliceController`: for every Service with a selector (but ExternalName), EndpointSlices labelled
`kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by:
endpointslice-controller.k8s.io`, one set per address family of the Service (`spec.ipFamilies`),
at most 100 endpoints per slice, listing matching pods that have an IP of that family (ready or
not, with `conditions.ready/serving/terminating`, `nodeName` and `targetRef`), kept up to date
incrementally as pods and Services change.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from mocks.kube.api import Api
from mocks.kube.errors import ApiError
from mocks.kube.ipam import IpPool
from mocks.kube.meta import now
from mocks.kube.resources import ResourceType
from mocks.kube.selectors import labels_match
from mocks.kube.store import ADDED, DELETED, Event

Obj = dict[str, Any]
POD_KEY = ("", "pods")
SERVICE_KEY = ("", "services")
NODE_KEY = ("", "nodes")
SLICE_KEY = ("discovery.k8s.io", "endpointslices")
ANNOTATION_IPV6 = "mock.fusion-connector.io/ipv6"
ANNOTATION_PHASE = "mock.fusion-connector.io/phase"
ANNOTATION_READY = "mock.fusion-connector.io/ready"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MAX_ENDPOINTS = 100


def pod_ips(pod: Obj) -> list[str]:
    status = pod.get("status") or {}
    ips = [entry.get("ip") for entry in status.get("podIPs") or [] if isinstance(entry, dict)]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return [ip for ip in ips if ip]


def pod_ready(pod: Obj) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


class Kubelet:
    def __init__(
        self, api: Api, pod_cidr: str = "10.244.0.0/14", pod_cidr_v6: str = "fd00:10:244::/64"
    ) -> None:
        self.api = api
        self.pool = IpPool(pod_cidr)
        self.pool_v6 = IpPool(pod_cidr_v6)
        self._turn = 0
        self._lock = threading.Lock()
        self._load_nodes: list[str] | None = None

    def reset(self) -> None:
        self.pool.reset()
        self.pool_v6.reset()
        self._turn = 0

    def on_event(self, event: Event) -> None:
        if event.key != POD_KEY:
            return
        if event.type == DELETED:
            self._release(event.obj)
            return
        if event.type != ADDED:
            return
        pod = event.obj
        if (pod.get("status") or {}).get("phase") != "Pending" or pod_ips(pod):
            for ip in pod_ips(pod):
                self.pool.reserve(ip)
                self.pool_v6.reserve(ip)
            return
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        if annotations.get(ANNOTATION_PHASE, "Running") == "Pending":
            return
        metadata = pod["metadata"]

        def run(current: Obj) -> Obj:
            if (current.get("status") or {}).get("phase") != "Pending" or pod_ips(current):
                return current  # someone set the status meanwhile: leave it alone
            spec = dict(current.get("spec") or {})
            if self._needs_node(current):
                spec["nodeName"] = self._spec_node(current)
            updated = {**current, "spec": spec}
            updated["status"] = self.status_for(updated)
            return updated

        try:
            self.api.update_with(self._rtype(), metadata["namespace"], metadata["name"], run)
        except ApiError:
            return

    def _rtype(self) -> ResourceType:
        return self.api.type_of(POD_KEY)

    def _needs_node(self, pod: Obj) -> bool:
        return not (pod.get("spec") or {}).get("nodeName") and self.api.store.count(NODE_KEY) > 0

    def _node_names(self) -> list[str]:
        if self._load_nodes is not None:
            return self._load_nodes
        _, nodes = self.api.store.snapshot(NODE_KEY, None)
        return [str(n["metadata"]["name"]) for n in nodes]

    def begin_load(self) -> None:
        """Bulk load starts: node names are read once for all the pods it brings."""
        self._load_nodes = self._node_names()

    def end_load(self) -> None:
        self._load_nodes = None

    def _spec_node(self, pod: Obj) -> str | None:
        names = self._node_names()
        if not names:
            return None
        with self._lock:
            name = names[self._turn % len(names)]
            self._turn += 1
        return name

    def _node_ip(self, node_name: str | None) -> str | None:
        if not node_name:
            return None
        node = self.api.store.get(NODE_KEY, "", node_name)
        for address in ((node or {}).get("status") or {}).get("addresses") or []:
            if address.get("type") == "InternalIP":
                return str(address.get("address"))
        return None

    def status_for(self, pod: Obj) -> Obj:
        """The status the kubelet gives a pod (allocating its IPs)."""
        annotations = (pod.get("metadata") or {}).get("annotations") or {}
        spec = pod.get("spec") or {}
        phase = annotations.get(ANNOTATION_PHASE, "Running")
        ready = phase == "Running" and annotations.get(ANNOTATION_READY, "true").lower() != "false"
        node_name = spec.get("nodeName")
        host_ip = self._node_ip(node_name)
        if spec.get("hostNetwork") and host_ip:
            ips = [host_ip]
        else:
            family = str(annotations.get(ANNOTATION_IPV6, "")).lower()
            ips = [] if family == "only" else [self.pool.allocate()]
            if family in ("true", "only", "dual"):
                ips.append(self.pool_v6.allocate())
        stamp = now()
        flag = "True" if ready else "False"
        status: Obj = {
            "phase": phase,
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": stamp},
                {"type": "Initialized", "status": "True", "lastTransitionTime": stamp},
                {"type": "Ready", "status": flag, "lastTransitionTime": stamp},
                {"type": "ContainersReady", "status": flag, "lastTransitionTime": stamp},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp},
            ],
            "podIP": ips[0],
            "podIPs": [{"ip": ip} for ip in ips],
            "startTime": stamp,
            "qosClass": "BestEffort",
            "containerStatuses": [
                {
                    "name": c.get("name"),
                    "image": c.get("image"),
                    "imageID": "",
                    "ready": ready,
                    "restartCount": 0,
                    "started": phase == "Running",
                    "state": {"running": {"startedAt": stamp}},
                }
                for c in spec.get("containers") or []
                if isinstance(c, dict)
            ],
        }
        if host_ip:
            status["hostIP"] = host_ip
            status["hostIPs"] = [{"ip": host_ip}]
        return status

    def prepare_loaded(self, rtype: ResourceType, obj: Obj) -> None:
        """Give a bulk-loaded pod without a phase its node and status inline (no extra event)."""
        if rtype.key != POD_KEY:
            return
        status = obj.get("status") or {}
        if status.get("phase"):
            for ip in pod_ips(obj):
                self.pool.reserve(ip)
                self.pool_v6.reserve(ip)
            return
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        spec = dict(obj.get("spec") or {})
        if not spec.get("nodeName"):
            node = self._spec_node(obj)
            if node:
                spec["nodeName"] = node
        obj["spec"] = spec
        if annotations.get(ANNOTATION_PHASE, "Running") == "Pending":
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
            return
        obj["status"] = self.status_for(obj)

    def _release(self, pod: Obj) -> None:
        for ip in pod_ips(pod):
            self.pool.release(ip)
            self.pool_v6.release(ip)


def _family(ip: str) -> str:
    return "IPv6" if ":" in ip else "IPv4"


def _selector(service: Obj) -> dict[str, str] | None:
    """The selector the EndpointSlice controller follows (none for ExternalName Services)."""
    spec = service.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return None
    selector = spec.get("selector")
    return selector if isinstance(selector, dict) and selector else None


def _selects(selector: dict[str, str] | None, pod: Obj | None) -> bool:
    """Whether a Service selector picks this pod as an endpoint (terminal pods never are)."""
    if pod is None or not selector:
        return False
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    return labels_match(selector, (pod.get("metadata") or {}).get("labels"))


class EndpointSliceController:
    """Keeps each selector Service's EndpointSlices in step with its pods.

    Membership (the pods a Service selects) is computed in full when the Service changes and
    updated incrementally, from the stored pod, when one pod changes; all of it under the store
    lock, so concurrent requests cannot interleave stale writes."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self._endpoints: dict[tuple[str, str], tuple[Obj, dict[str, Obj]]] = {}
        self._members: dict[tuple[str, str], dict[str, Obj]] = {}

    def reset(self) -> None:
        with self.api.store.lock:
            self._endpoints.clear()
            self._members.clear()

    def pod_endpoints(self, pod: Obj) -> dict[str, Obj]:
        """address family -> the pod's endpoint, computed once per stored version of the pod."""
        metadata = pod["metadata"]
        key = (metadata.get("namespace") or "", metadata["name"])
        cached = self._endpoints.get(key)
        if cached is not None and cached[0] is pod:
            return cached[1]
        entries: dict[str, Obj] = {}
        for ip in pod_ips(pod):
            entries.setdefault(_family(ip), self._endpoint(pod, ip))
        self._endpoints[key] = (pod, entries)
        return entries

    def on_event(self, event: Event) -> None:
        if event.key == SERVICE_KEY:
            self.sync_service(event.namespace, event.obj["metadata"]["name"])
        elif event.key == POD_KEY:
            with self.api.store.lock:
                self._pod_changed(event)

    def _pod_changed(self, event: Event) -> None:
        namespace, name = event.namespace, event.obj["metadata"]["name"]
        current = self.api.store.get(POD_KEY, namespace, name)
        if current is None:
            self._endpoints.pop((namespace, name), None)
        label_sets = [(event.obj.get("metadata") or {}).get("labels")]
        if event.old is not None:
            label_sets.append((event.old.get("metadata") or {}).get("labels"))
        if current is not None:
            label_sets.append((current.get("metadata") or {}).get("labels"))
        _, services = self.api.store.snapshot(SERVICE_KEY, namespace)
        for service in list(services):
            selector = _selector(service)
            if not selector or not any(labels_match(selector, labels) for labels in label_sets):
                continue
            service_name = service["metadata"]["name"]
            members = self._members.get((namespace, service_name))
            if members is None:
                self._sync_locked(namespace, service_name)
                continue
            if current is not None and _selects(selector, current):
                if members.get(name) is current:
                    continue
                members[name] = current
            elif members.pop(name, None) is None:
                continue
            self._write(service, members)

    def sync_all(self, namespaces: set[str] | None = None) -> None:
        _, services = self.api.store.snapshot(SERVICE_KEY, None)
        for service in list(services):
            namespace = service["metadata"]["namespace"]
            if namespaces is None or namespace in namespaces:
                self.sync_service(namespace, service["metadata"]["name"])

    def _existing(self, namespace: str, service: str) -> dict[str, Obj]:
        _, slices = self.api.store.snapshot(SLICE_KEY, namespace)
        return {
            s["metadata"]["name"]: s
            for s in slices
            if (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == service
            and (s["metadata"].get("labels") or {}).get(MANAGED_BY) == CONTROLLER_NAME
        }

    def members(self, service: Obj) -> dict[str, Obj]:
        """The pods a Service selects, by name (computed from the store)."""
        selector = _selector(service)
        if not selector:
            return {}
        _, pods = self.api.store.snapshot(POD_KEY, service["metadata"]["namespace"])
        return {p["metadata"]["name"]: p for p in pods if _selects(selector, p)}

    def desired(self, service: Obj, members: dict[str, Obj]) -> dict[str, Obj]:
        """The EndpointSlices a Service with these member pods should have, by name."""
        metadata = service["metadata"]
        spec = service.get("spec") or {}
        if not _selector(service):
            return {}
        namespace, name = metadata["namespace"], metadata["name"]
        matched = [members[pod_name] for pod_name in sorted(members)]
        ports = self._ports(spec, matched)
        out: dict[str, Obj] = {}
        for family in spec.get("ipFamilies") or ["IPv4"]:
            endpoints = []
            for pod in matched:
                endpoint = self.pod_endpoints(pod).get(family)
                if endpoint is not None:
                    endpoints.append(endpoint)
            chunks = [endpoints[i : i + MAX_ENDPOINTS] for i in range(0, len(endpoints), MAX_ENDPOINTS)]
            for index, chunk in enumerate(chunks or [[]]):
                suffix = hashlib.sha256(f"{metadata.get('uid')}/{family}/{index}".encode()).hexdigest()[:5]
                slice_name = f"{name[:57]}-{suffix}"
                out[slice_name] = {
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {
                        "name": slice_name,
                        "namespace": namespace,
                        "generateName": f"{name[:57]}-",
                        "labels": {SERVICE_NAME_LABEL: name, MANAGED_BY: CONTROLLER_NAME},
                        "ownerReferences": [
                            {
                                "apiVersion": "v1",
                                "kind": "Service",
                                "name": name,
                                "uid": metadata.get("uid"),
                                "controller": True,
                                "blockOwnerDeletion": True,
                            }
                        ],
                    },
                    "addressType": family,
                    "endpoints": chunk,
                    "ports": ports,
                }
        return out

    @staticmethod
    def _endpoint(pod: Obj, ip: str) -> Obj:
        metadata = pod["metadata"]
        terminating = bool(metadata.get("deletionTimestamp"))
        ready = pod_ready(pod) and not terminating
        endpoint: Obj = {
            "addresses": [ip],
            "conditions": {"ready": ready, "serving": pod_ready(pod), "terminating": terminating},
            "targetRef": {
                "kind": "Pod",
                "namespace": metadata["namespace"],
                "name": metadata["name"],
                "uid": metadata.get("uid"),
            },
        }
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            endpoint["nodeName"] = node
        return endpoint

    @staticmethod
    def _ports(spec: Obj, pods: list[Obj]) -> list[Obj]:
        ports = []
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            if isinstance(target, str):
                target = next(
                    (
                        p.get("containerPort")
                        for pod in pods
                        for c in (pod.get("spec") or {}).get("containers") or []
                        for p in c.get("ports") or []
                        if p.get("name") == target
                    ),
                    None,
                )
                if target is None:
                    continue
            ports.append(
                {"name": port.get("name", ""), "port": target, "protocol": port.get("protocol", "TCP")}
            )
        return ports

    def sync_service(self, namespace: str, name: str) -> None:
        """Recompute a Service's membership in full and bring its slices to the desired state."""
        with self.api.store.lock:
            self._sync_locked(namespace, name)

    def _sync_locked(self, namespace: str, name: str) -> None:
        service = self.api.store.get(SERVICE_KEY, namespace, name)
        if service is None or not _selector(service):
            self._members.pop((namespace, name), None)
            self._write_slices(namespace, name, {})
            return
        members = self.members(service)
        self._members[(namespace, name)] = members
        self._write(service, members)

    def _write(self, service: Obj, members: dict[str, Obj]) -> None:
        metadata = service["metadata"]
        self._write_slices(metadata["namespace"], metadata["name"], self.desired(service, members))

    def _write_slices(self, namespace: str, name: str, wanted: dict[str, Obj]) -> None:
        rtype = self.api.type_of(SLICE_KEY)
        existing = self._existing(namespace, name)
        for slice_name in existing:
            if slice_name not in wanted:
                try:
                    self.api.delete(rtype, namespace, slice_name)
                except ApiError:
                    continue
        for slice_name, body in wanted.items():
            current = existing.get(slice_name)
            try:
                if current is None:
                    self.api.create(rtype, namespace, body)
                elif current.get("endpoints") != body["endpoints"] or current.get("ports") != body["ports"]:
                    self.api.replace(
                        rtype,
                        namespace,
                        slice_name,
                        {**current, "endpoints": body["endpoints"], "ports": body["ports"]},
                    )
            except ApiError:
                continue


EGRESS_IP_KEY = ("k8s.ovn.org", "egressips")
EGRESS_ASSIGNABLE = "k8s.ovn.org/egress-assignable"


def _assignable(node: Obj | None) -> bool:
    return node is not None and EGRESS_ASSIGNABLE in ((node.get("metadata") or {}).get("labels") or {})


class EgressIPController:
    """Writes EgressIP status the way OVN-Kubernetes does (see the module docstring)."""

    def __init__(self, api: Api) -> None:
        self.api = api

    def on_event(self, event: Event) -> None:
        if event.key == EGRESS_IP_KEY and event.type != DELETED:
            if event.old is None or (event.old.get("spec") != event.obj.get("spec")):
                self.assign(event.obj["metadata"]["name"])
        elif event.key == NODE_KEY and _assignable(event.obj) != _assignable(
            event.old if event.type != DELETED else None
        ):
            _, egress_ips = self.api.store.snapshot(EGRESS_IP_KEY, None)
            for egress_ip in list(egress_ips):
                self.assign(egress_ip["metadata"]["name"])

    def assign(self, name: str) -> None:
        _, nodes = self.api.store.snapshot(NODE_KEY, None)
        assignable = [str(n["metadata"]["name"]) for n in nodes if _assignable(n)]
        if not assignable:
            return

        def run(current: Obj) -> Obj:
            ips = (current.get("spec") or {}).get("egressIPs") or []
            items = [{"egressIP": ip, "node": assignable[i % len(assignable)]} for i, ip in enumerate(ips)]
            return {**current, "status": {"items": items}}

        try:
            self.api.update_with(self.api.type_of(EGRESS_IP_KEY), "", name, run)
        except (ApiError, KeyError):
            return
