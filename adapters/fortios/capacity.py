"""FortiOS table usage: what a VDOM would hold, counted per table against `FortiOSCapacity`.

Pure. `objects` are planner objects of the kinds `render` and `read` use (address, addrgrp,
service, policy), ours and foreign alike: a VDOM's table sizes bound every entry in it.
`groupMembers` is the member count of the largest address group.
"""

from __future__ import annotations

from collections.abc import Iterable

from adapters.fortios.config import FortiOSCapacity
from adapters.fortios.render import ADDRESS, ADDRGRP, POLICY, SERVICE
from connector.planner.capacity import Table, TableUsage
from connector.planner.types import DeviceObject


def table_usage(objects: Iterable[DeviceObject], limits: FortiOSCapacity) -> tuple[TableUsage, ...]:
    """Counts of address, addrgrp, custom service and policy entries, and the largest group's
    member count, each with its configured limit."""
    counts = {ADDRESS: 0, ADDRGRP: 0, SERVICE: 0, POLICY: 0}
    largest = 0
    for obj in objects:
        if obj.kind in counts:
            counts[obj.kind] += 1
        if obj.kind == ADDRGRP:
            largest = max(largest, len(obj.body.get("member") or ()))
    return (TableUsage(Table.ADDRESSES, counts[ADDRESS], limits.addresses),
            TableUsage(Table.ADDRESS_GROUPS, counts[ADDRGRP], limits.address_groups),
            TableUsage(Table.GROUP_MEMBERS, largest, limits.group_members),
            TableUsage(Table.SERVICES, counts[SERVICE], limits.services),
            TableUsage(Table.POLICIES, counts[POLICY], limits.policies))
