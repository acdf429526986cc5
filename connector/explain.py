"""`explain`: which compiled rule decides traffic from a cluster source to a destination, per
device, and why. Pure: works from the `CompileResult` and the cluster view, never contacts a
device; the first-match walk itself is `connector.evaluate`; the CLI formats what `explain`
returns.

Sources: `NS/POD`, `NS/svc/NAME` or an IP address. Destinations: `HOST[:PORT[/PROTO]]` with HOST an
IP address or an FQDN (an IPv6 address with a port is written `[2001:db8::1]:443`). Without a
port the question is "any port": rules without ports can decide, and port-specific rules that
would match some ports are listed as `port-dependent` before the decision. A name stands for
whatever address it resolves to (`Names.RESOLVED`): rules listing the name and rules holding every
address of the source's family match it whatever the resolution; rules holding only some
addresses are listed as `resolution-dependent`.

Audit rules (`mode: Audit`) never change the answer: those that would have decided, had each been
enforced on its own, are listed per device as "would decide" (`connector.evaluate.would_decide`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from connector.cluster import ClusterView, Kind
from connector.compiler import CompileResult, RuleRef
from connector.compiler.addresses import node_addresses, read_pod, read_slice
from connector.compiler.keys import namespace_group
from connector.evaluate import Names, Outcome, Probe, Step, evaluate, would_decide
from connector.model import CompiledRule, DeviceState, Protocol, RuleKind

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_FQDN = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")


class ExplainInputError(ValueError):
    """A `--from` or `--to` value cannot be understood, or names nothing in the cluster."""


@dataclass(frozen=True)
class SourceSpec:
    """Exactly one of: a pod (`namespace` + `pod`), a Service (`namespace` + `service`), an `ip`."""

    text: str
    namespace: str = ""
    pod: str = ""
    service: str = ""
    ip: str = ""


@dataclass(frozen=True)
class DestinationSpec:
    """`host` is a canonical IP address or a lower-case FQDN; `port` None = any port."""

    text: str
    host: str
    port: int | None = None
    protocol: Protocol = Protocol.TCP

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    def describe(self) -> str:
        if self.port is None:
            return f"{self.host} (any port)"
        return f"{self.host} port {self.port}/{self.protocol.value}"


def parse_source(text: str) -> SourceSpec:
    """`NS/POD`, `NS/svc/NAME` or an IP address."""
    value = text.strip()
    try:
        return SourceSpec(value, ip=str(ipaddress.ip_address(value)))
    except ValueError:
        pass
    parts = value.split("/")
    if len(parts) == 2 and all(_NAME.match(p) for p in parts):
        return SourceSpec(value, namespace=parts[0], pod=parts[1])
    if len(parts) == 3 and parts[1] == "svc" and _NAME.match(parts[0]) and _NAME.match(parts[2]):
        return SourceSpec(value, namespace=parts[0], service=parts[2])
    raise ExplainInputError(f"--from {text!r}: expected NS/POD, NS/svc/NAME or an IP address")


def parse_destination(text: str) -> DestinationSpec:
    """`HOST[:PORT[/PROTO]]`; HOST an IP address or FQDN; `[IPv6]:PORT` for IPv6 with a port."""
    value = text.strip()
    problem = f"--to {text!r}: expected HOST[:PORT[/PROTO]] with HOST an IP address or FQDN"
    host, port_text = value, ""
    if value.startswith("["):
        inner, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ExplainInputError(f"{problem} (IPv6 with a port: [2001:db8::1]:443)")
        host, port_text = inner, rest[1:]
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        name = host.lower().rstrip(".")
        if not _FQDN.match(name) or len(name) > 253:
            raise ExplainInputError(problem) from None
        host = name
    if not port_text:
        if value.endswith(":"):
            raise ExplainInputError(f"{problem} (the port is missing after ':')")
        return DestinationSpec(value, host)
    port_part, slash, protocol_part = port_text.partition("/")
    if not port_part.isdigit() or not 1 <= int(port_part) <= 65535:
        raise ExplainInputError(f"--to {text!r}: the port must be a number 1..65535")
    protocol = Protocol.TCP
    if slash:
        try:
            protocol = Protocol(protocol_part.upper())
        except ValueError:
            raise ExplainInputError(f"--to {text!r}: the protocol must be TCP, UDP or SCTP") from None
    return DestinationSpec(value, host, int(port_part), protocol)


@dataclass(frozen=True)
class DeviceExplanation:
    """The decision on one device: `decision` None means the connector decides nothing (the
    firewall's own rulebase does). `skipped` counts rules for other sources."""

    device: str
    source_address: str
    decision: CompiledRule | None
    considered: tuple[Step, ...]
    skipped: int
    notes: tuple[str, ...]
    would_decide: tuple[CompiledRule, ...] = ()

    @property
    def action(self) -> str:
        return self.decision.action.value if self.decision else "None"

    @property
    def tier(self) -> str:
        return self.decision.origin.tier.value if self.decision else ""

    def to_json(self) -> dict[str, Any]:
        decision = None
        if self.decision is not None:
            decision = {
                "rule": self.decision.key,
                "origin": self.decision.origin.to_json(),
                "action": self.decision.action.value,
                "logging": self.decision.logging,
            }
        return {
            "device": self.device,
            "sourceAddress": self.source_address,
            "decision": decision,
            "action": self.action,
            "tier": self.tier,
            "considered": [c.to_json() for c in self.considered],
            "skippedOtherSources": self.skipped,
            "notes": list(self.notes),
            "wouldDecide": [
                {"rule": r.key, "origin": r.origin.to_json(), "action": r.action.value,
                 "wouldChange": r.action.value != self.action}
                for r in self.would_decide
            ],
        }


@dataclass(frozen=True)
class Explanation:
    source: SourceSpec
    destination: DestinationSpec
    identity: str
    source_addresses: tuple[str, ...]
    devices: tuple[DeviceExplanation, ...]
    notes: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        """A plain-text rendering, one line per item, for people."""
        out = [
            f"from {self.identity} [{', '.join(self.source_addresses) or 'no address'}]"
            f" to {self.destination.describe()}"
        ]
        out.extend(f"  note: {note}" for note in self.notes)
        for device in self.devices:
            if device.decision is None:
                out.append(f"{device.device}: no decision by the connector (source {device.source_address})")
            else:
                origin = device.decision.origin
                out.append(
                    f"{device.device}: {device.action} by {origin} (tier {origin.tier.value},"
                    f" priority {origin.priority}, rule {device.decision.key})"
                )
            for item in device.considered:
                rule = item.rule
                out.append(f"  considered {rule.origin} ({rule.action.value}): {item.outcome}: {item.reason}")
            for rule in device.would_decide:
                same = rule.action.value == device.action
                change = "same decision" if same else "would change the decision"
                out.append(f"  would decide (audit): {rule.action.value} by {rule.origin}"
                           f" (tier {rule.origin.tier.value}, priority {rule.origin.priority}): {change}")
            if device.skipped:
                out.append(f"  {device.skipped} rule(s) for other sources skipped")
            out.extend(f"  note: {note}" for note in device.notes)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.source.text,
            "to": self.destination.text,
            "identity": self.identity,
            "sourceAddresses": list(self.source_addresses),
            "destination": {
                "host": self.destination.host,
                "port": self.destination.port,
                "protocol": self.destination.protocol.value,
            },
            "notes": list(self.notes),
            "devices": [d.to_json() for d in self.devices],
        }


