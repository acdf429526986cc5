"""Conversion of F5 CES manifests (`kubeovn.io/v1alpha1`) into fusion-connector resources.

Pure: `convert` takes parsed YAML documents and returns the converted resources with the findings
about them (warnings, skipped objects, errors, general notes); it reads and prints nothing.

How CES decided (F5 AFM contexts, in this order): ClusterEgressRules in the global context,
NamespaceEgressRules in the route-domain context, ServiceEgressRules in the virtual-server context,
whose policy ended with a drop-everything rule. `drop`, `reject` and `accept-decisively` ended the
evaluation; `accept` passed the packet on to the next context. Within a context the rule lists were
appended in the order the controller happened to process them, which no manifest records: name
order is assumed. The mapping keeps the context order with tiers and priorities:

| CES rule | action | fusion-connector |
| --- | --- | --- |
| ClusterEgressRule | drop, reject, accept-decisively | tier Admin, priority 100 |
| ClusterEgressRule | accept (passes on) | tier Baseline, priority 100 (after namespace rules) |
| NamespaceEgressRule | drop, reject, accept-decisively | priority 400 |
| ServiceEgressRule | any | priority 500 |
| NamespaceEgressRule | accept (passes on) | priority 600 (after Service rules) |

fusion-connector has no pass-on action, so a CES `accept` outside a Service rule becomes a
decisive Allow placed after the rules it deferred to; each such rule gets a warning.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

CES_API_VERSION = "kubeovn.io/v1alpha1"
API_VERSION = "fusion-connector.io/v1alpha1"
RULE_KINDS = ("ClusterEgressRule", "NamespaceEgressRule", "ServiceEgressRule")
CES_KINDS = ("ExternalService", *RULE_KINDS)
DEFAULT_CES_NAMESPACE = "kube-system"
DEFAULT_CONNECTOR_NAMESPACE = "fusion-system"
IMPORTED_FROM = "fusion-connector.io/imported-from"

ACTIONS = {"accept": "Allow", "accept-decisively": "Allow", "drop": "Deny", "reject": "Deny"}
PASS_ON = "accept"
CLUSTER_PRIORITY = 100
NAMESPACE_PRIORITY = 400
SERVICE_PRIORITY = 500
NAMESPACE_PASS_ON_PRIORITY = 600
MAX_ADDRESSES = 1000

# Metadata CES or kubectl wrote for their own use; not carried over.
INTERNAL_LABELS = frozenset({"cpaas.io/ruleType"})
INTERNAL_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})

ORDERING_NOTE = (
    "CES had no priorities. Order assumed from CES's AFM contexts: ClusterEgressRules first "
    f"(tier Admin, priority {CLUSTER_PRIORITY}), then NamespaceEgressRules (priority "
    f"{NAMESPACE_PRIORITY}), then ServiceEgressRules (priority {SERVICE_PRIORITY}); rules of one "
    "context in name order, since CES appended them in processing order, which the manifests do not "
    "record. A CES 'accept' passed traffic on to the next context: it becomes an Allow placed after "
    f"that context (ClusterEgressRule: tier Baseline; NamespaceEgressRule: priority "
    f"{NAMESPACE_PASS_ON_PRIORITY}).")
SOURCES_NOTE = (
    "Rules apply to managed namespaces only (label fusion-connector.io/managed: \"true\" or "
    "namespaces.all in the configuration); CES's global rules applied to any source address, "
    "these apply to the cluster's managed namespaces.")
DEFAULT_DENY_NOTE = (
    "CES ended every policy with a drop-everything rule: keep the namespaces' default action Deny "
    "(the default) to preserve that.")

_LABEL = r"[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?"
_FQDN = re.compile(rf"^({_LABEL}\.)+[A-Za-z]([-A-Za-z0-9]{{0,61}}[A-Za-z0-9])?\.?$")
_CES_PORTS = re.compile(r"^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$")
_ROUTE_DOMAIN = re.compile(r"%[0-9]+")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_PORT_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_PROTOCOLS = ("TCP", "UDP", "SCTP")
_KIND_ORDER = {kind: index for index, kind in enumerate(CES_KINDS)}


@dataclass(frozen=True)
class ConversionMessage:
    """Something to tell the user about one source object (`source` names it)."""

    source: str
    message: str
    position: int = field(default=0, compare=False, repr=False)  # the source's place in the input

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


@dataclass
class Conversion:
    """The result of `convert`: resources to print and what the user must know about them."""

    resources: list[Obj] = field(default_factory=list)
    warnings: list[ConversionMessage] = field(default_factory=list)
    skipped: list[ConversionMessage] = field(default_factory=list)
    errors: list[ConversionMessage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class InvalidCesObject(ValueError):
    """A CES object (or one of its values) cannot be converted; the message says why."""


@dataclass
class _Source:
    origin: str  # where the document came from, e.g. "ces.yaml#2"
    obj: Obj
    position: int = 0

    def finding(self, message: str) -> ConversionMessage:
        return ConversionMessage(self.label, message, self.position)

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name") or "")

    @property
    def namespace(self) -> str:
        return str((self.obj.get("metadata") or {}).get("namespace") or "")

    @property
    def label(self) -> str:
        key = f"{self.namespace}/{self.name}" if self.namespace else self.name or "<unnamed>"
        return f"{self.origin} {self.kind or '<no kind>'} {key}"


def expand(origin: str, document: Any) -> Iterator[tuple[str, Any]]:
    """The objects of one YAML document: itself, or the items of a `List` / `<Kind>List`."""
    if isinstance(document, dict) and str(document.get("kind") or "").endswith("List") \
            and isinstance(document.get("items"), list):
        item_kind = str(document["kind"])[:-len("List")]
        for index, item in enumerate(document["items"]):
            if isinstance(item, dict) and item_kind and "kind" not in item:
                item = {"apiVersion": document.get("apiVersion"), "kind": item_kind, **item}
            yield f"{origin}[{index}]", item
    else:
        yield origin, document


def convert(documents: Iterable[tuple[str, Any]], connector_namespace: str = DEFAULT_CONNECTOR_NAMESPACE,
            ces_namespace: str = DEFAULT_CES_NAMESPACE) -> Conversion:
    """Convert CES objects to fusion-connector resources.

    `documents` are (origin, parsed YAML document) pairs; `List` documents are expanded. ExternalServices
    referenced by ClusterEgressRules are looked up in `ces_namespace` (where the CES controller ran)
    and emitted in `connector_namespace`. Resources come out ExternalServices first, then rules, each
    sorted by namespace and name.
    """
    result = Conversion()
    services: list[_Source] = []
    rules: list[_Source] = []
    for origin, document in documents:
        for item_origin, item in expand(origin, document):
            if item is None:
                continue
            if not isinstance(item, dict):
                result.errors.append(
                    ConversionMessage(item_origin, "not a Kubernetes object (a YAML mapping)"))
                continue
            source = _Source(item_origin, item, len(services) + len(rules) + len(result.skipped))
            reason = _skip_reason(item)
            if reason:
                result.skipped.append(source.finding(reason))
            elif source.kind == "ExternalService":
                services.append(source)
            else:
                rules.append(source)

    converted_rules: list[tuple[_Source, Obj]] = []
    for source in rules:
        try:
            converted = _convert_rule(source, result.warnings)
        except InvalidCesObject as exc:
            result.errors.append(source.finding(str(exc)))
            continue
        if converted is not None:
            converted_rules.append((source, converted))

    outputs: list[Obj] = []
    for source in services:
        try:
            outputs.extend(_place_service(source, converted_rules, connector_namespace, ces_namespace,
                                          result.warnings))
        except InvalidCesObject as exc:
            result.errors.append(source.finding(str(exc)))
    outputs.extend(rule for _, rule in converted_rules)
    _warn_missing_references(services, converted_rules, connector_namespace, ces_namespace,
                             result.warnings)
    result.resources = _deduplicated(outputs, result.errors)
    for findings in (result.warnings, result.errors):
        findings.sort(key=lambda finding: finding.position)
    if converted_rules:
        result.notes = [ORDERING_NOTE, SOURCES_NOTE, DEFAULT_DENY_NOTE]
    return result


def _skip_reason(obj: Obj) -> str:
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if api_version == CES_API_VERSION and kind in CES_KINDS:
        return ""
    if api_version == API_VERSION:
        return "already a fusion-connector resource"
    if kind == "ExternalIPRule":
        return ("CES ExternalIPRule (SNAT) has no equivalent resource; use the namespace "
                "annotation fusion-connector.io/source-mode: egress-ip")
    return f"{api_version or '<no apiVersion>'} {kind or '<no kind>'} is not a CES resource"


def _metadata(source: _Source, namespace: str | None) -> Obj:
    meta = source.obj.get("metadata") or {}
    if not isinstance(meta, dict):
        raise InvalidCesObject("metadata is not a mapping")
    if not source.name:
        raise InvalidCesObject("metadata.name is missing")
    if not _NAME.match(source.name) or len(source.name) > 253:
        raise InvalidCesObject(f"metadata.name {source.name!r} is not a valid Kubernetes name")
    result: Obj = {"name": source.name}
    if namespace:
        result["namespace"] = namespace
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in INTERNAL_LABELS}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k not in INTERNAL_ANNOTATIONS}
    origin_key = f"{source.namespace}/{source.name}" if source.namespace else source.name
    annotations[IMPORTED_FROM] = f"{CES_API_VERSION} {source.kind} {origin_key}"
    if labels:
        result["labels"] = labels
    result["annotations"] = annotations
    return result


def _spec(source: _Source) -> Obj:
    spec = source.obj.get("spec")
    if not isinstance(spec, dict):
        raise InvalidCesObject("spec is missing")
    return spec


# -- rules ------------------------------------------------------------------------------------------

_RULE_FIELDS = {"action", "externalServices", "logging"}


def _convert_rule(source: _Source, warnings: list[ConversionMessage]) -> Obj | None:
    """The converted rule, or None when CES enforced nothing for it (a warning says so)."""
    spec = _spec(source)
    kind = source.kind
    action = spec.get("action")
    if action not in ACTIONS:
        raise InvalidCesObject(f"spec.action {action!r} is not one of {', '.join(ACTIONS)}")
    names = spec.get("externalServices")
    if names is None or names == []:
        warnings.append(source.finding(
            "no externalServices: CES programmed nothing for this rule, while here a rule without "
            "externalServices matches every destination; not converted"))
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) and _NAME.match(n) for n in names):
        raise InvalidCesObject("spec.externalServices must be a list of ExternalService names")
    logging = spec.get("logging", False)
    if not isinstance(logging, bool):
        raise InvalidCesObject(f"spec.logging {logging!r} is not a boolean")
    allowed = _RULE_FIELDS | ({"service"} if kind == "ServiceEgressRule" else set())
    for unknown in sorted(set(spec) - allowed):
        warnings.append(source.finding(f"spec.{unknown} has no equivalent; dropped"))

    new_spec: Obj = {}
    if kind == "ClusterEgressRule":
        new_spec["tier"] = "Baseline" if action == PASS_ON else "Admin"
        new_spec["priority"] = CLUSTER_PRIORITY
        namespace = None
    else:
        if kind == "NamespaceEgressRule":
            new_spec["priority"] = NAMESPACE_PASS_ON_PRIORITY if action == PASS_ON else NAMESPACE_PRIORITY
        else:
            service = spec.get("service")
            if not isinstance(service, str) or not _SERVICE_NAME.match(service) or len(service) > 63:
                raise InvalidCesObject(f"spec.service {service!r} is not a Service name")
            new_spec["service"] = service
            new_spec["priority"] = SERVICE_PRIORITY
        namespace = source.namespace or None
    new_spec["action"] = ACTIONS[action]
    new_spec["externalServices"] = list(dict.fromkeys(names))
    if logging:
        new_spec["logging"] = True

    if action == PASS_ON and kind == "ClusterEgressRule":
        warnings.append(source.finding(
            "action accept passed traffic on to the namespace and Service policies in CES: converted to "
            "a Baseline-tier Allow, so namespace and Service rules decide first; traffic no rule matches "
            "is now allowed where CES's final drop-everything rule dropped it"))
    elif action == PASS_ON and kind == "NamespaceEgressRule":
        warnings.append(source.finding(
            f"action accept passed traffic on to the Service policy in CES: converted to an Allow with "
            f"priority {NAMESPACE_PASS_ON_PRIORITY}, after the Service rules; traffic no Service rule "
            "matches is now allowed where CES's final drop-everything rule dropped it"))
    if action == "reject":
        warnings.append(source.finding(
            "action reject converted to Deny: the device's deny action applies (CES rejected with a "
            "reset)"))
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": _metadata(source, namespace),
            "spec": new_spec}


# -- external services ------------------------------------------------------------------------------

def _references(rule: Obj) -> list[str]:
    return list(rule["spec"].get("externalServices", []))


def _place_service(source: _Source, rules: list[tuple[_Source, Obj]], connector_namespace: str,
                   ces_namespace: str, warnings: list[ConversionMessage]) -> list[Obj]:
    """The converted ExternalService, in its namespace and/or moved to the connector's namespace."""
    spec = _convert_service_spec(source, warnings)
    namespace = source.namespace
    by_cluster_rule = namespace in ("", ces_namespace) and any(
        rule_source.kind == "ClusterEgressRule" and source.name in _references(rule)
        for rule_source, rule in rules)
    by_namespaced_rule = any(
        rule_source.kind != "ClusterEgressRule" and rule_source.namespace == namespace
        and source.name in _references(rule) for rule_source, rule in rules)
    placed: list[str | None] = []
    if by_cluster_rule:
        placed.append(connector_namespace)
        if namespace != connector_namespace:
            warnings.append(source.finding(
                f"moved to namespace {connector_namespace}: ClusterEgressRules resolve ExternalServices "
                "in the connector's namespace"))
    if not by_cluster_rule or by_namespaced_rule:
        placed.append(namespace or None)
    return [{"apiVersion": API_VERSION, "kind": "ExternalService",
             "metadata": _metadata(source, target), "spec": copy.deepcopy(spec)}
            for target in dict.fromkeys(placed)]


