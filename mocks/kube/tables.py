"""`meta.k8s.io` Table output (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`).

Built-in kinds get the columns the real server prints for them (pods: Name, Ready, Status,
Restarts, Age and, at priority 1 for `-o wide`, IP, Node, Nominated Node, Readiness Gates;
namespaces, services, nodes, endpointslices, events, configmaps, secrets, serviceaccounts, leases,
RBAC bindings); other built-ins Name and Created At. Custom resources get Name plus their CRD
version's `additionalPrinterColumns` (JSONPath, typed cells, `date` as an age; Age alone when the
CRD declares none). `includeObject` is `Metadata` (default: PartialObjectMetadata), `Object` or `None`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from mocks.kube import jsonpath
from mocks.kube.errors import bad_request
from mocks.kube.resources import ResourceType

Obj = dict[str, Any]
Column = dict[str, Any]
NONE = "<none>"
INCLUDE = ("None", "Object", "Metadata")


def human_duration(seconds: float) -> str:
    """An age the way kubectl and the server print it (`45s`, `3m20s`, `5h`, `12d`)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = hours // 24 % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def age(timestamp: Any) -> str:
    if not isinstance(timestamp, str) or not timestamp:
        return "<unknown>"
    try:
        then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<invalid>"
    return human_duration((datetime.now(UTC) - then).total_seconds())


def _col(name: str, kind: str = "string", description: str = "", priority: int = 0, fmt: str = "") -> Column:
    return {"name": name, "type": kind, "format": fmt, "description": description, "priority": priority}


NAME = _col("Name", fmt="name", description="Name must be unique within a namespace.")
AGE = _col("Age", description="Time since the object was created (metadata.creationTimestamp).")


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


