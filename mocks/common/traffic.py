"""The flow a test asks a device mock to decide (`POST /_mock/traffic`), validated.

Body: `{"src": IP, "srcPort": N, "dst": IP, "dstPort": N, "protocol": "TCP", "count": 1}` plus,
optionally, `dstName` (the domain name the destination address was resolved from: FQDN address
objects match it), `time` (RFC 3339; default now: when the flows happened, as logged) and the
device's own keys (e.g. `vdom` on the FortiGate mock). `protocol` is TCP, UDP, SCTP or ICMP (any
case); ports are required for TCP, UDP and SCTP and refused for ICMP. `count` (default 1, at most
`MAX_COUNT`) is how many such flows (sessions) happen. Errors raise `TrafficError`, whose message
names the field.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mocks.common.http import Response, json_response

MAX_COUNT = 10_000
PORTED = ("TCP", "UDP", "SCTP")
PROTOCOLS = (*PORTED, "ICMP")
IP_NUMBERS = {"TCP": 6, "UDP": 17, "SCTP": 132, "ICMP": 1}
BASE_KEYS = frozenset({"src", "srcPort", "dst", "dstPort", "protocol", "count", "dstName", "time"})
DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*"
                    r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?$")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrafficError(ValueError):
    """The traffic request is invalid; the message names the field."""


@dataclass(frozen=True)
class Flow:
    """`count` identical flows from src to dst at `time`."""

    src: IPAddress
    dst: IPAddress
    protocol: str  # TCP | UDP | SCTP | ICMP
    src_port: int | None
    dst_port: int | None
    count: int
    time: datetime
    dst_name: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def ip_number(self) -> int:
        """The IP protocol number (ICMPv6 is 58)."""
        if self.protocol == "ICMP" and self.src.version == 6:
            return 58
        return IP_NUMBERS[self.protocol]


def parse_flow(body: Any, extra_keys: tuple[str, ...] = (), now: datetime | None = None) -> Flow:
    """The flow of a `POST /_mock/traffic` body; `extra_keys` are the device's optional string keys."""
    if not isinstance(body, dict):
        raise TrafficError("the body must be a JSON object")
    unknown = sorted(set(body) - BASE_KEYS - set(extra_keys))
    if unknown:
        raise TrafficError(f"unknown field {unknown[0]!r} (known: "
                           f"{', '.join(sorted(BASE_KEYS | set(extra_keys)))})")
    src = _address(body, "src")
    dst = _address(body, "dst")
    if src.version != dst.version:
        raise TrafficError("src and dst must be of the same IP version")
    protocol = body.get("protocol")
    if not isinstance(protocol, str) or protocol.upper() not in PROTOCOLS:
        raise TrafficError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    protocol = protocol.upper()
    src_port = _port(body, "srcPort", protocol)
    dst_port = _port(body, "dstPort", protocol)
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise TrafficError(f"count must be an integer from 1 to {MAX_COUNT}, not {count!r}")
    dst_name = body.get("dstName")
    if dst_name is not None and (not isinstance(dst_name, str) or not DOMAIN.match(dst_name)):
        raise TrafficError(f"dstName must be a domain name, not {dst_name!r}")
    moment = _time(body.get("time")) if body.get("time") is not None else (now or datetime.now(UTC))
    extra: dict[str, str] = {}
    for key in extra_keys:
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            raise TrafficError(f"{key} must be a non-empty string, not {value!r}")
        extra[key] = value
    return Flow(src=src, dst=dst, protocol=protocol, src_port=src_port, dst_port=dst_port, count=count,
                time=moment, dst_name=dst_name.rstrip(".").lower() if dst_name else None, extra=extra)


def _address(body: dict[str, Any], key: str) -> IPAddress:
    value = body.get(key)
    if value is None:
        raise TrafficError(f"{key} is required (an IP address)")
    try:
        return ipaddress.ip_address(value if isinstance(value, str) else "")
    except ValueError:
        raise TrafficError(f"{key} must be an IP address, not {value!r}") from None


def _port(body: dict[str, Any], key: str, protocol: str) -> int | None:
    value = body.get(key)
    if protocol not in PORTED:
        if value is not None:
            raise TrafficError(f"{key} must be absent for {protocol}")
        return None
    if value is None:
        raise TrafficError(f"{key} is required for {protocol}")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise TrafficError(f"{key} must be an integer from 0 to 65535, not {value!r}")
    return value


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TrafficError(f"time must be an RFC 3339 string, not {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise TrafficError(f"time must be an RFC 3339 time, not {value!r}") from None
    if moment.tzinfo is None:
        raise TrafficError(f"time {value!r} needs a time zone offset")
    return moment.astimezone(UTC)


def contains(entry: str, address: IPAddress) -> bool:
    """Whether `address` is `entry`: an address, a CIDR network, `ip mask` or a range `a-b`
    (entries that are none of these contain nothing)."""
    text = entry.strip()
    try:
        if "-" in text:
            first_text, _, last_text = text.partition("-")
            first, last = ipaddress.ip_address(first_text.strip()), ipaddress.ip_address(last_text.strip())
            if first.version != address.version or last.version != address.version:
                return False
            return int(first) <= int(address) <= int(last)
        if " " in text:
            text = text.replace(" ", "/", 1)
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return network.version == address.version and address in network


def in_ranges(port: int, text: str) -> bool:
    """Whether `port` is in a port or range `a-b` (`text`; anything else holds no port)."""
    low, _, high = text.strip().partition("-")
    try:
        return int(low) <= port <= int(high or low)
    except ValueError:
        return False


def same_name(a: str, b: str) -> bool:
    """Domain names compared case-insensitively, a trailing dot ignored."""
    return a.rstrip(".").lower() == b.rstrip(".").lower()


def glob_name(pattern: str, name: str) -> bool:
    """A domain name against a name pattern whose `*` stands for one or more characters, dots
    included (FortiOS wildcard FQDN addresses, `*.example.com`: every name ending in
    `.example.com`, not `example.com` itself); case-insensitive, trailing dots ignored. A
    pattern without `*` is `same_name`."""
    pattern, name = pattern.rstrip(".").lower(), name.rstrip(".").lower()
    if "*" not in pattern:
        return pattern == name
    return re.fullmatch(".+".join(re.escape(part) for part in pattern.split("*")), name) is not None


def traffic_request(request_body: bytes) -> Any:
    """The JSON of a traffic request body (TrafficError when it is not JSON)."""
    try:
        return json.loads(request_body) if request_body else None
    except ValueError:
        raise TrafficError("the body is not JSON") from None


def bad_request(error: ValueError) -> Response:
    """The mocks' 400 answer for a bad `/_mock/` request."""
    return json_response(400, {"error": str(error)})
