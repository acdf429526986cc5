"""Canonical text and sort keys of IP addresses and networks, with a fast path for plain IPv4.

A pure module shared by the compiler and the adapters. Pod addresses are nearly all canonical
IPv4 dotted quads, and parsing them with `ipaddress` is most of the cost of compiling and
rendering a large state. `ipv4_int` recognises exactly the canonical quads (`a.b.c.d`: four
ASCII-decimal octets of at most 255 with no leading zeros) and computes their integer directly;
`network` and `ip_network_text` also take `a.b.c.d/32` that way, and `ip_address_text` returns a
canonical quad as it is. Everything else (IPv6, other prefixes, ranges, leading zeros,
whitespace, out-of-range octets) goes to `ipaddress`, so every result, and every error, is the
one `ipaddress` gives.
"""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_QUAD = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")
_QUAD_HOST = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}(/32)?")


class Network(NamedTuple):
    """A network as `ipaddress.ip_network(text, strict=False)` reads it.

    `address` is the network address as an integer; `text` is the canonical form: the bare
    address for a host network (`/32`, `/128`), else `address/prefixlen` (IPv6 compressed).
    Sorting by `key` orders IPv4 before IPv6, then numerically, then by prefix length."""

    version: int
    address: int
    prefixlen: int
    text: str

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.version, self.address, self.prefixlen)


def ipv4_int(text: str) -> int | None:
    """The integer of `text` when it is a canonical IPv4 dotted quad, else None (whatever it is)."""
    match = _QUAD.fullmatch(text)
    if match is None:
        return None
    a, b, c, d = match.groups()
    return int(a) << 24 | int(b) << 16 | int(c) << 8 | int(d)


def ipv4_text(value: int) -> str:
    """The dotted quad of an IPv4 address integer (0 <= value < 2**32), as `ipaddress` writes it."""
    return f"{value >> 24}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"


def ip_address_text(text: str) -> str:
    """`str(ipaddress.ip_address(text))`; raises ValueError exactly when (and as) it does."""
    if _QUAD.fullmatch(text) is not None:
        return text
    return str(ipaddress.ip_address(text))


def ip_network_text(text: str) -> str:
    """`str(ipaddress.ip_network(text, strict=False))` (a host network keeps its `/32` or
    `/128`); raises ValueError exactly when (and as) it does."""
    match = _QUAD_HOST.fullmatch(text)
    if match is None:
        return str(ipaddress.ip_network(text, strict=False))
    return text if match.group(5) else f"{text}/32"


def network(text: str) -> Network:
    """`text` (an address or a CIDR) as a `Network`; raises ValueError exactly when
    `ipaddress.ip_network(text, strict=False)` does."""
    match = _QUAD_HOST.fullmatch(text)
    if match is None:
        return _parsed(text)
    a, b, c, d, host = match.groups()
    return Network(4, int(a) << 24 | int(b) << 16 | int(c) << 8 | int(d), 32,
                   text[:-3] if host else text)


def _parsed(text: str) -> Network:
    net = ipaddress.ip_network(text, strict=False)
    canonical = str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
    return Network(net.version, int(net.network_address), net.prefixlen, canonical)
