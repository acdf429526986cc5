"""A direct evaluator of the rule semantics (docs/resources.md, "How a rule decides") over raw
cluster objects, written independently of the compiler: given a source (a namespace, and a pod
of it) and traffic (destination, port, protocol), which rule decides on a device.

Validity semantics it shares with the compiler because they are documented behaviour: a rule
with an invalid action, tier, priority or selector never decides; an ExternalService keeps its
valid addresses and port entries, contributes nothing when none of its addresses (or, when it
lists ports, none of its port entries) is valid, and a missing one contributes nothing; a device
that cannot enforce FQDNs drops them, and one that cannot enforce wildcard domain names
(`*.example.com`: one or more labels before `example.com`, never `example.com`) drops those. In
`egress-ip` mode Service and podSelector rules apply to the whole namespace when they have sources
(docs/resources.md, "Source modes"). A pod on the host network (its address is its node's) is no
source in pod or egress-ip mode: no rule applies to it (docs/resources.md, "hostNetwork pods").
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
PREFIX = "fusion-connector.io/"


@dataclass(frozen=True)
class Verdict:
    kind: str  # ClusterEgressRule | NamespaceEgressRule | ServiceEgressRule | Annotation | DefaultAction
    namespace: str
    name: str
    action: str


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _labels(obj: Obj) -> dict[str, str]:
    return dict(_meta(obj).get("labels") or {})


def _annotations(obj: Obj) -> dict[str, str]:
    return dict(_meta(obj).get("annotations") or {})


def _selector_ok(selector: Any) -> bool:
    if not isinstance(selector, dict) or set(selector) - {"matchLabels", "matchExpressions"}:
        return False
    for expression in selector.get("matchExpressions") or []:
        op, values = expression.get("operator"), expression.get("values") or []
        if op not in ("In", "NotIn", "Exists", "DoesNotExist") or (op in ("In", "NotIn")) != bool(values):
            return False
    return True


def _selects(selector: Any, labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, op, values = expression["key"], expression["operator"], expression.get("values") or []
        has = key in labels
        if (
            (op == "In" and not (has and labels[key] in values))
            or (op == "NotIn" and has and labels[key] in values)
            or (op == "Exists" and not has)
            or (op == "DoesNotExist" and has)
        ):
            return False
    return True


def _fqdn(text: str) -> str | None:
    name = text.strip().lower().rstrip(".")
    if (
        re.fullmatch(r"(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]([a-z0-9-]*[a-z0-9])?", name)
        and len(name) <= 253
    ):
        return name
    return None


def _name_matches(name: str, destination: str) -> bool:
    wanted = destination.lower().rstrip(".").split(".")
    if not name.startswith("*."):
        return wanted == name.split(".")
    domain = name.split(".")[1:]
    return len(wanted) > len(domain) and wanted[-len(domain):] == domain


def _address_matches(entry: Any, destination: str, fqdn_capable: bool,
                     wildcard_capable: bool = True) -> bool | None:
    """True/False for a valid entry, None for an invalid one."""
    if not isinstance(entry, str):
        return None
    try:
        network = ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        name = _fqdn(entry)
        if name is None:
            return None
        capable = fqdn_capable and (wildcard_capable or not name.startswith("*."))
        return capable and _name_matches(name, destination)
    try:
        return ipaddress.ip_address(destination) in network
    except ValueError:
        return False


def _ports(entries: Any) -> list[tuple[str, int, int]] | None:
    """Valid (protocol, start, end) entries; None when ports are absent or empty (= any)."""
    if not entries:
        return None
    out = []
    for entry in entries:
        try:
            protocol = str(entry.get("protocol") or "TCP").upper()
            if protocol not in ("TCP", "UDP", "SCTP"):
                continue
            ranges = []
            for part in str(entry["port"]).split(","):
                low, _, high = part.strip().partition("-")
                start, end = int(low), int(high or low)
                if not 1 <= start <= end <= 65535:
                    raise ValueError
                ranges.append((protocol, start, end))
            out.extend(ranges)
        except (ValueError, KeyError, AttributeError, TypeError):
            continue
    return out


def _external_matches(es: Obj, destination: str, port: int | None, protocol: str, fqdn_capable: bool,
                      wildcard_capable: bool = True) -> bool:
    addresses = (es.get("spec") or {}).get("addresses") or []
    checks = [_address_matches(a, destination, fqdn_capable, wildcard_capable) for a in addresses]
    if not any(c is not None for c in checks) or not any(checks):
        return False
    ports = _ports((es.get("spec") or {}).get("ports"))
    if ports is None:
        return True
    return any(p == protocol and s <= (port or 0) <= e for p, s, e in ports)


class Oracle:
    """Evaluates the rule semantics over a list of raw objects for one configuration."""

    def __init__(
        self,
        objects: list[Obj],
        *,
        devices: tuple[str, ...],
        fqdn_capable: dict[str, bool],
        wildcard_capable: dict[str, bool] | None = None,
        connector_namespace: str = "fusion-system",
        default_action: str = "Deny",
        all_namespaces: bool = False,
        exclude: tuple[str, ...] = (),
    ) -> None:
        self.by_kind: dict[str, list[Obj]] = {}
        for obj in objects:
            self.by_kind.setdefault(obj["kind"], []).append(obj)
        self.devices = devices
        self.fqdn_capable = fqdn_capable
        self.wildcard_capable = dict(fqdn_capable) if wildcard_capable is None else wildcard_capable
        self.connector_namespace = connector_namespace
        self.default_action = default_action
        self.all_namespaces = all_namespaces
        self.exclude = exclude

    def _get(self, kind: str, ns: str, name: str) -> Obj | None:
        for obj in self.by_kind.get(kind, []):
            if _meta(obj).get("name") == name and (_meta(obj).get("namespace") or "") == ns:
                return obj
        return None

    def namespace(self, name: str) -> Obj | None:
        return self._get("Namespace", "", name)

    def managed(self, ns: Obj) -> bool:
        name = _meta(ns)["name"]
        return _labels(ns).get(PREFIX + "managed") == "true" or (
            self.all_namespaces and name not in self.exclude
        )

    def mode(self, ns: Obj) -> str:
        mode = _annotations(ns).get(PREFIX + "source-mode", "pod").strip()
        return mode if mode in ("pod", "egress-ip", "node") else "pod"

    def _ns_devices(self, ns: Obj) -> set[str]:
        text = _annotations(ns).get(PREFIX + "devices")
        if text is None:
            return set(self.devices)
        return {d.strip() for d in text.split(",")} & set(self.devices)

    @staticmethod
    def _valid(rule: Obj, cluster: bool) -> bool:
        spec = rule.get("spec") or {}
        if spec.get("action") not in ("Allow", "Deny"):
            return False
        priority = spec.get("priority", 500)
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000:
            return False
        if cluster and spec.get("tier", "Admin") not in ("Admin", "Baseline"):
            return False
        for key in ("namespaceSelector", "podSelector"):
            if spec.get(key) is not None and not _selector_ok(spec[key]):
                return False
        return True

    def _destination_matches(
        self, rule: Obj, es_ns: str, destination: str, port: int | None, protocol: str, device: str
    ) -> bool:
        names = (rule.get("spec") or {}).get("externalServices")
        if not names:
            return True
        for name in names:
            es = self._get("ExternalService", es_ns, name)
            if es is not None and _external_matches(
                es, destination, port, protocol, self.fqdn_capable[device], self.wildcard_capable[device]
            ):
                return True
        return False

    def _targets(self, rule: Obj, ns: Obj, device: str) -> bool:
        wanted = (rule.get("spec") or {}).get("devices")
        return device in self._ns_devices(ns) and (wanted is None or device in wanted)

    def _pod_ips(self, pod: Obj) -> set[str]:
        status = pod.get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed"):
            return set()
        ips = {str(ipaddress.ip_address(i["ip"])) for i in status.get("podIPs") or []}
        if not ips and status.get("podIP"):
            ips = {str(ipaddress.ip_address(status["podIP"]))}
        return ips

    @staticmethod
    def _host_network(pod: Obj) -> bool:
        return (pod.get("spec") or {}).get("hostNetwork") is True

    def _pods(self, ns: str) -> list[Obj]:
        """The pods of `ns` that are sources: active, with an address, not on the host network."""
        return [
            p
            for p in self.by_kind.get("Pod", [])
            if _meta(p).get("namespace") == ns and self._pod_ips(p) and not self._host_network(p)
        ]

    def _service_pods(self, ns: str, service: str) -> list[Obj]:
        if self._get("Service", ns, service) is None:
            return []
        addresses = set()
        for eps in self.by_kind.get("EndpointSlice", []):
            if (
                _meta(eps).get("namespace") == ns
                and _labels(eps).get("kubernetes.io/service-name") == service
            ):
                for endpoint in eps.get("endpoints") or []:
                    addresses |= {str(ipaddress.ip_address(a)) for a in endpoint.get("addresses") or []}
        return [p for p in self._pods(ns) if self._pod_ips(p) & addresses]

    def _rule_has_source(self, rule: Obj, ns: Obj, pod: Obj | None) -> bool:
        """Whether a namespaced rule covers traffic from `pod` of `ns` (with egress-ip widening)."""
        name = _meta(ns)["name"]
        spec = rule.get("spec") or {}
        widened = self.mode(ns) == "egress-ip"
        if rule["kind"] == "ServiceEgressRule":
            pods = self._service_pods(name, spec.get("service") or "")
        elif spec.get("podSelector") is not None:
            pods = [p for p in self._pods(name) if _selects(spec["podSelector"], _labels(p))]
        else:
            return True
        if widened:
            return bool(pods)
        return pod is not None and any(_meta(p)["name"] == _meta(pod)["name"] for p in pods)

    def _allow_entries(self, ns: Obj) -> list[tuple[str, list[tuple[str, int, int]] | None]]:
        out: list[tuple[str, list[tuple[str, int, int]] | None]] = []
        for raw in (_annotations(ns).get(PREFIX + "egress-allow") or "").split(","):
            entry = raw.strip()
            if not entry:
                continue
            if _address_matches(entry, "0.0.0.0", True) is not None:
                out.append((entry, None))
                continue
            if entry.startswith("["):
                host, _, rest = entry[1:].partition("]")
                port_text = rest[1:]
            else:
                host, _, port_text = entry.rpartition(":")
            ports, _, protocol = port_text.partition("/")
            parsed = _ports([{"port": ports, "protocol": protocol or "TCP"}])
            if _address_matches(host, "0.0.0.0", True) is None or not parsed:
                continue
            out.append((host, parsed))
        return out

    def decide(
        self, namespace: str, pod: str | None, device: str, destination: str, port: int, protocol: str = "TCP"
    ) -> Verdict | None:
        """The deciding rule for traffic from `pod` (None: any traffic of the namespace) on `device`."""
        ns = self.namespace(namespace)
        if ns is None or not self.managed(ns):
            return None
        pod_obj = self._get("Pod", namespace, pod) if pod else None
        if pod_obj is not None and self._host_network(pod_obj) and self.mode(ns) != "node":
            return None
        labels = _labels(ns)

        def cluster_tier(tier: str) -> Verdict | None:
            rules = [
                r
                for r in self.by_kind.get("ClusterEgressRule", [])
                if self._valid(r, True) and (r.get("spec") or {}).get("tier", "Admin") == tier
            ]
            rules.sort(key=lambda r: ((r.get("spec") or {}).get("priority", 500), _meta(r)["name"]))
            for rule in rules:
                selector = (rule.get("spec") or {}).get("namespaceSelector")
                if selector is not None and not _selects(selector, labels):
                    continue
                if not self._targets(rule, ns, device):
                    continue
                if self._destination_matches(
                    rule, self.connector_namespace, destination, port, protocol, device
                ):
                    return Verdict("ClusterEgressRule", "", _meta(rule)["name"], rule["spec"]["action"])
            return None

        verdict = cluster_tier("Admin")
        if verdict:
            return verdict
        candidates: list[tuple[tuple[int, int, str, int], Any]] = []
        for kind, rank in (("ServiceEgressRule", 0), ("NamespaceEgressRule", 1)):
            for rule in self.by_kind.get(kind, []):
                if _meta(rule).get("namespace") == namespace and self._valid(rule, False):
                    key = ((rule.get("spec") or {}).get("priority", 500), rank, _meta(rule)["name"], 0)
                    candidates.append((key, rule))
        entries = self._allow_entries(ns)
        if entries:
            candidates.append(((500, 1, "annotation", 1), entries))
        for _, item in sorted(candidates, key=lambda c: c[0]):
            if isinstance(item, list):
                if device not in self._ns_devices(ns):
                    continue
                for host, ports in item:
                    if _address_matches(host, destination, self.fqdn_capable[device],
                                        self.wildcard_capable[device]) and (
                        ports is None or any(p == protocol and s <= port <= e for p, s, e in ports)
                    ):
                        return Verdict("Annotation", namespace, "annotation", "Allow")
                continue
            if rule_matches := (
                self._targets(item, ns, device)
                and self._rule_has_source(item, ns, pod_obj)
                and self._destination_matches(item, namespace, destination, port, protocol, device)
            ):
                assert rule_matches
                return Verdict(item["kind"], namespace, _meta(item)["name"], item["spec"]["action"])
        verdict = cluster_tier("Baseline")
        if verdict:
            return verdict
        action = _annotations(ns).get(PREFIX + "default-action", self.default_action).strip()
        if action not in ("Deny", "Allow", "None"):
            action = self.default_action
        if action == "None" or device not in self._ns_devices(ns):
            return None
        return Verdict("DefaultAction", namespace, "default", action)