def _convert_service_spec(source: _Source, warnings: list[ConversionMessage]) -> Obj:
    spec = _spec(source)
    raw = spec.get("addresses")
    if not isinstance(raw, list) or not raw:
        raise InvalidCesObject("spec.addresses must be a non-empty list")
    addresses: list[str] = []
    for index, text in enumerate(raw):
        if not isinstance(text, str):
            raise InvalidCesObject(f"spec.addresses[{index}] {text!r} is not a string")
        converted, notes = convert_address(text)
        addresses.extend(converted)
        warnings.extend(source.finding(f"spec.addresses[{index}]: {note}") for note in notes)
    addresses = list(dict.fromkeys(addresses))
    if len(addresses) > MAX_ADDRESSES:
        raise InvalidCesObject(f"spec.addresses: {len(addresses)} addresses, at most {MAX_ADDRESSES} fit one "
                       "ExternalService; split it")
    for unknown in sorted(set(spec) - {"addresses", "ports"}):
        warnings.append(source.finding(f"spec.{unknown} has no equivalent; dropped"))
    result: Obj = {"addresses": addresses}
    ports = _convert_ports(source, spec.get("ports"), warnings)
    if ports:
        result["ports"] = ports
    return result


def convert_address(text: str) -> tuple[list[str], list[str]]:
    """A CES address as fusion-connector addresses (IP, CIDR or FQDN) and notes on what changed.

    Route-domain suffixes (`%10`) are dropped, IP ranges become the CIDRs covering them exactly, a
    CIDR with host bits set becomes its network, and an IPv4-mapped IPv6 address or network
    (`::ffff:192.0.2.1`, which the CRD refuses: the firewall sees IPv4) its IPv4 form. Raises
    `InvalidCesObject` for anything else.
    """
    addresses, notes = _convert_address(text)
    out = [_unmapped(address) for address in addresses]
    if out != addresses:
        notes.append(f"IPv4-mapped {text!r} converted to {', '.join(out)} (the firewall sees IPv4)")
    return out, notes


