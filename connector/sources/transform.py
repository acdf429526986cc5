"""Per-kind pruning of API objects before they are cached (like client-go's transform funcs).

Only what the connector reads is kept, which bounds memory at 100,000 pods: metadata without
`managedFields` and without the `kubectl.kubernetes.io/last-applied-configuration` annotation; for
pods only name, namespace, uid, resourceVersion, labels, annotations, owner references (kind, name,
uid, controller) and deletionTimestamp, plus the node, host network flag, phase and IPs, and when
the pod may first have held its IPs (`connector.compiler.addresses.pod_started`, from
creationTimestamp and status.startTime) as one int of epoch seconds under the metadata key
`fusion-connector.io/started` (absent when unknown; an int, not two time strings); for nodes
their addresses and pod CIDRs; for EndpointSlices the endpoints and ports. Other kinds (Services,
the fusion-connector.io resources, EgressIP) keep their whole spec and status. `kind` and
`apiVersion` are always set (list items from the API server carry neither). Transforms return new
dicts and never mutate their input.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from connector.cluster import KINDS, Kind, KindInfo, Obj
from connector.compiler.addresses import STARTED, pod_started

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

_METADATA_KEYS = ("name", "namespace", "uid", "resourceVersion", "generation", "labels",
                  "ownerReferences", "creationTimestamp", "deletionTimestamp")
_POD_METADATA_KEYS = ("name", "namespace", "uid", "resourceVersion", "labels", "ownerReferences",
                      "deletionTimestamp")
_OWNER_KEYS = ("kind", "name", "uid", "controller")
_POD_SPEC_KEYS = ("nodeName", "hostNetwork")
_POD_STATUS_KEYS = ("phase", "podIP", "podIPs", "hostIP", "hostIPs")
_NODE_SPEC_KEYS = ("podCIDR", "podCIDRs")
_NODE_STATUS_KEYS = ("addresses",)
_ENDPOINT_KEYS = ("addresses", "conditions", "nodeName", "targetRef")
_TARGET_REF_KEYS = ("kind", "namespace", "name", "uid")

Transform = Callable[[Obj], Obj]


def _pick(source: Any, keys: Iterable[str]) -> Obj:
    if not isinstance(source, dict):
        return {}
    return {key: source[key] for key in keys if key in source}


def _interned(value: Any) -> Any:
    return sys.intern(value) if type(value) is str else value


def _interned_map(mapping: Any) -> Any:
    if not isinstance(mapping, dict):
        return mapping
    return {_interned(key): _interned(value) for key, value in mapping.items()}


def prune_metadata(metadata: Any, keys: tuple[str, ...] = _METADATA_KEYS) -> Obj:
    """The metadata fields the connector reads; annotations without last-applied-configuration.
    Namespace and label strings are interned: they repeat across many objects."""
    kept = _pick(metadata, keys)
    if "namespace" in kept:
        kept["namespace"] = _interned(kept["namespace"])
    if "labels" in kept:
        kept["labels"] = _interned_map(kept["labels"])
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if annotations:
        if LAST_APPLIED in annotations:
            annotations = {key: value for key, value in annotations.items() if key != LAST_APPLIED}
        if annotations:
            kept["annotations"] = annotations
    return kept


def _base(obj: Obj, info: KindInfo) -> Obj:
    return {"apiVersion": info.api_version, "kind": info.object_kind,
            "metadata": prune_metadata(obj.get("metadata"))}


def _pod(obj: Obj, info: KindInfo) -> Obj:
    metadata = prune_metadata(obj.get("metadata"), _POD_METADATA_KEYS)
    started = pod_started(obj)
    if started:
        metadata[STARTED] = started
    owners = metadata.get("ownerReferences")
    if isinstance(owners, list):
        metadata["ownerReferences"] = [_interned_map(_pick(owner, _OWNER_KEYS)) for owner in owners]
    spec = _pick(obj.get("spec"), _POD_SPEC_KEYS)
    if "nodeName" in spec:
        spec["nodeName"] = _interned(spec["nodeName"])
    status = _pick(obj.get("status"), _POD_STATUS_KEYS)
    for key in ("phase", "hostIP"):
        if key in status:
            status[key] = _interned(status[key])
    return {"apiVersion": info.api_version, "kind": info.object_kind, "metadata": metadata,
            "spec": spec, "status": status}


def _node(obj: Obj, info: KindInfo) -> Obj:
    out = _base(obj, info)
    out["spec"] = _pick(obj.get("spec"), _NODE_SPEC_KEYS)
    out["status"] = _pick(obj.get("status"), _NODE_STATUS_KEYS)
    return out


def _namespace(obj: Obj, info: KindInfo) -> Obj:
    out = _base(obj, info)
    out["status"] = _pick(obj.get("status"), ("phase",))
    return out


def _endpoint(endpoint: Any) -> Obj:
    kept = _pick(endpoint, _ENDPOINT_KEYS)
    if "targetRef" in kept:
        kept["targetRef"] = _pick(kept["targetRef"], _TARGET_REF_KEYS)
    return kept


def _endpoint_slice(obj: Obj, info: KindInfo) -> Obj:
    out = _base(obj, info)
    if "addressType" in obj:
        out["addressType"] = obj["addressType"]
    out["endpoints"] = [_endpoint(endpoint) for endpoint in obj.get("endpoints") or []]
    if "ports" in obj:
        out["ports"] = obj["ports"]
    return out


def _spec_and_status(obj: Obj, info: KindInfo) -> Obj:
    out = _base(obj, info)
    for key in ("spec", "status"):
        if key in obj:
            out[key] = obj[key]
    return out


_BY_KIND: dict[Kind, Callable[[Obj, KindInfo], Obj]] = {
    Kind.POD: _pod,
    Kind.NODE: _node,
    Kind.NAMESPACE: _namespace,
    Kind.ENDPOINT_SLICE: _endpoint_slice,
}


def transform(kind: Kind, obj: Obj) -> Obj:
    """`obj` pruned to what the connector reads for `kind` (see the module docstring)."""
    return _BY_KIND.get(kind, _spec_and_status)(obj, KINDS[kind])


def transform_for(kind: Kind) -> Transform:
    """The transform of `kind` as a one-argument function."""
    function = _BY_KIND.get(kind, _spec_and_status)
    info = KINDS[kind]
    return lambda obj: function(obj, info)
