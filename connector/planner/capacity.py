"""Device capacity: how full each table of a device would be, and which limits that exceeds.

Adapters count the objects a device would hold after a plan (`Adapter.capacity`), table by table,
each with the configured limit (None: no limit). `exceeded` is the pure check: the tables whose
count is above their limit. A plan that exceeds any is refused as a whole before anything is
written (`connector.reconciler.device`).

Table names are the configuration's `capacity` keys, so a refusal names the key to change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Table(StrEnum):
    """A device table with a finite size; the value is the configuration key of its limit."""

    ADDRESSES = "addresses"  # FortiOS firewall/address
    ADDRESS_GROUPS = "addressGroups"  # FortiOS firewall/addrgrp
    GROUP_MEMBERS = "groupMembers"  # FortiOS: members of the largest addrgrp
    SERVICES = "services"  # FortiOS firewall.service/custom
    POLICIES = "policies"  # FortiOS firewall/policy
    ADDRESS_LISTS = "addressLists"  # AS3 Firewall_Address_List
    RULES = "rules"  # AS3 rules across Firewall_Rule_Lists; REST rules
    DECLARATION_BYTES = "declarationBytes"  # AS3: size of the tenant declaration
    GROUPS = "groups"  # REST groups


@dataclass(frozen=True)
class TableUsage:
    """How many entries of `table` the device would hold, and its limit (None: no limit)."""

    table: Table
    count: int
    limit: int | None = None

    @property
    def over(self) -> bool:
        return self.limit is not None and self.count > self.limit

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table.value, "count": self.count, "limit": self.limit}


@dataclass(frozen=True)
class TableExceeded:
    """A table whose count is above its limit."""

    table: Table
    count: int
    limit: int

    def __str__(self) -> str:
        return f"{self.table.value} {self.count} > limit {self.limit}"

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table.value, "count": self.count, "limit": self.limit}


@dataclass(frozen=True)
class CapacityReport:
    """The usage of every table of one device (tables in the adapter's order)."""

    device: str
    tables: tuple[TableUsage, ...] = ()

    @property
    def exceeded(self) -> tuple[TableExceeded, ...]:
        return exceeded(self.tables)

    def usage(self, table: Table) -> TableUsage | None:
        return next((t for t in self.tables if t.table is table), None)

    def to_json(self) -> dict[str, Any]:
        return {"device": self.device, "tables": [t.to_json() for t in self.tables],
                "exceeded": [t.to_json() for t in self.exceeded]}


def exceeded(tables: Iterable[TableUsage]) -> tuple[TableExceeded, ...]:
    """The tables of `tables` whose count is above their limit, in the given order."""
    return tuple(TableExceeded(t.table, t.count, t.limit) for t in tables
                 if t.limit is not None and t.count > t.limit)


def describe(tables: Iterable[TableExceeded]) -> str:
    """`policies 10200 > limit 10000; addressGroups 2600 > limit 2500`."""
    return "; ".join(str(t) for t in tables)
