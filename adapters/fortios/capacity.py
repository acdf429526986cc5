"""FortiOS table usage: what a VDOM would hold, counted per table against `FortiOSCapacity`.

Pure. `objects` are planner objects of the kinds `render` and `read` use (address, addrgrp,
service, policy), ours and foreign alike: a VDOM's table sizes bound every entry in it.
IPv6 objects count against the same limits as IPv4 ones (the capacity keys are per family of
device, not per table): address6 entries against `addresses`, addrgrp6 against `addressGroups`,
so the limits bound both tables together (conservative: FortiOS sizes the tables separately).
`groupMembers` is the member count of the largest address group of either family.
"""

from __future__ import annotations

from collections.abc import Iterable

from adapters.fortios.config import FortiOSCapacity
from adapters.fortios.render import ADDRESS, ADDRESS6, ADDRGRP, ADDRGRP6, POLICY, SERVICE
from connector.planner.capacity import Table, TableUsage
from connector.planner.types import DeviceObject


def table_usage(objects: Iterable[DeviceObject], limits: FortiOSCapacity) -> tuple[TableUsage, ...]:
    """Counts of address (with address6), addrgrp (with addrgrp6), custom service and policy
    entries, and the largest group's member count, each with its configured limit."""
    counts = {ADDRESS: 0, ADDRGRP: 0, SERVICE: 0, POLICY: 0}
    counted = {ADDRESS6: ADDRESS, ADDRGRP6: ADDRGRP}
    largest = 0
    for obj in objects:
        kind = counted.get(obj.kind, obj.kind)
        if kind in counts:
            counts[kind] += 1
        if kind == ADDRGRP:
            largest = max(largest, len(obj.body.get("member") or ()))
    return (TableUsage(Table.ADDRESSES, counts[ADDRESS], limits.addresses),
            TableUsage(Table.ADDRESS_GROUPS, counts[ADDRGRP], limits.address_groups),
            TableUsage(Table.GROUP_MEMBERS, largest, limits.group_members),
            TableUsage(Table.SERVICES, counts[SERVICE], limits.services),
            TableUsage(Table.POLICIES, counts[POLICY], limits.policies))
