"""REST receiver table usage: groups and rules, against `RestCapacity` or what the receiver says.

Pure apart from `device_info`. A configured limit wins; an unset one takes the receiver's
`GET /` `limits` (`groups`, `rules`: an integer, or null for no limit); neither → no limit. Every
group and rule of the receiver's state counts, ours and foreign alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from adapters.rest.config import RestCapacity
from connector.planner.capacity import Table, TableUsage
from connector.planner.types import DeviceObject


def announced_limits(info: Mapping[str, Any]) -> dict[Table, int | None]:
    """The `limits` of a `GET /` document (top level, or inside `capabilities`); anything but a
    positive integer means no limit."""
    limits = info.get("limits")
    if not isinstance(limits, Mapping):
        capabilities = info.get("capabilities")
        limits = capabilities.get("limits") if isinstance(capabilities, Mapping) else None
    if not isinstance(limits, Mapping):
        return {}
    out: dict[Table, int | None] = {}
    for table in (Table.GROUPS, Table.RULES):
        value = limits.get(table.value)
        out[table] = value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
    return out


def table_usage(objects: Iterable[DeviceObject], configured: RestCapacity,
                device_info: Callable[[], Mapping[str, Any]] | None = None) -> tuple[TableUsage, ...]:
    """Counts of group and rule objects with their limits: configured, else announced in
    `device_info()` (the `GET /` document, asked only when a limit is not configured)."""
    unset = configured.groups is None or configured.rules is None
    announced = announced_limits(device_info()) if unset and device_info is not None else {}
    groups = rules = 0
    for obj in objects:
        if obj.kind == "group":
            groups += 1
        elif obj.kind == "rule":
            rules += 1
    return (TableUsage(Table.GROUPS, groups,
                       configured.groups if configured.groups is not None else announced.get(Table.GROUPS)),
            TableUsage(Table.RULES, rules,
                       configured.rules if configured.rules is not None else announced.get(Table.RULES)))
