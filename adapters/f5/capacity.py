"""AS3 tenant usage: address lists, AFM rules and declaration size, against `AS3Capacity`.

Pure. `objects` are the tenant's planner objects (`render`'s kinds). `rules` counts the AFM
rules across every `Firewall_Rule_List`; `declarationBytes` is the size of the tenant's ADC
declaration as canonical JSON (sorted keys, no insignificant whitespace, UTF-8), which is what
AS3 parses, validates and stores on every deploy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from adapters.f5.declaration import TENANT, adc, tenant_declaration
from connector.config import AS3Capacity
from connector.planner.capacity import Table, TableUsage
from connector.planner.types import DeviceObject

ADDRESS_LIST = "address_list"
RULE_LIST = "rule_list"


def declaration_bytes(tenant: str, objects: Sequence[DeviceObject], schema_version: str) -> int:
    """Bytes of the canonical JSON of the ADC declaration holding `objects` (0 when there is no
    object: the tenant is then deleted, not declared)."""
    if not any(obj.kind != TENANT for obj in objects):
        return 0
    document = adc(tenant, tenant_declaration(tenant, objects), schema_version)
    return len(json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())


def table_usage(tenant: str, objects: Sequence[DeviceObject], limits: AS3Capacity,
                schema_version: str) -> tuple[TableUsage, ...]:
    """Address lists, AFM rules and declaration bytes of the tenant, each with its limit."""
    lists = sum(1 for obj in objects if obj.kind == ADDRESS_LIST)
    rules = sum(len(obj.body.get("rules") or ()) for obj in objects if obj.kind == RULE_LIST)
    return (TableUsage(Table.ADDRESS_LISTS, lists, limits.address_lists),
            TableUsage(Table.RULES, rules, limits.rules),
            TableUsage(Table.DECLARATION_BYTES, declaration_bytes(tenant, objects, schema_version),
                       limits.declaration_bytes))
