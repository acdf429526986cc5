"""Namespaces (docs/resources.md, "Namespaces"): managed or not, source mode, default action,
devices, egress IPs and the `egress-allow` shorthand, with a warning line naming the namespace, the
annotation and the value for every bad value (`nswarnings`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from connector.cluster import Obj
from connector.compiler.findings import RuleRef
from connector.compiler.nswarnings import NamespaceWarnings, quoted, unquoted
from connector.compiler.settings import CompileSettings
from connector.compiler.values import (
    SCOPED,
    ParsedAddress,
    ValueProblem,
    annotations_of,
    labels_of,
    merge_ranges,
    parse_address,
    parse_port_list,
    parse_protocol,
    parse_selector,
    parse_source_ip,
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
NO_DEVICE = "the namespace's policy goes to no device"

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
    """`HOST[:PORTS[/PROTO]]`; HOST an IP, CIDR or FQDN (never scoped); an IPv6 HOST with ports is
    written `[2001:db8::1]:443`; PORTS as in ExternalService (`443`, `8000-8080`). A problem's
    message does not repeat `text`: callers quote it."""
    if "%" in text:
        raise ValueProblem(f"is {SCOPED}")
    try:
        return AllowEntry(parse_address(text), ())
    except ValueProblem:
        pass
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not rest.startswith(":"):
            raise ValueProblem(
                "is not HOST[:PORTS[/PROTOCOL]]: write an IPv6 address with ports as [ADDRESS]:PORT"
            )
        port_text = rest[1:]
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon:
            raise ValueProblem("is not an IP address, CIDR or FQDN, nor HOST:PORTS[/PROTOCOL]")
    if not port_text:
        raise ValueProblem(
            "has no port after its last ':' (write an IPv6 address with ports as [ADDRESS]:PORT)"
        )
    ports, slash, protocol = port_text.partition("/")
    try:
        parsed = parse_address(host)
    except ValueProblem as exc:
        raise ValueProblem(f"is not HOST[:PORTS[/PROTOCOL]]: host {exc}") from exc
    try:
        ranges = parse_port_list(ports, parse_protocol(protocol if slash else None))
    except ValueProblem as exc:
        raise ValueProblem(f"is not HOST[:PORTS[/PROTOCOL]]: {exc}") from exc
    return AllowEntry(parsed, merge_ranges(ranges))


def _selects(selector: object, labels: dict[str, str]) -> bool:
    if selector is None:
        return True
    try:
        return parse_selector(selector).matches(labels)
    except ValueProblem:
        return False


def discovered_egress_ips(
    namespace: str, labels: dict[str, str], egress_ip_objects: Iterable[Obj], warn: NamespaceWarnings
) -> Members:
    """Egress IPs from OVN-Kubernetes EgressIP objects whose `spec.namespaceSelector` selects the
    namespace (`status.items[].egressIP`); an EgressIP object without a namespaceSelector selects
    nothing (OVN requires one). An address that cannot be a source is skipped with a warning."""
    found: dict[str, set[Identity]] = {}
    for obj in egress_ip_objects:
        spec = obj.get("spec") or {}
        if spec.get("namespaceSelector") is None or not _selects(spec.get("namespaceSelector"), labels):
            continue
        name = (obj.get("metadata") or {}).get("name") or ""
        for item in (obj.get("status") or {}).get("items") or []:
            raw = item.get("egressIP") if isinstance(item, dict) else None
            try:
                address = parse_source_ip(raw)
            except ValueProblem as exc:
                problem = unquoted(exc, str(raw))
                warn.note(f"EgressIP {name}: status.items[].egressIP {quoted(str(raw))} {problem}; ignored")
                continue
            found.setdefault(address, set()).add(Identity("EgressIP", "", name))
    return tuple((address, tuple(sorted(ids))) for address, ids in sorted(found.items()))


def namespace_info(obj: Obj, settings: CompileSettings, egress_ip_objects: Iterable[Obj]) -> NamespaceInfo:
    """Interpret a Namespace object; a bad annotation value falls back to the default, a bad list
    entry is skipped, each with a warning line naming the namespace, annotation and value
    (`nswarnings`)."""
    name = (obj.get("metadata") or {}).get("name") or ""
    labels = labels_of(obj)
    annotations = annotations_of(obj)
    warn = NamespaceWarnings(name)
    managed = labels.get(MANAGED_LABEL) == "true" or (
        settings.all_namespaces and name not in settings.exclude
    )

    mode = annotations.get(SOURCE_MODE, settings.default_source_mode).strip()
    if mode not in SOURCE_MODES:
        warn.not_one_of(SOURCE_MODE, mode, SOURCE_MODES, settings.default_source_mode)
        mode = settings.default_source_mode

    action = annotations.get(DEFAULT_ACTION, settings.default_action).strip()
    if action not in DEFAULT_ACTIONS:
        warn.not_one_of(DEFAULT_ACTION, action, DEFAULT_ACTIONS, settings.default_action)
        action = settings.default_action

    devices = settings.device_names
    if DEVICES in annotations:
        wanted = split_list(annotations[DEVICES])
        if not wanted:
            warn.value(DEVICES, annotations[DEVICES], f"is empty: {NO_DEVICE}")
        kept = tuple(d for d in devices if d in wanted)
        configured = ", ".join(devices) or "none"
        for unknown in dict.fromkeys(d for d in wanted if d not in devices):
            consequence = "ignored" if kept else f"ignored, and no device is left: {NO_DEVICE}"
            warn.entry(DEVICES, unknown, f"is not a configured device ({configured}); {consequence}")
        devices = kept

    egress: Members = ()
    if mode == "egress-ip":
        if EGRESS_IPS in annotations:
            addresses: set[str] = set()
            for item in split_list(annotations[EGRESS_IPS]):
                try:
                    addresses.add(parse_source_ip(item))
                except ValueProblem as exc:
                    warn.entry(EGRESS_IPS, item, f"{unquoted(exc, item)}; entry ignored")
            identity = (Identity("Namespace", "", name),)
            egress = tuple((address, identity) for address in sorted(addresses))
        else:
            egress = discovered_egress_ips(name, labels, egress_ip_objects, warn)
        if not egress:
            warn.note(
                f"source mode egress-ip: no egress IP (annotation {EGRESS_IPS} or an OVN"
                " EgressIP selecting the namespace); its rules are left off every device"
            )
    elif EGRESS_IPS in annotations:
        unused = f"ignored: used only in source mode egress-ip (the mode is {mode})"
        warn.value(EGRESS_IPS, annotations[EGRESS_IPS], unused)

    allow: list[AllowEntry] = []
    for entry in split_list(annotations.get(EGRESS_ALLOW, "")):
        try:
            allow.append(parse_allow_entry(entry))
        except ValueProblem as exc:
            warn.entry(EGRESS_ALLOW, entry, f"{exc}; entry ignored")

    return NamespaceInfo(
        name=name,
        labels=tuple(sorted(labels.items())),
        managed=managed,
        mode=mode,
        default_action=action,
        devices=devices,
        egress_ips=egress,
        allow=tuple(allow),
        warnings=warn.lines(),
    )


def annotation_rule_note(namespace: str, ref: RuleRef, message: str) -> str:
    """A problem of the `egress-allow` rule (`ref`) as a namespace warning line."""
    return f"namespace {namespace}: annotation {EGRESS_ALLOW}: {message.removeprefix(f'{ref}: ')}"