def _unmapped(address: str) -> str:
    """`address` (an IP, CIDR or FQDN) in IPv4 form when it is an IPv4-mapped IPv6 address or a
    network of them; unchanged otherwise."""
    try:
        network = ipaddress.ip_network(address)
    except ValueError:
        return address
    mapped = isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped
    if not mapped or network.prefixlen < 96:
        return address
    v4 = ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}")
    return str(v4.network_address) if "/" not in address else str(v4)


def _convert_address(text: str) -> tuple[list[str], list[str]]:
    notes: list[str] = []
    value = text.strip()
    if _ROUTE_DOMAIN.search(value):
        value = _ROUTE_DOMAIN.sub("", value)
        notes.append(f"route-domain suffix dropped from {text!r} (route domains are device configuration)")
    networks = _ip_range(value, text)
    if networks is not None:
        notes.append(f"IP range {text!r} converted to {', '.join(networks)}")
        return networks, notes
    try:
        return [str(ipaddress.ip_address(value))], notes
    except ValueError:
        pass
    if "/" in value:
        try:
            return [str(ipaddress.ip_network(value))], notes
        except ValueError:
            pass
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError as exc:
            raise InvalidCesObject(f"address {text!r} is not an IP, CIDR or FQDN") from exc
        notes.append(f"{text!r} has host bits set; converted to the network {network}")
        return [str(network)], notes
    if len(value) <= 253 and _FQDN.match(value):
        return [value], notes
    raise InvalidCesObject(f"address {text!r} is not an IP, CIDR or FQDN")


