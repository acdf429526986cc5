"""The `status` subresource of each egress rule (docs/resources.md, "Status"), built as data from
the compiler's `RuleStatus` and what each device is known to hold (`DeviceReport`).

Contract of `build_status`: `observedGeneration`; `conditions` `Accepted` (from the compiler) and
`Programmed` (True when the rule is on every device it should be on and each of them holds its
current form; reasons `Programmed`, `NotAccepted`, `NoSources`, `NotProgrammed`, `Pending`,
`DeviceError`, `PlanRefused`, `CapacityExceeded`: a device whose report carries one of these
problems — its last sync failed or was refused as a whole — keeps none of its rules programmed,
since the fingerprints leave source membership out and the addresses that joined or left since its
last good sync are not on it); `devices` (one
entry per device the rule targets: name, programmed, message, lastSyncTime); `sources`.
Timestamps are carried over from the previous status unless what they date changed: a condition's
`lastTransitionTime` only moves when its status changes, a device entry's `lastSyncTime` when the
entry changes to programmed. So building from an unchanged situation gives an equal dict, and the
writer writes nothing.

An Audit rule is programmed where the device holds its desired state (the rule staged, or only
audited where the device cannot stage rules); its messages say it is not enforced. `audit` (the
counts of observed flows it would have decided, `connector.controller.audit_status`) becomes
`status.audit` when given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.cluster import Obj
from connector.compiler import RuleStatus
from connector.controller.device_report import DeviceReport, origin_key
from connector.model import Mode

# Presence messages of the compiler that mean "this device is not one the rule is for".
_NOT_TARGETED = ("not selected by spec.devices", "does not target this device",
                 "no selected namespace targets this device")


def _targeted(message: str) -> bool:
    return not any(text in message for text in _NOT_TARGETED)


def _carry(new: dict[str, Any], old: Mapping[str, Any] | None, stamp_key: str, now: str,
           same: bool) -> dict[str, Any]:
    if same and old is not None and old.get(stamp_key):
        new[stamp_key] = old[stamp_key]
    else:
        new[stamp_key] = now
    return new


AUDIT_HELD = "audit mode: held unenforced (staged where the device can stage rules)"


def build_status(rule: RuleStatus, devices: Mapping[str, DeviceReport], previous: Mapping[str, Any] | None,
                 now: str, audit: Mapping[str, Any] | None = None) -> Obj:
    """The `status` of `rule` (see the module docstring); `now` is an RFC 3339 timestamp."""
    previous = previous or {}
    held_message = AUDIT_HELD if rule.mode is Mode.AUDIT else "programmed"
    key = origin_key(rule.ref.kind.value, rule.ref.namespace, rule.ref.name)
    old_entries = {e.get("name"): e for e in previous.get("devices") or [] if isinstance(e, dict)}
    entries: list[Obj] = []
    present: list[tuple[str, bool, tuple[str, str] | None]] = []
    for presence in rule.devices:
        if not presence.present:
            if not rule.accepted or not _targeted(presence.message):
                continue
            entry: Obj = {"name": presence.device, "programmed": False, "message": presence.message}
        else:
            report = devices.get(presence.device, DeviceReport(presence.device))
            held = (key in report.held and report.held.get(key) == report.wanted.get(key)
                    and not report.blocked)
            problem = None if held else report.problem
            waiting = "waiting for the device to be synced"
            message = held_message if held else (problem[1] if problem else waiting)
            present.append((presence.device, held, problem))
            entry = {"name": presence.device, "programmed": held, "message": message}
        old = old_entries.get(presence.device)
        same = old is not None and (old.get("programmed"), old.get("message")) == (
            entry["programmed"], entry["message"])
        if same and old is not None:
            if old.get("lastSyncTime"):
                entry["lastSyncTime"] = old["lastSyncTime"]
        elif entry["programmed"]:
            entry["lastSyncTime"] = now
        elif old is not None and old.get("lastSyncTime"):
            entry["lastSyncTime"] = old["lastSyncTime"]
        entries.append(entry)

    accepted = rule.condition()
    programmed = _programmed(rule, present, entries)
    old_conditions = {c.get("type"): c for c in previous.get("conditions") or [] if isinstance(c, dict)}
    conditions = []
    for condition in (accepted, programmed):
        old = old_conditions.get(condition["type"])
        conditions.append(_carry(dict(condition), old, "lastTransitionTime", now,
                                 old is not None and old.get("status") == condition["status"]))
    status: Obj = {"observedGeneration": rule.observed_generation, "conditions": conditions,
                   "devices": entries, "sources": rule.sources}
    if audit is not None:
        status["audit"] = dict(audit)
    return status


def _programmed(rule: RuleStatus, present: list[tuple[str, bool, tuple[str, str] | None]],
                entries: list[Obj]) -> Obj:
    def condition(ok: bool, reason: str, message: str) -> Obj:
        return {"type": "Programmed", "status": "True" if ok else "False", "reason": reason,
                "message": message, "observedGeneration": rule.observed_generation}

    if not rule.accepted:
        return condition(False, "NotAccepted", f"the rule is not accepted ({rule.reason.value})")
    if not present:
        if rule.sources == 0:
            return condition(False, "NoSources", "no source addresses: the rule is left off every device")
        reasons = "; ".join(f"{e['name']}: {e['message']}" for e in entries) or "no device is configured"
        return condition(False, "NotProgrammed", f"on no device: {reasons}")
    if all(held for _, held, _ in present):
        where = ", ".join(name for name, _, _ in present)
        if rule.mode is Mode.AUDIT:
            return condition(True, "Programmed", f"audit mode, not enforced: held on {where}")
        return condition(True, "Programmed", "programmed on " + where)
    failing = [(name, problem) for name, held, problem in present if not held and problem is not None]
    if failing:
        reason = failing[0][1][0]
        return condition(False, reason, "; ".join(f"{name}: {problem[1]}" for name, problem in failing))
    waiting = [name for name, held, _ in present if not held]
    return condition(False, "Pending", "waiting for " + ", ".join(waiting))


def status_changed(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    return dict(new) != dict(old or {})


COUNTS = ("sources", "audit")  # what churns with traffic and pods, not with the rule


def only_sources_differ(status: Mapping[str, Any], base: Mapping[str, Any]) -> bool:
    """Whether two statuses differ in their counts alone (`sources`: pod churn; `audit`: observed
    flows): the controller writes such a change at most once per `status_sources_interval`."""
    return any(status.get(k) != base.get(k) for k in COUNTS) and all(
        status.get(k) == base.get(k) for k in set(status) | set(base) if k not in COUNTS)
