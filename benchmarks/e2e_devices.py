"""What the mock devices hold, read through their own APIs, for the end-to-end benchmark.

Per device family a reader gives:
- `pod_ips()`: every pod-network IPv4 address (as an int) that the objects the connector owns on
  the device contain (FortiOS owned `firewall/address` objects: ipmask and iprange; AS3 the
  tenant's `Firewall_Address_List` addresses; REST the owned groups' members), or None when the
  device cannot be read right now. Equal to the live pods' addresses = the device holds every pod
  and nothing stale.
- `tables(capacity)`: object counts per table next to the configured capacity.
`RequestLog` pages through a mock's `/_mock/requests` and tells device writes apart.
"""

from __future__ import annotations

import ipaddress
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.f5.config import AS3Capacity
from adapters.fortios.config import FortiOSCapacity
from adapters.rest.config import RestCapacity
from benchmarks.e2e_layout import POD_NETWORK

MARK = "fusion-connector:"
REST_MEDIA = "application/vnd.fusion-connector.v1+json"
_LOW = int(POD_NETWORK.network_address)
_HIGH = int(POD_NETWORK.broadcast_address)


@dataclass(frozen=True)
class TableRow:
    """One device table: objects the connector owns, objects in the table, and the limit."""

    table: str
    ours: int
    total: int | None
    limit: int | None
    limit_source: str  # where the limit comes from (configured capacity, device capabilities, none)


def pod_addresses(tokens: Iterable[str]) -> set[int]:
    """The pod-network IPv4 addresses in `tokens`: `a.b.c.d`, `a.b.c.d/n`, `a-b` or FortiOS `a m`."""
    held: set[int] = set()
    for token in tokens:
        text = str(token).strip()
        try:
            if "-" in text:
                first, last = (int(ipaddress.IPv4Address(part.strip())) for part in text.split("-", 1))
            elif " " in text:
                network = ipaddress.IPv4Network(text.replace(" ", "/", 1), strict=False)
                first, last = int(network.network_address), int(network.broadcast_address)
            else:
                network = ipaddress.IPv4Network(text, strict=False)
                first, last = int(network.network_address), int(network.broadcast_address)
        except ValueError:  # an FQDN or IPv6: never a pod address here
            continue
        first, last = max(first, _LOW), min(last, _HIGH)
        if first <= last:
            held.update(range(first, last + 1))
    return held


class RequestLog:
    """A mock's request log, read incrementally; kept without bodies."""

    def __init__(self, url: str, client: httpx.Client) -> None:
        self.url = url
        self.client = client
        self.entries: list[dict[str, Any]] = []

    @property
    def seq(self) -> int:
        return int(self.entries[-1]["seq"]) if self.entries else 0

    def fetch(self) -> None:
        """Append the requests logged since the previous call."""
        response = self.client.get(f"{self.url}/_mock/requests", params={"since": self.seq}, timeout=120)
        response.raise_for_status()
        self.entries += [{key: entry[key] for key in ("seq", "time", "method", "path", "status")}
                         for entry in response.json()["requests"]]

    def since(self, seq: int) -> list[dict[str, Any]]:
        return [entry for entry in self.entries if entry["seq"] > seq]

    def last_write(self) -> dict[str, Any] | None:
        return next((entry for entry in reversed(self.entries) if is_write(entry)), None)


def is_write(entry: dict[str, Any]) -> bool:
    return (entry["method"] in ("POST", "PUT", "PATCH", "DELETE") and not entry["path"].startswith("/_mock")
            and "authn/login" not in entry["path"] and "/authz/tokens" not in entry["path"])


class DeviceReader(ABC):
    """Reads one mock device (see the module docstring); one subclass per device family."""

    family = ""

    def __init__(self, url: str, client: httpx.Client) -> None:
        self.url = url
        self.client = client
        self.own_reads = 0  # `pod_ips` calls: requests of ours in the device's request log

    @abstractmethod
    def pod_ips(self) -> set[int] | None:
        """The IPv4 pod addresses the device holds in our source groups (None: not readable now)."""

    @abstractmethod
    def tables(self, capacity: Any) -> list[TableRow]:
        """Our objects per table next to the configured capacity."""

    def _get(self, path: str, **kwargs: Any) -> Any:
        response = self.client.get(self.url + path, timeout=120, **kwargs)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()