# --- built-in printers ---------------------------------------------------------------------------
def _pod(pod: Obj) -> list[Any]:
    status, spec = _status(pod), _spec(pod)
    containers = spec.get("containers") or []
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for container in statuses:
        state = container.get("state") or {}
        waiting = (state.get("waiting") or {}).get("reason")
        terminated = state.get("terminated") or {}
        if waiting:
            reason = waiting
        elif terminated.get("reason"):
            reason = terminated["reason"]
    if _meta(pod).get("deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    ips = [entry.get("ip") for entry in status.get("podIPs") or [] if isinstance(entry, dict)]
    gates = spec.get("readinessGates") or []
    if gates:
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        passed = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
        gate_text = f"{passed}/{len(gates)}"
    else:
        gate_text = NONE
    return [
        _meta(pod).get("name"),
        f"{ready}/{len(containers)}",
        reason,
        str(restarts),
        age(_meta(pod).get("creationTimestamp")),
        (ips[0] if ips else status.get("podIP")) or NONE,
        spec.get("nodeName") or NONE,
        status.get("nominatedNodeName") or NONE,
        gate_text,
    ]


def _namespace(ns: Obj) -> list[Any]:
    return [_meta(ns).get("name"), _status(ns).get("phase", ""), age(_meta(ns).get("creationTimestamp"))]


def _service_ports(spec: Obj) -> str:
    out = []
    for port in spec.get("ports") or []:
        protocol = port.get("protocol", "TCP")
        if port.get("nodePort"):
            out.append(f"{port.get('port')}:{port['nodePort']}/{protocol}")
        else:
            out.append(f"{port.get('port')}/{protocol}")
    return ",".join(out) or NONE


def _service(svc: Obj) -> list[Any]:
    spec = _spec(svc)
    kind = spec.get("type", "ClusterIP")
    if kind == "ExternalName":
        external = spec.get("externalName") or NONE
    elif kind == "LoadBalancer":
        ingress = (_status(svc).get("loadBalancer") or {}).get("ingress") or []
        names = [i.get("ip") or i.get("hostname") for i in ingress] + list(spec.get("externalIPs") or [])
        external = ",".join(n for n in names if n) or "<pending>"
    else:
        external = ",".join(spec.get("externalIPs") or []) or NONE
    selector = spec.get("selector") or {}
    return [
        _meta(svc).get("name"),
        kind,
        spec.get("clusterIP") or NONE,
        external,
        _service_ports(spec),
        age(_meta(svc).get("creationTimestamp")),
        ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or NONE,
    ]


def _node(node: Obj) -> list[Any]:
    status = _status(node)
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    state = "Unknown" if ready is None else ("Ready" if ready.get("status") == "True" else "NotReady")
    if _spec(node).get("unschedulable"):
        state += ",SchedulingDisabled"
    prefix = "node-role.kubernetes.io/"
    roles = sorted(k[len(prefix) :] for k in (_meta(node).get("labels") or {}) if k.startswith(prefix))
    addresses = status.get("addresses") or []

    def address(kind: str) -> str:
        return next((a.get("address") for a in addresses if a.get("type") == kind), None) or NONE

    info = status.get("nodeInfo") or {}
    return [
        _meta(node).get("name"),
        state,
        ",".join(roles) or NONE,
        age(_meta(node).get("creationTimestamp")),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _endpoint_slice(eps: Obj) -> list[Any]:
    ports = [str(p.get("port")) for p in eps.get("ports") or [] if p.get("port") is not None]
    addresses = [a for e in eps.get("endpoints") or [] for a in e.get("addresses") or []]
    shown = ",".join(addresses[:3]) + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")
    return [
        _meta(eps).get("name"),
        eps.get("addressType", ""),
        ",".join(ports) or "<unset>",
        shown or "<unset>",
        age(_meta(eps).get("creationTimestamp")),
    ]


def _event(event: Obj) -> list[Any]:
    involved = event.get("involvedObject") or event.get("regarding") or {}
    last = event.get("lastTimestamp") or event.get("eventTime") or _meta(event).get("creationTimestamp")
    return [
        age(last),
        event.get("type", ""),
        event.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        event.get("message") or event.get("note") or "",
    ]


def _data(obj: Obj) -> int:
    return len(obj.get("data") or {}) + len(obj.get("binaryData") or {})


def _binding(binding: Obj) -> list[Any]:
    ref = binding.get("roleRef") or {}
    subjects = binding.get("subjects") or []

    def names(kind: str) -> str:
        out = []
        for s in subjects:
            if s.get("kind") == kind:
                out.append(
                    f"{s.get('namespace')}/{s.get('name')}" if kind == "ServiceAccount" else s.get("name")
                )
        return ", ".join(out)

    return [
        _meta(binding).get("name"),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        age(_meta(binding).get("creationTimestamp")),
        names("User"),
        names("Group"),
        names("ServiceAccount"),
    ]


Printer = tuple[list[Column], Callable[[Obj], list[Any]]]
BINDING: Printer = (
    [
        NAME,
        _col("Role", description="The role the binding grants."),
        AGE,
        _col("Users", priority=1, description="Users in the binding."),
        _col("Groups", priority=1, description="Groups in the binding."),
        _col("ServiceAccounts", priority=1, description="ServiceAccounts in the binding."),
    ],
    _binding,
)
PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "pods"): (
        [
            NAME,
            _col("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
            _col("Status", description="The aggregate status of the containers in this pod."),
            _col(
                "Restarts", description="The number of times the containers in this pod have been restarted."
            ),
            AGE,
            _col("IP", priority=1, description="IP address allocated to the pod."),
            _col("Node", priority=1, description="Name of the Node the pod is assigned to."),
            _col("Nominated Node", priority=1, description="Node the scheduler nominated for the pod."),
            _col("Readiness Gates", priority=1, description="Readiness gates passed out of declared."),
        ],
        _pod,
    ),
    ("", "namespaces"): ([NAME, _col("Status", description="The status of the namespace."), AGE], _namespace),
    ("", "services"): (
        [
            NAME,
            _col("Type", description="How the Service is exposed."),
            _col("Cluster-IP", description="The IP address of the service."),
            _col("External-IP", description="External addresses of the service."),
            _col("Port(s)", description="The ports the service exposes."),
            AGE,
            _col("Selector", priority=1, description="The pods the service routes traffic to."),
        ],
        _service,
    ),
    ("", "nodes"): (
        [
            NAME,
            _col("Status", description="The status of the node."),
            _col("Roles", description="The roles of the node."),
            AGE,
            _col("Version", description="Kubelet version."),
            _col("Internal-IP", priority=1, description="The node's internal address."),
            _col("External-IP", priority=1, description="The node's external address."),
            _col("OS-Image", priority=1, description="The node's operating system image."),
            _col("Kernel-Version", priority=1, description="The node's kernel version."),
            _col("Container-Runtime", priority=1, description="The node's container runtime."),
        ],
        _node,
    ),
    ("discovery.k8s.io", "endpointslices"): (
        [
            NAME,
            _col("AddressType", description="The type of address carried by this EndpointSlice."),
            _col("Ports", description="Ports of the EndpointSlice."),
            _col("Endpoints", description="Addresses of the endpoints."),
            AGE,
        ],
        _endpoint_slice,
    ),
    ("", "events"): (
        [
            _col("Last Seen", description="Time since the event was last seen."),
            _col("Type", description="Normal or Warning."),
            _col("Reason", description="Why the event happened."),
            _col("Object", description="The object the event is about."),
            _col("Message", description="What happened."),
        ],
        _event,
    ),
    ("", "configmaps"): (
        [NAME, _col("Data", "integer", "Number of data entries."), AGE],
        lambda o: [_meta(o).get("name"), _data(o), age(_meta(o).get("creationTimestamp"))],
    ),
    ("", "secrets"): (
        [
            NAME,
            _col("Type", description="The type of the secret."),
            _col("Data", "integer", "Number of data entries."),
            AGE,
        ],
        lambda o: [
            _meta(o).get("name"),
            o.get("type", "Opaque"),
            _data(o),
            age(_meta(o).get("creationTimestamp")),
        ],
    ),
    ("", "serviceaccounts"): (
        [NAME, _col("Secrets", "integer", "Number of secrets."), AGE],
        lambda o: [_meta(o).get("name"), len(o.get("secrets") or []), age(_meta(o).get("creationTimestamp"))],
    ),
    ("coordination.k8s.io", "leases"): (
        [NAME, _col("Holder", description="The holder of the lease."), AGE],
        lambda o: [
            _meta(o).get("name"),
            _spec(o).get("holderIdentity", ""),
            age(_meta(o).get("creationTimestamp")),
        ],
    ),
    ("rbac.authorization.k8s.io", "rolebindings"): BINDING,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): BINDING,
}
PRINTERS[("events.k8s.io", "events")] = PRINTERS[("", "events")]
DEFAULT: Printer = (
    [NAME, _col("Created At", "date", "Time the object was created.")],
    lambda o: [_meta(o).get("name"), _meta(o).get("creationTimestamp")],
)