def _ip_range(value: str, text: str) -> list[str] | None:
    """The CIDRs exactly covering an IP range `a-b`; None when `value` is not a range."""
    parts = value.split("-")
    if len(parts) != 2:
        return None
    try:
        start, end = (ipaddress.ip_address(part.strip()) for part in parts)
    except ValueError:
        return None
    if isinstance(start, ipaddress.IPv4Address) and isinstance(end, ipaddress.IPv4Address):
        networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network] = \
            ipaddress.summarize_address_range(start, end) if start <= end else []
    elif isinstance(start, ipaddress.IPv6Address) and isinstance(end, ipaddress.IPv6Address):
        networks = ipaddress.summarize_address_range(start, end) if start <= end else []
    else:
        raise InvalidCesObject(f"address range {text!r} mixes IPv4 and IPv6")
    result = [str(network) for network in networks]
    if not result:
        raise InvalidCesObject(f"address range {text!r} ends before it starts")
    return result


def _convert_ports(source: _Source, raw: Any, warnings: list[ConversionMessage]) -> list[Obj]:
    if raw is None or raw == []:
        return []
    if not isinstance(raw, list):
        raise InvalidCesObject("spec.ports must be a list")
    ports: list[Obj] = []
    names: set[str] = set()
    for index, entry in enumerate(raw):
        where = f"spec.ports[{index}]"
        if not isinstance(entry, dict):
            raise InvalidCesObject(f"{where} is not a mapping")
        port = entry.get("port")
        if port is None or port == "":
            warnings.append(source.finding(f"{where} has no port: CES ignored it; dropped"))
            continue
        port = _check_port_list(str(port), where)
        if entry.get("bandwidth"):
            warnings.append(source.finding(
                f"{where}: bandwidth iRule {entry['bandwidth']!r} dropped: bandwidth iRules cannot be "
                "mapped (the connector programs allow and deny rules only)"))
        for unknown in sorted(set(entry) - {"name", "protocol", "port", "bandwidth"}):
            warnings.append(source.finding(f"{where}.{unknown} has no equivalent; dropped"))
        protocols = _protocols(source, entry.get("protocol"), where, warnings)
        name = entry.get("name")
        for protocol in protocols:
            converted: Obj = {}
            if name:
                candidate = str(name) if len(protocols) == 1 else f"{name}-{protocol.lower()}"
                if not _PORT_NAME.match(candidate) or len(candidate) > 63 or candidate in names:
                    warnings.append(source.finding(
                        f"{where}: port name {candidate!r} is not a valid or unique port name; dropped"))
                else:
                    converted["name"] = candidate
                    names.add(candidate)
            converted["protocol"] = protocol
            converted["port"] = port
            ports.append(converted)
    if not ports and raw:
        warnings.append(source.finding("no usable port entries: every port and protocol matches, "
                                "as in CES"))
    return ports