class FortiOSReader(DeviceReader):
    family = "fortios"
    TABLES = {"address": "firewall/address", "addrgrp": "firewall/addrgrp",
              "service": "firewall.service/custom", "policy": "firewall/policy"}

    def __init__(self, url: str, client: httpx.Client, token: str, vdom: str = "root") -> None:
        super().__init__(url, client)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.vdom = vdom

    def _table(self, key: str, fields: str | None = None) -> list[dict[str, Any]]:
        params = {"vdom": self.vdom, **({"format": fields} if fields else {})}
        body = self._get(f"/api/v2/cmdb/{self.TABLES[key]}", params=params, headers=self.headers)
        return list(body["results"]) if body else []

    def pod_ips(self) -> set[int] | None:
        try:
            self.own_reads += 1
            entries = self._table("address", "name|comment|type|subnet|start-ip|end-ip")
        except httpx.HTTPError:
            return None
        tokens = []
        for entry in entries:
            if not str(entry.get("comment", "")).startswith(MARK):
                continue
            if entry.get("type") == "iprange":
                tokens.append(f"{entry['start-ip']}-{entry['end-ip']}")
            elif entry.get("type", "ipmask") == "ipmask":
                tokens.append(str(entry.get("subnet", "")))
        return pod_addresses(tokens)

    def tables(self, capacity: FortiOSCapacity) -> list[TableRow]:
        rows = []
        limits = {"address": capacity.addresses, "addrgrp": capacity.address_groups,
                  "service": capacity.services, "policy": capacity.policies}
        largest = 0
        for key, table in self.TABLES.items():
            entries = self._table(key)
            comment = "comments" if key == "policy" else "comment"
            ours = [e for e in entries if str(e.get(comment, "")).startswith(MARK)]
            rows.append(TableRow(table, len(ours), len(entries), limits[key], "capacity"))
            if key == "addrgrp":
                largest = max((len(e.get("member") or []) for e in ours), default=0)
        rows.append(TableRow("largest addrgrp (members)", largest, None, capacity.group_members, "capacity"))
        return rows


class AS3Reader(DeviceReader):
    family = "f5-as3"

    def __init__(self, url: str, client: httpx.Client, tenant: str, username: str, password: str) -> None:
        super().__init__(url, client)
        self.tenant = tenant
        self.auth = (username, password)

    def _tenant(self) -> dict[str, Any] | None:
        body = self._get(f"/mgmt/shared/appsvcs/declare/{self.tenant}", auth=self.auth)
        return None if body is None else dict(body.get(self.tenant) or {})

    @staticmethod
    def _classes(tenant: dict[str, Any], name: str) -> list[dict[str, Any]]:
        return [obj for app in tenant.values() if isinstance(app, dict) and app.get("class") == "Application"
                for obj in app.values() if isinstance(obj, dict) and obj.get("class") == name]

    def pod_ips(self) -> set[int] | None:
        try:
            self.own_reads += 1
            tenant = self._tenant()
        except httpx.HTTPError:
            return None
        if tenant is None:
            return set()
        return pod_addresses(address for lst in self._classes(tenant, "Firewall_Address_List")
                             for address in lst.get("addresses") or [])

    def tables(self, capacity: AS3Capacity) -> list[TableRow]:
        tenant = self._tenant() or {}

        def source(limit: int | None) -> str:
            return "capacity" if limit is not None else "no limit configured"

        rules = sum(len(lst.get("rules") or []) for lst in self._classes(tenant, "Firewall_Rule_List"))
        size = len(json.dumps({self.tenant: tenant}, separators=(",", ":"))) if tenant else 0
        return [
            TableRow("Firewall_Address_List", len(self._classes(tenant, "Firewall_Address_List")), None,
                     capacity.address_lists, source(capacity.address_lists)),
            TableRow("Firewall_Port_List", len(self._classes(tenant, "Firewall_Port_List")), None, None,
                     "no limit"),
            TableRow("rules (in Firewall_Rule_Lists)", rules, None, capacity.rules, source(capacity.rules)),
            TableRow("tenant declaration (bytes)", size, None, capacity.declaration_bytes,
                     source(capacity.declaration_bytes)),
        ]


class RestReader(DeviceReader):
    family = "rest"

    def __init__(self, url: str, client: httpx.Client, token: str) -> None:
        super().__init__(url, client)
        self.headers = {"Authorization": f"Bearer {token}", "Accept": REST_MEDIA}

    def pod_ips(self) -> set[int] | None:
        try:
            self.own_reads += 1
            state = self._get("/state", headers=self.headers)
        except httpx.HTTPError:
            return None
        return pod_addresses(member for group in (state or {}).get("groups") or []
                             if str(group.get("owner", "")).startswith(MARK)
                             for member in group.get("members") or [])

    def tables(self, capacity: RestCapacity) -> list[TableRow]:
        state = self._get("/state", headers=self.headers) or {}
        capabilities = (self._get("/", headers=self.headers) or {}).get("capabilities") or {}
        max_objects = capabilities.get("maxObjects")
        rows = []
        total = 0
        for key in ("groups", "addresses", "services", "rules"):
            entries = state.get(key) or []
            total += len(entries)
            ours = sum(1 for e in entries if str(e.get("owner", "")).startswith(MARK))
            limit = {"groups": capacity.groups, "rules": capacity.rules}.get(key)
            rows.append(TableRow(key, ours, len(entries), limit,
                                 "capacity" if limit is not None else "no limit configured"))
        rows.append(TableRow("all objects", total, None, max_objects,
                             "capabilities maxObjects" if max_objects is not None else "no limit"))
        return rows