# --- custom resources ----------------------------------------------------------------------------
def custom_columns(rtype: ResourceType) -> list[Column]:
    """The CRD version's printer columns (Age when it declares none), as the CRD states them."""
    declared = rtype.extra.get("printerColumns") or []
    if not declared:
        return [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    return [dict(c) for c in declared]


def _cell(kind: str, values: list[Any]) -> Any:
    if not values:
        return None
    value = values[0]
    if kind == "string":
        texts = [v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for v in values]
        return " ".join(texts)
    if kind == "integer" and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "date" and isinstance(value, str):
        return age(value)
    return None


def _custom_printer(rtype: ResourceType) -> Printer:
    declared = custom_columns(rtype)
    columns = [NAME] + [
        _col(
            c["name"],
            c.get("type", "string"),
            c.get("description", ""),
            int(c.get("priority") or 0),
            c.get("format", ""),
        )
        for c in declared
    ]

    def cells(obj: Obj) -> list[Any]:
        out: list[Any] = [_meta(obj).get("name")]
        for column in declared:
            try:
                out.append(_cell(column.get("type", "string"), jsonpath.find(obj, column["jsonPath"])))
            except jsonpath.JsonPathError:
                out.append(None)
        return out

    return columns, cells


def printer(rtype: ResourceType) -> Printer:
    if rtype.custom:
        return _custom_printer(rtype)
    return PRINTERS.get(rtype.key, DEFAULT)


# --- tables --------------------------------------------------------------------------------------
def include_mode(query: dict[str, list[str]]) -> str:
    mode = (query.get("includeObject") or ["Metadata"])[0] or "Metadata"
    if mode not in INCLUDE:
        raise bad_request(
            f'includeObject: Unsupported value: "{mode}": supported values: "Metadata", "None", "Object"'
        )
    return mode


def partial(obj: Obj, version: str = "v1") -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{version}", "metadata": _meta(obj)}


def _row(obj: Obj, cells: Callable[[Obj], list[Any]], include: str) -> Obj:
    row: Obj = {"cells": cells(obj)}
    if include == "Object":
        row["object"] = obj
    elif include == "Metadata":
        row["object"] = partial(obj)
    return row


def table(
    rtype: ResourceType, objects: Iterable[Obj], list_meta: Obj, include: str, version: str = "v1"
) -> Obj:
    """A Table of `objects` with `list_meta` (resourceVersion, continue, remainingItemCount)."""
    columns, cells = printer(rtype)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": list_meta,
        "columnDefinitions": columns,
        "rows": [_row(obj, cells, include) for obj in objects],
    }