def _protocols(source: _Source, raw: Any, where: str, warnings: list[ConversionMessage]) -> list[str]:
    if raw is None or str(raw).strip() == "":
        warnings.append(source.finding(f"{where} has no protocol: TCP assumed"))
        return ["TCP"]
    protocol = str(raw).strip().upper()
    if protocol in _PROTOCOLS:
        return [protocol]
    if protocol == "ANY":
        warnings.append(source.finding(f"{where}: protocol any with ports converted to TCP, UDP "
                                "and SCTP entries"))
        return list(_PROTOCOLS)
    raise InvalidCesObject(f"{where}.protocol {raw!r} is not TCP, UDP or SCTP")


def _check_port_list(port: str, where: str) -> str:
    if not _CES_PORTS.match(port):
        raise InvalidCesObject(f"{where}.port {port!r} is not a port list such as '443' or "
                               "'8000-8080,9443'")
    for item in port.split(","):
        bounds = [int(number) for number in item.split("-")]
        if not all(1 <= number <= 65535 for number in bounds):
            raise InvalidCesObject(f"{where}.port {port!r}: ports are 1-65535")
        if bounds[0] > bounds[-1]:
            raise InvalidCesObject(f"{where}.port {port!r}: range {item} ends before it starts")
    return ",".join("-".join(str(int(number)) for number in item.split("-")) for item in port.split(","))


