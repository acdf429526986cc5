"""Pure planning: diff what a device should hold against what it holds into an ordered Plan."""

from connector.planner.planner import plan, same_body
from connector.planner.types import Change, Conflict, DeviceObject, Op, Plan, SafetyThresholds

__all__ = ["Change", "Conflict", "DeviceObject", "Op", "Plan", "SafetyThresholds", "plan", "same_body"]
