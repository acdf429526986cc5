"""How long AS3 takes to process a declaration, as a function of tenant size (the `realistic`
processing model of the BIG-IP mock). Calibration and sources: `docs/device-notes.md`.

Pure functions: `tenant_size(tenant)` measures a tenant body, `declaration_seconds(sizes)` is the
time AS3 spends on one declaration (or DELETE) touching those tenants, at scale 1 (real time).
A tenant's cost is a fixed part plus parts per AS3 object, per address entry and per megabyte of
its JSON; AS3 reads back the whole current tenant before it diffs and writes, so the mock charges
each tenant the larger of its stored and declared sizes (`TenantSize.larger`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PER_DECLARATION = 1.0   # s: validation, lock, async record, `save sys config` (persist: true)
PER_TENANT = 0.5        # s: per tenant: poll the partition, diff, transaction
PER_OBJECT = 0.015      # s: per AS3 object (application item, or firewall rule)
PER_ADDRESS = 0.002     # s: per entry of a Firewall_Address_List (address or FQDN)
PER_MEGABYTE = 5.0      # s: per MB of tenant JSON (parsing, schema validation, stored metadata)
ASYNC_SWAP_SECONDS = 45.0  # a synchronous declare still running after this answers 202 (AS3 3.56)


@dataclass(frozen=True)
class TenantSize:
    """`objects`: class-bearing items of its applications plus the rules of its rule lists;
    `addresses`: address and FQDN entries of its address lists; `size_bytes`: compact JSON size."""

    objects: int = 0
    addresses: int = 0
    size_bytes: int = 0

    def larger(self, other: TenantSize) -> TenantSize:
        return TenantSize(max(self.objects, other.objects), max(self.addresses, other.addresses),
                          max(self.size_bytes, other.size_bytes))


def tenant_size(tenant: Mapping[str, Any] | None) -> TenantSize:
    """The size of one AS3 tenant body (an empty size for None)."""
    if not tenant:
        return TenantSize()
    objects = addresses = 0
    for app in tenant.values():
        if not isinstance(app, Mapping) or "class" not in app:
            continue
        for item in app.values():
            if not isinstance(item, Mapping) or "class" not in item:
                continue
            objects += 1
            if item["class"] == "Firewall_Rule_List" and isinstance(item.get("rules"), list):
                objects += len(item["rules"])
            elif item["class"] == "Firewall_Address_List":
                addresses += sum(len(item.get(key) or ()) for key in ("addresses", "fqdns"))
    size = len(json.dumps(tenant, separators=(",", ":")).encode())
    return TenantSize(objects, addresses, size)


def tenant_seconds(size: TenantSize) -> float:
    """Seconds AS3 spends on one tenant of this size."""
    return (PER_TENANT + PER_OBJECT * size.objects + PER_ADDRESS * size.addresses
            + PER_MEGABYTE * size.size_bytes / 1_000_000)


def declaration_seconds(sizes: Iterable[TenantSize]) -> float:
    """Seconds AS3 spends on one declaration (or DELETE) that touches tenants of these sizes."""
    return PER_DECLARATION + sum(tenant_seconds(size) for size in sizes)
