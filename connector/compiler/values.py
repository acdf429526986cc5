"""Parsing of the values found in rule specs and annotations: addresses, ports, label selectors.

Every parser raises `ValueProblem` with a message naming the offending value; callers add the
object and field. No parser accepts a scoped IPv6 address (`fe80::1%eth0`): a zone names an
interface of one host, which no firewall can match, so it never reaches a device.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from connector.model import PortRange, Protocol
from connector.netaddr import ip_address_text, ip_network_text

_FQDN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class ValueProblem(ValueError):
    """A value in a spec or annotation is not valid."""


@dataclass(frozen=True)
class ParsedAddress:
    """An IP network (canonical, host addresses as /32 or /128) or an FQDN (lower case, no final
    dot); a wildcard FQDN keeps its `*.` prefix (`*.example.com`)."""

    network: str = ""
    fqdn: str = ""


WILDCARD = "*."


def is_wildcard(fqdn: str) -> bool:
    """Whether a parsed FQDN is a wildcard (`*.example.com`: one or more labels before
    `example.com`, never `example.com` itself)."""
    return fqdn.startswith(WILDCARD)


SCOPED = (
    "a scoped address (an IPv6 address with a %zone): a zone names one host's interface,"
    " which no firewall can match"
)


def scoped_problem(text: str) -> ValueProblem:
    """The problem of an address written with a zone (`fe80::1%eth0`)."""
    return ValueProblem(f"{text.strip()!r} is {SCOPED}")


def parse_address(text: object) -> ParsedAddress:
    """An IP address, a CIDR, an FQDN or a wildcard FQDN (never scoped). A wildcard is `*.`
    followed by an FQDN (`*.example.com`); `*` alone, `*.com` (a wildcard over a top-level
    domain) and a `*` anywhere else are refused."""
    if not isinstance(text, str) or not text.strip():
        raise ValueProblem(f"{text!r} is not an IP address, CIDR or FQDN")
    value = text.strip()
    if "%" in value:
        raise scoped_problem(value)
    try:
        return ParsedAddress(network=ip_network_text(value))
    except ValueError:
        pass
    name = value.lower().rstrip(".")
    wildcard = name.startswith(WILDCARD)
    domain = name[len(WILDCARD):] if wildcard else name
    labels = domain.split(".")
    if (
        len(name) <= 253
        and len(labels) >= 2
        and all(_FQDN_LABEL.match(label) for label in labels)
        and not labels[-1].isdigit()
    ):
        return ParsedAddress(fqdn=name)
    if wildcard or "*" in name:
        raise ValueProblem(
            f"{text!r} is not a wildcard domain name: only a leading '*.' before a domain of at"
            " least two labels is accepted (*.example.com)"
        )
    raise ValueProblem(f"{text!r} is not an IP address, CIDR or FQDN")


def parse_host_ip(text: object) -> str:
    """A single IP address (no prefix, never scoped) in canonical form."""
    if not isinstance(text, str):
        raise ValueProblem(f"{text!r} is not an IP address")
    if "%" in text:
        raise scoped_problem(text)
    return _canonical_ip(text)


def parse_source_ip(text: object) -> str:
    """An address a firewall can see as the source of routed traffic (an egress/SNAT IP): a
    single unicast address, not unspecified, loopback, link-local, multicast, broadcast or an
    IPv4-mapped IPv6 address (on the wire that traffic is IPv4)."""
    canonical = parse_host_ip(text)
    shown = repr(str(text).strip())
    address = ipaddress.ip_address(canonical)
    kind = ""
    if address.is_unspecified:
        kind = "the unspecified address"
    elif address.is_loopback:
        kind = "a loopback address"
    elif address.is_link_local:
        kind = "a link-local address"
    elif address.is_multicast:
        kind = "a multicast address"
    elif canonical == "255.255.255.255":
        kind = "the broadcast address"
    elif isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        raise ValueProblem(
            f"{shown} is an IPv4-mapped IPv6 address: the firewall sees {address.ipv4_mapped}"
        )
    if kind:
        raise ValueProblem(f"{shown} is {kind}, never the source of routed traffic")
    return canonical


@lru_cache(maxsize=1 << 18)
def _canonical_ip(text: str) -> str:
    try:
        return ip_address_text(text.strip())
    except ValueError as exc:
        raise ValueProblem(f"{text!r} is not an IP address") from exc


def parse_protocol(value: object) -> Protocol:
    """TCP (the default when absent), UDP or SCTP."""
    if value is None or value == "":
        return Protocol.TCP
    try:
        return Protocol(str(value).upper())
    except ValueError as exc:
        raise ValueProblem(f"protocol {value!r} is not TCP, UDP or SCTP") from exc


def parse_port_list(value: object, protocol: Protocol) -> list[PortRange]:
    """Ports such as `443`, `"8000-8080,9443"`; each 1..65535, ranges with start <= end."""
    if isinstance(value, bool) or value is None:
        raise ValueProblem(f"port {value!r} is not a port or port range list")
    ranges: list[PortRange] = []
    for part in str(value).split(","):
        part = part.strip()
        low, dash, high = part.partition("-")
        if not low.strip().isdigit() or (dash and not high.strip().isdigit()):
            raise ValueProblem(f"port {value!r} is not a port or port range list")
        start = int(low)
        end = int(high) if dash else start
        if not (1 <= start <= 65535 and 1 <= end <= 65535) or start > end:
            raise ValueProblem(f"port {value!r}: ports are 1..65535 and a range must not be reversed")
        ranges.append(PortRange(protocol, start, end))
    return ranges


def merge_ranges(ranges: list[PortRange]) -> tuple[PortRange, ...]:
    """Sorted ranges with overlapping or adjacent ranges of one protocol merged."""
    merged: list[PortRange] = []
    for item in sorted(ranges):
        last = merged[-1] if merged else None
        if last is not None and last.protocol == item.protocol and item.start <= last.end + 1:
            merged[-1] = PortRange(last.protocol, last.start, max(last.end, item.end))
        else:
            merged.append(item)
    return tuple(merged)


@dataclass(frozen=True)
class Selector:
    """A Kubernetes label selector (matchLabels and matchExpressions); empty matches everything."""

    labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        for key, value in self.labels:
            if labels.get(key) != value:
                return False
        for key, operator, values in self.expressions:
            present = key in labels
            if operator == "In" and not (present and labels[key] in values):
                return False
            if operator == "NotIn" and present and labels[key] in values:
                return False
            if operator == "Exists" and not present:
                return False
            if operator == "DoesNotExist" and present:
                return False
        return True


def parse_selector(value: object) -> Selector:
    """A label selector dict; raises ValueProblem for an unknown operator or a malformed entry."""
    if not isinstance(value, dict):
        raise ValueProblem(f"{value!r} is not a label selector")
    unknown = sorted(set(value) - {"matchLabels", "matchExpressions"})
    if unknown:
        raise ValueProblem(f"unknown selector field {unknown[0]!r}")
    match_labels = value.get("matchLabels") or {}
    if not isinstance(match_labels, dict):
        raise ValueProblem("matchLabels must be a map of strings")
    labels = []
    for key, item in match_labels.items():
        if not isinstance(item, str):
            raise ValueProblem(f"matchLabels.{key}: {item!r} is not a string")
        labels.append((str(key), item))
    expressions: list[tuple[str, str, tuple[str, ...]]] = []
    for index, expression in enumerate(value.get("matchExpressions") or []):
        if not isinstance(expression, dict) or not isinstance(expression.get("key"), str):
            raise ValueProblem(f"matchExpressions[{index}] needs a key")
        operator = expression.get("operator")
        values = expression.get("values") or []
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueProblem(
                f"matchExpressions[{index}].operator {operator!r} is not In, NotIn, Exists or DoesNotExist"
            )
        if operator in ("In", "NotIn") and not values:
            raise ValueProblem(f"matchExpressions[{index}]: {operator} needs values")
        if operator in ("Exists", "DoesNotExist") and values:
            raise ValueProblem(f"matchExpressions[{index}]: {operator} takes no values")
        expressions.append((expression["key"], operator, tuple(sorted(str(v) for v in values))))
    return Selector(tuple(sorted(labels)), tuple(sorted(expressions)))


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """The metadata.labels of a raw object (empty when absent)."""
    return dict((obj.get("metadata") or {}).get("labels") or {})


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    """The metadata.annotations of a raw object (empty when absent)."""
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def split_list(text: str) -> list[str]:
    """Comma-separated items, stripped, empty items dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]