# -- cross-object checks ----------------------------------------------------------------------------

def _warn_missing_references(services: list[_Source], rules: list[tuple[_Source, Obj]],
                             connector_namespace: str, ces_namespace: str,
                             warnings: list[ConversionMessage]) -> None:
    known = {(source.namespace, source.name) for source in services}
    for source, rule in rules:
        for name in _references(rule):
            if source.kind == "ClusterEgressRule":
                if (ces_namespace, name) not in known and ("", name) not in known:
                    warnings.append(source.finding(
                        f"ExternalService {name} is not in the input (CES looked in {ces_namespace}); "
                        f"create it in namespace {connector_namespace}"))
            elif (source.namespace, name) not in known:
                where = source.namespace or "the rule's namespace"
                warnings.append(source.finding(
                    f"ExternalService {name} is not in the input; it must exist in {where}"))


def _deduplicated(resources: list[Obj], errors: list[ConversionMessage]) -> list[Obj]:
    """Resources sorted (ExternalServices first), identical duplicates merged, conflicting ones errors."""
    unique: dict[tuple[str, str, str], Obj] = {}
    for resource in resources:
        meta = resource["metadata"]
        key = (resource["kind"], meta.get("namespace", ""), meta["name"])
        previous = unique.get(key)
        if previous is None:
            unique[key] = resource
        elif _comparable(previous) != _comparable(resource):
            label = f"{key[0]} {key[1]}/{key[2]}" if key[1] else f"{key[0]} {key[2]}"
            errors.append(ConversionMessage(label, "defined twice with different content; keep one"))
    return [unique[key] for key in sorted(unique, key=lambda k: (_KIND_ORDER[k[0]], k[1], k[2]))]


def _comparable(resource: Obj) -> Obj:
    resource = copy.deepcopy(resource)
    resource["metadata"].get("annotations", {}).pop(IMPORTED_FROM, None)
    return resource
