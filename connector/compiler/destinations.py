"""Destinations of a rule as compiled for each device: ExternalServices resolved by name, the
`egress-allow` annotation's entries, and what each device can enforce of them (FQDNs, wildcard
FQDNs, IPv6). What a device cannot enforce is left off there and reported on the rule
(`FQDNUnsupported`, `WildcardFQDNUnsupported`, `IPv6Unsupported`), never silently dropped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from connector.compiler import keys
from connector.compiler.findings import Problem, Reason, RuleRef
from connector.compiler.namespaces import AllowEntry
from connector.compiler.resources import ExternalServiceSpec
from connector.compiler.values import is_wildcard
from connector.model import Capabilities, Destination, PortSet

ANNOTATION_RULE = "annotation"


@dataclass(frozen=True)
class RulePart:
    """One part of a rule as compiled for one device: an ExternalService, or the `egress-allow`
    entries sharing a port set (destination and ports None = any destination). A rule becomes one
    compiled rule per part; `label` is the last part of that rule's key."""

    label: str
    destination: Destination | None
    ports: PortSet | None


def device_fqdns(
    owner: RuleRef, device: str, caps: Capabilities, fqdns: tuple[str, ...], what: str
) -> tuple[tuple[str, ...], list[Problem]]:
    """The FQDNs of `fqdns` that `device` can enforce, and a non-blocking problem naming the
    device for each kind it cannot (all FQDNs, or only the wildcards). `what` says what is
    compiled without them."""
    if not fqdns:
        return (), []
    if not caps.fqdn:
        message = f"{owner}: device {device} cannot enforce FQDNs; {what} without {', '.join(fqdns)}"
        return (), [Problem(Reason.FQDN_UNSUPPORTED, message, False, device)]
    wildcards = [f for f in fqdns if is_wildcard(f)]
    if not wildcards or caps.wildcard_fqdn:
        return fqdns, []
    message = (f"{owner}: device {device} cannot enforce wildcard FQDNs; {what} without"
               f" {', '.join(wildcards)}")
    kept = tuple(f for f in fqdns if not is_wildcard(f))
    return kept, [Problem(Reason.WILDCARD_FQDN_UNSUPPORTED, message, False, device)]


@dataclass
class Resolved:
    """A rule's ExternalServices resolved: parts per device and the problems found."""

    parts: dict[str, tuple[RulePart, ...]]
    problems: list[Problem]


def external_parts(
    owner: RuleRef,
    names: tuple[str, ...] | None,
    es_namespace: str,
    external: Mapping[tuple[str, str], ExternalServiceSpec],
    cluster: str,
    devices: Mapping[str, Capabilities],
) -> Resolved:
    """Pieces per device for a rule's `externalServices` resolved in `es_namespace` (None = any
    destination); a missing or wholly invalid ExternalService contributes nothing. `devices` maps
    every device to what it can enforce (FQDNs, wildcard FQDNs)."""
    if names is None:
        any_part = (RulePart("any", None, None),)
        return Resolved({d: any_part for d in devices}, [])
    problems: list[Problem] = []
    parts: dict[str, list[RulePart]] = {d: [] for d in devices}
    for name in names:
        spec = external.get((es_namespace, name))
        if spec is None:
            problems.append(
                Problem(
                    Reason.EXTERNAL_SERVICE_NOT_FOUND,
                    f"{owner}: spec.externalServices: ExternalService {es_namespace}/{name}"
                    " not found; it matches nothing",
                    True,
                )
            )
            continue
        problems.extend(Problem(p.reason, f"{owner}: {p.message}", True) for p in spec.problems)
        if not spec.usable:
            continue
        key = keys.external_service(cluster, es_namespace, name)
        ports = PortSet(key, es_namespace, name, spec.ranges) if spec.ranges is not None else None
        what = f"ExternalService {es_namespace}/{name} is compiled there"
        for device, caps in devices.items():
            fqdns, left_off = device_fqdns(owner, device, caps, spec.fqdns, what)
            problems.extend(left_off)
            if not spec.networks and not fqdns:
                continue
            parts[device].append(
                RulePart(name, Destination(key, es_namespace, name, spec.networks, fqdns), ports)
            )
    return Resolved({d: tuple(p) for d, p in parts.items()}, problems)


def annotation_parts(
    owner: RuleRef, ns: str, entries: tuple[AllowEntry, ...], cluster: str,
    devices: Mapping[str, Capabilities]
) -> Resolved:
    """Pieces per device for the `egress-allow` entries, one per distinct port set."""
    by_ports: dict[str, list[AllowEntry]] = {}
    for entry in entries:
        by_ports.setdefault(entry.port_label, []).append(entry)
    problems: list[Problem] = []
    parts: dict[str, list[RulePart]] = {d: [] for d in devices}
    for label in sorted(by_ports):
        group = by_ports[label]
        key = keys.annotation_destination(cluster, ns, ANNOTATION_RULE, label)
        name = f"{ANNOTATION_RULE}-{label}"
        networks = tuple(sorted({e.address.network for e in group if e.address.network}))
        all_fqdns = tuple(sorted({e.address.fqdn for e in group if e.address.fqdn}))
        ranges = group[0].ranges
        ports = PortSet(key, ns, name, ranges) if ranges else None
        for device, caps in devices.items():
            fqdns, left_off = device_fqdns(owner, device, caps, all_fqdns, "compiled there")
            problems.extend(left_off)
            if networks or fqdns:
                parts[device].append(RulePart(label, Destination(key, ns, name, networks, fqdns), ports))
    return Resolved({d: tuple(p) for d, p in parts.items()}, problems)


def has_ipv6(addresses: Iterable[str]) -> bool:
    return any(":" in address for address in addresses)


def parts_have_ipv6(parts: Iterable[RulePart]) -> bool:
    return any(p.destination is not None and has_ipv6(p.destination.networks) for p in parts)


def ipv6_problem(ref: RuleRef, device: str) -> Problem:
    return Problem(
        Reason.IPV6_UNSUPPORTED,
        f"{ref}: device {device} cannot enforce IPv6; the rule's IPv6 sources and destinations"
        " are left off there",
        False,
        device,
    )
