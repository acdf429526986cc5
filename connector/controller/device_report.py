"""What is known of each device as far as rule statuses go: fingerprints of the rules it holds
(after its last good sync) and of those it should hold, the problem of its last sync, and its
table usage.

A fingerprint stands for one Kubernetes rule's compiled form (its compiled rules: names, order,
action, logging, destinations and ports by key); source membership is not part of it, so a pod
change leaves it equal. Audit rules (`DeviceState.staged`) count too: a device holds them when
it holds its desired state (staged where it can stage rules, nowhere else). A device whose
last sync ended with one of `PROBLEM_REASONS` (it failed or was refused as a whole) is
`blocked`: none of its rules counts as programmed until a sync succeeds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from connector.model import CompiledRule, DeviceState
from connector.planner.capacity import CapacityReport

OriginKey = tuple[str, str, str]  # (rule kind, namespace, name)

CAPACITY_EXCEEDED = "CapacityExceeded"
# Device problems that are Warnings on the rules they keep from being programmed.
PROBLEM_REASONS = frozenset({"DeviceError", "PlanRefused", CAPACITY_EXCEEDED})


def origin_key(kind: str, namespace: str, name: str) -> OriginKey:
    return (kind, namespace, name)


def fingerprints(state: DeviceState) -> dict[OriginKey, int]:
    """A fingerprint of each Kubernetes rule's compiled form in `state` (see the module docstring)."""
    grouped: dict[OriginKey, list[CompiledRule]] = {}
    for rule in state.rules + state.staged.rules:
        grouped.setdefault((rule.origin.kind.value, rule.origin.namespace, rule.origin.name), []).append(rule)
    return {key: hash(tuple(rules)) for key, rules in grouped.items()}


@dataclass(frozen=True)
class DeviceReport:
    """What is known of one device: fingerprints of what it holds (after its last good sync) and of
    what it should hold, the problem of its last sync (reason, message) if any, and its table
    usage as of its last plan."""

    name: str
    held: Mapping[OriginKey, int] = field(default_factory=dict)
    wanted: Mapping[OriginKey, int] = field(default_factory=dict)
    problem: tuple[str, str] | None = None
    capacity: CapacityReport | None = None

    @property
    def blocked(self) -> bool:
        """True when the device's last sync failed or was refused (`PROBLEM_REASONS`): it may not
        hold what it should, so none of its rules counts as programmed until a sync succeeds."""
        return self.problem is not None and self.problem[0] in PROBLEM_REASONS


def capacities(reports: Mapping[str, DeviceReport]) -> dict[str, CapacityReport]:
    """Each device's table usage, for the devices whose usage is known."""
    return {name: report.capacity for name, report in reports.items() if report.capacity is not None}