@dataclass
class _Source:
    identity: str
    namespace: str
    addresses: list[str]
    notes: list[str]


def _resolve_source(view: ClusterView, result: CompileResult, spec: SourceSpec) -> _Source:
    if spec.ip:
        owners = sorted(
            {
                (group.namespace, str(identity))
                for state in result.devices.values()
                for group in state.groups.values()
                for address, identities in group.members
                if address == spec.ip
                for identity in identities
            }
        )
        namespaces = {ns for ns, _ in owners}
        described = f" ({', '.join(dict.fromkeys(i for _, i in owners))})" if owners else ""
        unknown = [] if owners else [f"{spec.ip} is in no source group: no compiled rule applies to it"]
        return _Source(
            f"address {spec.ip}{described}",
            next(iter(namespaces)) if len(namespaces) == 1 else "",
            [spec.ip],
            unknown,
        )
    ns = spec.namespace
    status = result.namespaces.get(ns)
    notes: list[str] = []
    if view.get(Kind.NAMESPACE, "", ns) is None:
        raise ExplainInputError(f"--from {spec.text!r}: namespace {ns} not found")
    if status is None or not status.managed:
        notes.append(
            f"namespace {ns} is not managed by fusion-connector: the connector decides nothing for it"
        )
    mode = status.source_mode if status else "pod"
    if spec.pod:
        obj = view.get(Kind.POD, ns, spec.pod)
        if obj is None:
            raise ExplainInputError(f"--from {spec.text!r}: pod {ns}/{spec.pod} not found")
        pods = [read_pod(obj)]
        identity = f"Pod {ns}/{spec.pod}"
    else:
        if view.get(Kind.SERVICE, ns, spec.service) is None:
            raise ExplainInputError(f"--from {spec.text!r}: Service {ns}/{spec.service} not found")
        endpoints = {
            a
            for s in view.list(Kind.ENDPOINT_SLICE, ns)
            for a in read_slice(s).addresses
            if read_slice(s).service == spec.service
        }
        pods = [p for p in (read_pod(o) for o in view.list(Kind.POD, ns)) if endpoints.intersection(p.ips)]
        identity = f"Service {ns}/{spec.service}"
        if not pods:
            notes.append(f"Service {ns}/{spec.service} has no endpoints: no traffic comes from it now")
    if mode == "egress-ip":
        groups = [state.groups.get(namespace_group(state.cluster, ns)) for state in result.devices.values()]
        addresses = sorted({a for group in groups if group is not None for a in group.addresses})
        notes.append(f"namespace {ns} uses source mode egress-ip: the firewall sees its egress IPs")
    elif mode == "node":
        addresses = sorted(
            {a for p in pods if p.node for a in node_addresses(view.get(Kind.NODE, "", p.node) or {})}
        )
        notes.append(f"namespace {ns} uses source mode node: the firewall sees the addresses of its nodes")
    else:
        addresses = sorted({ip for p in pods for ip in p.ips})
    return _Source(f"{identity} (namespace {ns}, source mode {mode})", ns, addresses, notes)


