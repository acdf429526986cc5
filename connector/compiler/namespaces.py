"""Namespaces (DESIGN section 3): managed or not, source mode, default action, devices, egress
IPs and the `egress-allow` shorthand, with a warning naming the annotation for every bad value."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from connector.cluster import Obj
from connector.compiler.settings import CompileSettings
from connector.compiler.values import (
    ParsedAddress,
    ValueProblem,
    annotations_of,
    labels_of,
    merge_ranges,
    parse_address,
    parse_host_ip,
    parse_port_list,
    parse_protocol,
    parse_selector,
    split_list,
)
from connector.model import Identity, PortRange

PREFIX = "fusion-connector.io/"
MANAGED_LABEL = PREFIX + "managed"
SOURCE_MODE = PREFIX + "source-mode"
EGRESS_IPS = PREFIX + "egress-ips"
EGRESS_ALLOW = PREFIX + "egress-allow"
DEFAULT_ACTION = PREFIX + "default-action"
DEVICES = PREFIX + "devices"

SOURCE_MODES = ("pod", "egress-ip", "node")
DEFAULT_ACTIONS = ("Deny", "Allow", "None")

Members = tuple[tuple[str, tuple[Identity, ...]], ...]


@dataclass(frozen=True)
class AllowEntry:
    """One `egress-allow` entry: an address and its ports (empty = every port and protocol)."""

    address: ParsedAddress
    ranges: tuple[PortRange, ...]

    @property
    def port_label(self) -> str:
        """A stable name for the entry's port set: `any`, `443-TCP`, `8000-8080-TCP`."""
        if not self.ranges:
            return "any"
        return "_".join(
            f"{r.start}-{r.protocol.value}" if r.start == r.end else f"{r.start}-{r.end}-{r.protocol.value}"
            for r in self.ranges
        )


@dataclass(frozen=True)
class NamespaceInfo:
    """Everything about a namespace that comes from the Namespace object, the configuration and
    (in `egress-ip` mode) the OVN EgressIP objects."""

    name: str
    labels: tuple[tuple[str, str], ...]
    managed: bool
    mode: str
    default_action: str
    devices: tuple[str, ...]
    egress_ips: Members
    allow: tuple[AllowEntry, ...]
    warnings: tuple[str, ...]

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


def parse_allow_entry(text: str) -> AllowEntry:
    """`HOST[:PORTS[/PROTO]]`; HOST an IP, CIDR or FQDN; an IPv6 HOST with ports is written
    `[2001:db8::1]:443`; PORTS as in ExternalService (`443`, `8000-8080`)."""
    try:
        return AllowEntry(parse_address(text), ())
    except ValueProblem:
        pass
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ValueProblem(f"{text!r}: write an IPv6 address with ports as [ADDRESS]:PORT")
        port_text = rest[1:]
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon:
            raise ValueProblem(f"{text!r} is not HOST[:PORT[/PROTOCOL]]")
    ports, slash, protocol = port_text.partition("/")
    parsed = parse_address(host)
    ranges = parse_port_list(ports, parse_protocol(protocol if slash else None))
    return AllowEntry(parsed, merge_ranges(ranges))


def _selects(selector: object, labels: dict[str, str]) -> bool:
    if selector is None:
        return True
    try:
        return parse_selector(selector).matches(labels)
    except ValueProblem:
        return False


def discovered_egress_ips(
    namespace: str, labels: dict[str, str], egress_ip_objects: Iterable[Obj]
) -> Members:
    """Egress IPs from OVN-Kubernetes EgressIP objects whose `spec.namespaceSelector` selects the
    namespace (`status.items[].egressIP`); an EgressIP object without a namespaceSelector selects
    nothing (OVN requires one)."""
    found: dict[str, set[Identity]] = {}
    for obj in egress_ip_objects:
        spec = obj.get("spec") or {}
        if spec.get("namespaceSelector") is None or not _selects(spec.get("namespaceSelector"), labels):
            continue
        name = (obj.get("metadata") or {}).get("name") or ""
        for item in (obj.get("status") or {}).get("items") or []:
            try:
                address = parse_host_ip(item.get("egressIP"))
            except ValueProblem:
                continue
            found.setdefault(address, set()).add(Identity("EgressIP", "", name))
    return tuple((address, tuple(sorted(ids))) for address, ids in sorted(found.items()))


def namespace_info(obj: Obj, settings: CompileSettings, egress_ip_objects: Iterable[Obj]) -> NamespaceInfo:
    """Interpret a Namespace object; bad annotation values fall back to defaults with a warning."""
    name = (obj.get("metadata") or {}).get("name") or ""
    labels = labels_of(obj)
    annotations = annotations_of(obj)
    warnings: list[str] = []
    managed = labels.get(MANAGED_LABEL) == "true" or (
        settings.all_namespaces and name not in settings.exclude
    )

    mode = annotations.get(SOURCE_MODE, settings.default_source_mode).strip()
    if mode not in SOURCE_MODES:
        warnings.append(
            f"annotation {SOURCE_MODE}: {mode!r} is not pod, egress-ip or node;"
            f" using {settings.default_source_mode}"
        )
        mode = settings.default_source_mode

    action = annotations.get(DEFAULT_ACTION, settings.default_action).strip()
    if action not in DEFAULT_ACTIONS:
        warnings.append(
            f"annotation {DEFAULT_ACTION}: {action!r} is not Deny, Allow or None;"
            f" using {settings.default_action}"
        )
        action = settings.default_action

    devices = settings.device_names
    if DEVICES in annotations:
        wanted = split_list(annotations[DEVICES])
        if not wanted:
            warnings.append(f"annotation {DEVICES} is empty: the namespace's policy goes to no device")
        unknown = [d for d in wanted if d not in devices]
        if unknown:
            warnings.append(f"annotation {DEVICES}: no configured device named {', '.join(unknown)}")
        devices = tuple(d for d in devices if d in wanted)

    egress: Members = ()
    if mode == "egress-ip":
        if EGRESS_IPS in annotations:
            addresses: set[str] = set()
            for item in split_list(annotations[EGRESS_IPS]):
                try:
                    addresses.add(parse_host_ip(item))
                except ValueProblem as exc:
                    warnings.append(f"annotation {EGRESS_IPS}: {exc}")
            identity = (Identity("Namespace", "", name),)
            egress = tuple((address, identity) for address in sorted(addresses))
        else:
            egress = discovered_egress_ips(name, labels, egress_ip_objects)
        if not egress:
            warnings.append(
                f"source mode egress-ip: no egress IP (annotation {EGRESS_IPS} or an OVN"
                " EgressIP selecting the namespace); its rules are left off every device"
            )

    allow: list[AllowEntry] = []
    for entry in split_list(annotations.get(EGRESS_ALLOW, "")):
        try:
            allow.append(parse_allow_entry(entry))
        except ValueProblem as exc:
            warnings.append(f"annotation {EGRESS_ALLOW}: {exc}; entry ignored")

    return NamespaceInfo(
        name=name,
        labels=tuple(sorted(labels.items())),
        managed=managed,
        mode=mode,
        default_action=action,
        devices=devices,
        egress_ips=egress,
        allow=tuple(allow),
        warnings=tuple(warnings),
    )
