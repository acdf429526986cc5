"""What the compiler finds about every rule and namespace, as plain immutable data: a rule is
named by a `RuleRef`, each finding is a `Problem` with a `Reason`, and a rule's findings, source
count and presence per device make its `RuleStatus`; a namespace's treatment is its
`NamespaceStatus`. The controller writes `RuleStatus` back to the resources (`conditions`,
`sources`, `devices`). A problem is *blocking* when the spec is wrong in context (the
`Accepted` condition is then False); other problems (`SourceWidened`, `SharedSource`,
`FQDNUnsupported`, `WildcardFQDNUnsupported`, `IPv6Unsupported`, `UnknownDevice`, `NamespaceNotManaged`) keep
`Accepted=True` and name the caveat.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from connector.model import Mode, RuleKind


class Reason(StrEnum):
    ACCEPTED = "Accepted"
    INVALID_SPEC = "InvalidSpec"
    INVALID_SELECTOR = "InvalidSelector"
    INVALID_ADDRESS = "InvalidAddress"
    INVALID_PORT = "InvalidPort"
    SERVICE_NOT_FOUND = "ServiceNotFound"
    EXTERNAL_SERVICE_NOT_FOUND = "ExternalServiceNotFound"
    FQDN_UNSUPPORTED = "FQDNUnsupported"
    WILDCARD_FQDN_UNSUPPORTED = "WildcardFQDNUnsupported"
    IPV6_UNSUPPORTED = "IPv6Unsupported"
    SOURCE_WIDENED = "SourceWidened"
    SHARED_SOURCE = "SharedSource"
    UNKNOWN_DEVICE = "UnknownDevice"
    NAMESPACE_NOT_MANAGED = "NamespaceNotManaged"


# The order in which reasons are chosen for the condition when several problems apply.
REASON_ORDER: tuple[Reason, ...] = (
    Reason.INVALID_SPEC,
    Reason.INVALID_SELECTOR,
    Reason.INVALID_PORT,
    Reason.INVALID_ADDRESS,
    Reason.SERVICE_NOT_FOUND,
    Reason.EXTERNAL_SERVICE_NOT_FOUND,
    Reason.NAMESPACE_NOT_MANAGED,
    Reason.FQDN_UNSUPPORTED,
    Reason.WILDCARD_FQDN_UNSUPPORTED,
    Reason.IPV6_UNSUPPORTED,
    Reason.SOURCE_WIDENED,
    Reason.SHARED_SOURCE,
    Reason.UNKNOWN_DEVICE,
)


@dataclass(frozen=True, order=True)
class RuleRef:
    """A rule resource: kind, namespace ("" for ClusterEgressRule) and name."""

    kind: RuleKind
    namespace: str
    name: str

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind.value} {where}{self.name}"


@dataclass(frozen=True, order=True)
class Problem:
    """One finding about a rule; `blocking` findings make `Accepted` False; `device` names the one
    device a finding concerns ("" = every device)."""

    reason: Reason
    message: str
    blocking: bool
    device: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reason": self.reason.value, "message": self.message,
                               "blocking": self.blocking}
        if self.device:
            out["device"] = self.device
        return out


def dedupe(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    """`problems` without repeats, in a stable order."""
    return tuple(sorted(set(problems)))


def unknown_devices(ref: RuleRef, named: Iterable[str] | None, devices: tuple[str, ...]) -> list[Problem]:
    """The `UnknownDevice` problem of rule `ref` whose `spec.devices` (`named`) lists a device not
    among the configured `devices`, or nothing."""
    unknown = [d for d in named or () if d not in devices]
    if not unknown:
        return []
    return [
        Problem(
            Reason.UNKNOWN_DEVICE,
            f"{ref}: spec.devices: no configured device named {', '.join(unknown)}",
            False,
        )
    ]


@dataclass(frozen=True)
class DevicePresence:
    """Whether a rule is compiled onto one device, and why not when it is not."""

    device: str
    present: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.device, "present": self.present, "message": self.message}


@dataclass(frozen=True)
class RuleStatus:
    """What the compiler found for one rule; `mode` is its `spec.mode` (an Audit rule's presence
    on a device means it is held there unenforced: staged, or only audited)."""

    ref: RuleRef
    observed_generation: int
    problems: tuple[Problem, ...]
    sources: int
    devices: tuple[DevicePresence, ...]
    mode: Mode = Mode.ENFORCE

    @property
    def accepted(self) -> bool:
        return not any(problem.blocking for problem in self.problems)

    @property
    def reason(self) -> Reason:
        if not self.problems:
            return Reason.ACCEPTED
        wanted = [p for p in self.problems if p.blocking] or list(self.problems)
        return min(wanted, key=lambda p: REASON_ORDER.index(p.reason)).reason

    @property
    def message(self) -> str:
        if not self.problems:
            return f"{self.ref} is valid and its references resolve"
        ordered = sorted(
            self.problems, key=lambda p: (not p.blocking, REASON_ORDER.index(p.reason), p.message)
        )
        return "; ".join(p.message for p in ordered)

    def condition(self) -> dict[str, Any]:
        """The `Accepted` condition as it goes into `status.conditions` (without lastTransitionTime)."""
        return {
            "type": "Accepted",
            "status": "True" if self.accepted else "False",
            "reason": self.reason.value,
            "message": self.message,
            "observedGeneration": self.observed_generation,
        }

    def to_json(self) -> dict[str, Any]:
        out = {
            "kind": self.ref.kind.value,
            "namespace": self.ref.namespace,
            "name": self.ref.name,
            "condition": self.condition(),
            "sources": self.sources,
            "problems": [p.to_json() for p in self.problems],
            "devices": [d.to_json() for d in self.devices],
        }
        if self.mode is Mode.AUDIT:
            out["mode"] = self.mode.value
        return out


@dataclass(frozen=True)
class NamespaceStatus:
    """How the compiler treats one namespace: whether it is managed, its source mode, default
    action ("None" = no catch-all), devices, source address count, its source addresses that
    other namespaces use too, and warnings: self-contained one-line strings starting with
    `namespace NAME: `, one per bad annotation value (naming the annotation and quoting the value,
    see `nswarnings`), plus notes such as pods left out for using the host network."""

    name: str
    managed: bool
    source_mode: str
    default_action: str
    devices: tuple[str, ...]
    sources: int
    shared_addresses: tuple[str, ...]
    warnings: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "managed": self.managed,
            "sourceMode": self.source_mode,
            "defaultAction": self.default_action,
            "devices": list(self.devices),
            "sources": self.sources,
            "sharedAddresses": list(self.shared_addresses),
            "warnings": list(self.warnings),
        }
