"""Source addresses from raw pods, EndpointSlices and nodes, and the group members built from
them (the compiler's reading of workloads; the watch caches are `connector.sources`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from connector.cluster import Obj
from connector.compiler.values import ValueProblem, labels_of, parse_host_ip
from connector.model import Identity

Members = tuple[tuple[str, tuple[Identity, ...]], ...]


@dataclass(frozen=True)
class PodInfo:
    """What the compiler needs of a pod. A pod in phase Succeeded or Failed has released its IPs
    and counts as inactive; a terminating pod (deletionTimestamp set) still sends traffic, so it
    stays active, in its groups, until it is deleted. `members` are its group members, built
    once; a pod on the host network (`spec.hostNetwork: true`, its IPs are its node's) has none: a
    pod-mode group holding its address would hold everything on that node (see
    docs/resources.md, "hostNetwork pods").
    `started` is when the pod may first have held its addresses (`pod_started`), 0 when unknown;
    it takes no part in equality (a start time alone changes nothing the compiler builds)."""

    name: str
    ips: tuple[str, ...]
    node: str
    labels: tuple[tuple[str, str], ...]
    active: bool
    members: Members = ()
    host_network: bool = False
    started: int = field(default=0, compare=False)  # the compiler never reads it


STARTED = "fusion-connector.io/started"  # the watch cache's copy of `pod_started`, in the metadata


def epoch_seconds(text: object) -> int:
    """An RFC 3339 time (`metav1.Time`) as whole epoch seconds; 0 when absent or not a time."""
    if not isinstance(text, str) or not text:
        return 0
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return 0
    return int(moment.timestamp()) if moment.tzinfo is not None else 0


def pod_started(obj: Obj) -> int:
    """The earliest moment (epoch seconds, 0 when unknown) a pod may hold its addresses: its IPs
    are assigned when the kubelet creates its sandbox, which comes after the kubelet recorded
    `status.startTime` and after the API server stamped `metadata.creationTimestamp`; both are
    sound bounds, and the later of the two is the tighter (a pod pending for an hour holds no
    address meanwhile; the API server's stamp also guards against a node clock running late).
    A pod from the watch cache carries the value under `STARTED` (connector/sources/transform.py)."""
    meta, status = obj.get("metadata"), obj.get("status")
    meta = meta if isinstance(meta, dict) else {}
    cached = meta.get(STARTED)
    if type(cached) is int:
        return cached
    start = status.get("startTime") if isinstance(status, dict) else None
    return max(epoch_seconds(meta.get("creationTimestamp")), epoch_seconds(start))


def read_pod(obj: Obj, namespace: str = "") -> PodInfo:
    """Read a pod; `namespace` defaults to the object's own."""
    meta = obj.get("metadata") or {}
    namespace = namespace or meta.get("namespace") or ""
    status = obj.get("status") or {}
    active = status.get("phase") not in ("Succeeded", "Failed")
    raw = [item.get("ip") for item in status.get("podIPs") or [] if isinstance(item, dict)]
    if not raw and status.get("podIP"):
        raw = [status.get("podIP")]
    ips: set[str] = set()
    for text in raw:
        try:
            ips.add(parse_host_ip(text))
        except ValueProblem:
            continue
    spec = obj.get("spec") or {}
    node = spec.get("nodeName") or ""
    host_network = spec.get("hostNetwork") is True
    identity = (Identity("Pod", namespace, meta.get("name") or ""),)
    return PodInfo(
        members=tuple((ip, identity) for ip in sorted(ips)) if active and not host_network else (),
        name=meta.get("name") or "",
        ips=tuple(sorted(ips)) if active else (),
        node=node if active else "",
        labels=tuple(sorted(labels_of(obj).items())),
        active=active,
        host_network=host_network,
        started=pod_started(obj),
    )


@dataclass(frozen=True)
class SliceInfo:
    """An EndpointSlice: the Service it belongs to and its endpoint addresses (ready or not)."""

    service: str
    addresses: tuple[str, ...]


SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def read_slice(obj: Obj) -> SliceInfo:
    service = labels_of(obj).get(SERVICE_NAME_LABEL, "")
    addresses: set[str] = set()
    for endpoint in obj.get("endpoints") or []:
        for text in (endpoint or {}).get("addresses") or []:
            try:
                addresses.add(parse_host_ip(text))
            except ValueProblem:
                continue
    return SliceInfo(service, tuple(sorted(addresses)))


def node_addresses(obj: Obj) -> tuple[str, ...]:
    """A node's InternalIP addresses (IPv4 and IPv6)."""
    found: set[str] = set()
    for item in (obj.get("status") or {}).get("addresses") or []:
        if isinstance(item, dict) and item.get("type") == "InternalIP":
            try:
                found.add(parse_host_ip(item.get("address")))
            except ValueProblem:
                continue
    return tuple(sorted(found))


def pod_members(pods: Iterable[PodInfo]) -> Members:
    """Pod IPs, each with the pods holding it (host network pods hold none)."""
    merged: list[tuple[str, tuple[Identity, ...]]] = []
    for member in sorted(member for pod in pods for member in pod.members):
        if merged and merged[-1][0] == member[0]:
            merged[-1] = (member[0], tuple(sorted({*merged[-1][1], *member[1]})))
        else:
            merged.append(member)  # the pod's own member tuple: renders recognise it across compiles
    return tuple(merged)


def node_members(pods: Iterable[PodInfo], nodes: dict[str, tuple[str, ...]]) -> Members:
    """InternalIPs of the nodes hosting `pods` (scheduled, active pods only)."""
    found: dict[str, set[Identity]] = {}
    for node in {pod.node for pod in pods if pod.node}:
        for ip in nodes.get(node, ()):
            found.setdefault(ip, set()).add(Identity("Node", "", node))
    return tuple((ip, tuple(sorted(ids))) for ip, ids in sorted(found.items()))
