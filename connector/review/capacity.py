"""Per device: how many rules and objects the change leaves on it, against its `capacity`.

Contract: `device_capacity(adapter, before, after)` renders both desired states with the device's
adapter (offline: `connector.wiring.offline_adapters`) and counts the device's tables for the
state after the change with the configured limits (`Adapter.capacity`). Offline, only our own
objects are counted: foreign objects on the device also fill its tables, so `plan` (which reads
the device) stays the authority. A render that fails gives the `error` instead of figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connector.adapter import Adapter
from connector.adapter.errors import DeviceError
from connector.model import DeviceState
from connector.planner.capacity import TableUsage, exceeded


@dataclass(frozen=True)
class DeviceCapacity:
    """Compiled rules and rendered objects before and after, and each table after the change
    with its limit (None: no limit)."""

    device: str
    rules_before: int
    rules_after: int
    objects_before: int = 0
    objects_after: int = 0
    tables: tuple[TableUsage, ...] = ()
    tables_before: tuple[TableUsage, ...] = ()
    error: str = ""

    @property
    def exceeded(self) -> tuple[TableUsage, ...]:
        return tuple(t for t in self.tables if t.over)

    def before(self, table: TableUsage) -> int | None:
        return next((t.count for t in self.tables_before if t.table is table.table), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "rules": {"before": self.rules_before, "after": self.rules_after},
            "objects": {"before": self.objects_before, "after": self.objects_after},
            "tables": [{"table": t.table.value, "before": self.before(t), "after": t.count, "limit": t.limit,
                        "exceeded": t.over} for t in self.tables],
            "exceeded": [t.to_json() for t in exceeded(self.tables)],
            "error": self.error or None,
        }


def device_capacity(adapter: Adapter, before: DeviceState, after: DeviceState) -> DeviceCapacity:
    """The figures of one device (module docstring)."""
    try:
        old = adapter.render(before)
        new = old if after is before else adapter.render(after)
        tables_before = adapter.capacity(old).tables
        tables = tables_before if after is before else adapter.capacity(new).tables
    except DeviceError as exc:
        return DeviceCapacity(adapter.name, len(before.rules), len(after.rules), error=str(exc))
    return DeviceCapacity(adapter.name, len(before.rules), len(after.rules), len(old), len(new),
                          tuple(tables), tuple(tables_before))
