"""Virtual servers that BIG-IP refuses to have side by side (docs/device-notes.md, BIG-IP).

A listener is identified by its route domain, destination network, source network, port and
IP protocol. AS3 makes one virtual server per `virtualAddresses` entry of a `Service_*` item: a
string is the destination (`0.0.0.0` and `::` the wildcards of their family, `a%N` in route
domain N, otherwise the tenant's `defaultRouteDomain`, 0 when absent), an `[destination, source]`
pair accepts only from `source` (otherwise from anywhere of the family). Two virtual servers of
different tenants with the same identity make mcpd refuse the second, and AS3 reports that tenant
as `declaration failed` with the mcpd error. `conflict` finds that error.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

Identity = tuple[int, str, str, int, str]

# mcpd's wording as seen in BIG-IP support threads; not verified against a device (device-notes).
MESSAGE = ("01070333:3: Virtual Server {path} illegally shares destination address, source address, "
           "service port, ip-protocol, and vlan with Virtual Server {other}.")


def _network(text: str) -> str | None:
    try:
        if text in ("0.0.0.0", "::"):
            return f"{text}/0"
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return None


def listeners(tenant: str, body: Mapping[str, Any]) -> Iterator[tuple[Identity, str]]:
    """(identity, virtual server path) of every virtual server `tenant` declares."""
    default_domain = body.get("defaultRouteDomain", 0)
    for app_name, app in body.items():
        if not isinstance(app, Mapping) or app.get("class") != "Application":
            continue
        for name, item in app.items():
            if not isinstance(item, Mapping) or not str(item.get("class", "")).startswith("Service_"):
                continue
            entries = item.get("virtualAddresses")
            if not isinstance(entries, list):
                continue
            port = item.get("virtualPort", 0)
            protocol = str(item.get("layer4", "tcp"))
            for index, entry in enumerate(entries):
                destination, source = (entry[0], entry[1]) if isinstance(entry, list) and len(entry) == 2 \
                    else (entry, None)
                if not isinstance(destination, str):
                    continue
                address, _, domain = destination.partition("%")
                network = _network(address)
                if network is None:
                    continue
                family = "0.0.0.0/0" if ipaddress.ip_network(network).version == 4 else "::/0"
                scope = _network(source) if isinstance(source, str) else family
                path = f"/{tenant}/{app_name}/{name}" + (f"-{index}" if index else "")
                yield (int(domain) if domain.isdigit() else int(default_domain),
                       network, scope or family, int(port) if isinstance(port, int) else 0, protocol), path


def conflict(tenant: str, body: Mapping[str, Any], others: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The mcpd error deploying `tenant` as `body` next to the tenants `others` (name → body,
    `tenant` itself left out), or None."""
    taken: dict[Identity, str] = {}
    for name, other in sorted(others.items()):
        if name != tenant and isinstance(other, Mapping):
            for identity, path in listeners(name, other):
                taken.setdefault(identity, path)
    for identity, path in listeners(tenant, body):
        if identity in taken:
            return MESSAGE.format(path=path, other=taken[identity])
    return None