def _pick_address(addresses: list[str], destination: DestinationSpec) -> str:
    if destination.is_ip:
        version = ipaddress.ip_address(destination.host).version
        for address in addresses:
            if ipaddress.ip_address(address).version == version:
                return address
    return addresses[0]


def _rule_notes(result: CompileResult, rule: CompiledRule, device: str) -> list[str]:
    kind = rule.origin.kind
    if kind not in (RuleKind.CLUSTER, RuleKind.NAMESPACE, RuleKind.SERVICE):
        return []
    status = result.rules.get(RuleRef(kind, rule.origin.namespace, rule.origin.name))
    if status is None:
        return []
    return [f"{p.reason.value}: {p.message}" for p in status.problems if p.device in ("", device)]


def _explain_device(
    state: DeviceState, result: CompileResult, address: str, source_ns: str, destination: DestinationSpec
) -> DeviceExplanation:
    probe = Probe(address, destination.host, destination.port, destination.protocol)
    evaluation = evaluate(state, probe, Names.RESOLVED)
    decision = evaluation.decision
    notes: list[str] = []
    if decision is None:
        if not evaluation.source_held:
            notes.append(
                f"no source group on {state.device} holds {address}: the device's own rulebase decides"
            )
        else:
            notes.append("no compiled rule matches: the device's own rulebase decides")
    else:
        if evaluation.reason:
            notes.append(evaluation.reason)
        notes.extend(_rule_notes(result, decision, state.device))
        if decision.origin.kind == RuleKind.DEFAULT:
            notes.append(
                f"default action of namespace {decision.origin.namespace}"
                " (annotation fusion-connector.io/default-action, else the configured default)"
            )
        if source_ns and decision.origin.namespace and decision.origin.namespace != source_ns:
            notes.append(
                f"decided by a rule of namespace {decision.origin.namespace}: {address} is a source"
                f" address it shares with {source_ns}"
            )
    for step in evaluation.steps:
        if step.outcome is not Outcome.NO_MATCH:
            notes.extend(_rule_notes(result, step.rule, state.device))
    audit = would_decide(state, probe, evaluation, Names.RESOLVED)
    return DeviceExplanation(
        state.device, address, decision, evaluation.steps, evaluation.skipped, tuple(dict.fromkeys(notes)),
        audit,
    )


def explain(
    view: ClusterView, result: CompileResult, source: SourceSpec | str, destination: DestinationSpec | str
) -> Explanation:
    """Explain the decision for `source` → `destination` on every device of `result`."""
    source_spec = parse_source(source) if isinstance(source, str) else source
    destination_spec = parse_destination(destination) if isinstance(destination, str) else destination
    resolved = _resolve_source(view, result, source_spec)
    notes = list(resolved.notes)
    devices: list[DeviceExplanation] = []
    if not resolved.addresses:
        notes.append(f"{resolved.identity} has no source address now: no rule applies to it")
        return Explanation(source_spec, destination_spec, resolved.identity, (), (), tuple(notes))
    address = _pick_address(resolved.addresses, destination_spec)
    if len(resolved.addresses) > 1:
        notes.append(f"{len(resolved.addresses)} source addresses; explained for {address}")
    if destination_spec.port is None:
        notes.append(
            "no port given: only rules without ports can decide; port-specific rules that match the"
            " destination are listed as port-dependent"
        )
    if not destination_spec.is_ip:
        family = f"IPv{ipaddress.ip_address(address).version}"
        notes.append(
            f"{destination_spec.host} is a name: rules listing it, and rules holding every {family}"
            " address, match whatever it resolves to; rules holding only some addresses are listed as"
            " resolution-dependent"
        )
    for state in result.devices.values():
        devices.append(_explain_device(state, result, address, resolved.namespace, destination_spec))
    return Explanation(
        source_spec,
        destination_spec,
        resolved.identity,
        tuple(resolved.addresses),
        tuple(devices),
        tuple(notes),
    )
