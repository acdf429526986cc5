"""Raw Kubernetes objects for compiler tests, in the shape the API server returns them."""

from __future__ import annotations

from typing import Any

from connector.compiler import CompileSettings
from connector.model import Capabilities

Obj = dict[str, Any]
FC = "fusion-connector.io/v1alpha1"


def settings(
    devices: tuple[str, ...] = ("fw1", "fw2"),
    *,
    no_fqdn: tuple[str, ...] = (),
    no_ipv6: tuple[str, ...] = (),
    no_wildcard: tuple[str, ...] = (),
    **kwargs: Any,
) -> CompileSettings:
    capabilities = tuple((d, Capabilities(fqdn=d not in no_fqdn, ipv6=d not in no_ipv6,
                                          wildcard_fqdn=d not in no_wildcard)) for d in devices)
    return CompileSettings(cluster="c1", devices=capabilities, **kwargs)


def namespace(
    name: str,
    *,
    managed: bool = True,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> Obj:
    all_labels = dict(labels or {})
    if managed:
        all_labels["fusion-connector.io/managed"] = "true"
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": all_labels, "annotations": dict(annotations or {})},
    }


def pod(
    ns: str,
    name: str,
    ips: list[str] | str,
    *,
    node: str = "node1",
    labels: dict[str, str] | None = None,
    phase: str = "Running",
    host_network: bool = False,
) -> Obj:
    """A pod; with `host_network` its IPs are its node's (pass the node's address as `ips`)."""
    ip_list = [ips] if isinstance(ips, str) else list(ips)
    status: Obj = {"phase": phase, "podIPs": [{"ip": ip} for ip in ip_list]}
    if ip_list:
        status["podIP"] = ip_list[0]
    spec: Obj = {"nodeName": node}
    if host_network:
        spec["hostNetwork"] = True
        status["hostIP"] = ip_list[0] if ip_list else ""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels or {})},
        "spec": spec,
        "status": status,
    }


def service(ns: str, name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"app": name}},
    }


def endpoint_slice(
    ns: str, svc: str, addresses: list[str], *, name: str | None = None, ready: bool = True
) -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name or f"{svc}-abc",
            "namespace": ns,
            "labels": {"kubernetes.io/service-name": svc},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [a], "conditions": {"ready": ready}} for a in addresses],
    }


def node(name: str, *ips: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {
            "addresses": [{"type": "InternalIP", "address": ip} for ip in ips]
            + [{"type": "Hostname", "address": name}]
        },
    }


def external_service(ns: str, name: str, addresses: list[str], ports: list[Obj] | None = None) -> Obj:
    spec: Obj = {"addresses": addresses}
    if ports is not None:
        spec["ports"] = ports
    return {
        "apiVersion": FC,
        "kind": "ExternalService",
        "metadata": {"name": name, "namespace": ns, "generation": 1},
        "spec": spec,
    }


def _rule(kind: str, name: str, ns: str | None, action: str, **fields: Any) -> Obj:
    meta: Obj = {"name": name, "generation": fields.pop("generation", 1)}
    if ns is not None:
        meta["namespace"] = ns
    spec: Obj = {"action": action}
    spec.update({k: v for k, v in fields.items() if v is not None})
    return {"apiVersion": FC, "kind": kind, "metadata": meta, "spec": spec}


def cluster_rule(name: str, action: str, **fields: Any) -> Obj:
    """Fields as in the spec: tier, priority, namespaceSelector, externalServices, devices, logging."""
    return _rule("ClusterEgressRule", name, None, action, **fields)


def namespace_rule(ns: str, name: str, action: str, **fields: Any) -> Obj:
    return _rule("NamespaceEgressRule", name, ns, action, **fields)


def service_rule(ns: str, name: str, action: str, svc: str, **fields: Any) -> Obj:
    return _rule("ServiceEgressRule", name, ns, action, service=svc, **fields)


def egress_ip(name: str, selector: Obj, *ips: str) -> Obj:
    return {
        "apiVersion": "k8s.ovn.org/v1",
        "kind": "EgressIP",
        "metadata": {"name": name},
        "spec": {"egressIPs": list(ips), "namespaceSelector": selector},
        "status": {"items": [{"node": "node1", "egressIP": ip} for ip in ips]},
    }
