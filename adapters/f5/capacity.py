"""AS3 tenant usage: address lists, AFM rules and declaration size, against `AS3Capacity`.

Pure apart from `request_body`. `objects` are the tenant's planner objects (`render`'s kinds).
`rules` counts the AFM rules across every `Firewall_Rule_List`; `declarationBytes` is the size of
the deploy request the adapter would post for `objects` (compact JSON, UTF-8): what AS3 parses,
validates and stores on every deploy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from adapters.f5.config import AS3Capacity
from adapters.f5.declaration import TENANT
from connector.planner.capacity import Table, TableUsage
from connector.planner.types import DeviceObject

ADDRESS_LIST = "address_list"
RULE_LIST = "rule_list"

RequestBody = Callable[[Sequence[DeviceObject]], bytes]


def table_usage(objects: Sequence[DeviceObject], limits: AS3Capacity,
                request_body: RequestBody) -> tuple[TableUsage, ...]:
    """Address lists, AFM rules and declaration bytes of the tenant, each with its limit
    (`request_body(objects)` gives the deploy request; no object but the tenant: 0 bytes, the
    tenant is then deleted, not declared)."""
    lists = sum(1 for obj in objects if obj.kind == ADDRESS_LIST)
    rules = sum(len(obj.body.get("rules") or ()) for obj in objects if obj.kind == RULE_LIST)
    size = len(request_body(objects)) if any(obj.kind != TENANT for obj in objects) else 0
    return (TableUsage(Table.ADDRESS_LISTS, lists, limits.address_lists),
            TableUsage(Table.RULES, rules, limits.rules),
            TableUsage(Table.DECLARATION_BYTES, size, limits.declaration_bytes))
