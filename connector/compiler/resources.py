"""The fusion-connector.io resources read into checked specs.

What compiles when a rule is wrong in context (its `Accepted` condition is then False):
- A missing ExternalService contributes nothing; the rule keeps its other ExternalServices. An
  Allow rule therefore never allows more than its resolved part, and a Deny rule keeps denying
  its resolved part. `externalServices: [missing]` matches nothing: it is never "any".
- An ExternalService keeps its valid addresses and port entries (`InvalidAddress` /
  `InvalidPort`). If none of its addresses is valid, or it lists ports and none is valid, it
  contributes nothing: dropping every port entry would otherwise widen it to every port.
- A rule with an invalid action, tier, priority, logging, mode, devices or selector, or a
  ServiceEgressRule whose Service does not exist, is not compiled at all: its meaning or its
  sources are unknown, and sources are never widened.

`mode` (`Enforce` when absent) does not change what a rule compiles to: an `Audit` rule's
compiled rules are marked `audit`, and the device states keep them apart, never enforced.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.cluster import Obj
from connector.compiler.findings import Problem, Reason, RuleRef
from connector.compiler.values import (
    Selector,
    ValueProblem,
    merge_ranges,
    parse_address,
    parse_port_list,
    parse_protocol,
    parse_selector,
)
from connector.model import Action, Mode, PortRange, RuleKind, Tier


@dataclass(frozen=True)
class ExternalServiceSpec:
    """An ExternalService: canonical networks, FQDNs, ports (None = every port and protocol)."""

    namespace: str
    name: str
    networks: tuple[str, ...]
    fqdns: tuple[str, ...]
    ranges: tuple[PortRange, ...] | None
    problems: tuple[Problem, ...]

    @property
    def usable(self) -> bool:
        """Whether it contributes any destination (a wholly invalid one contributes nothing)."""
        return bool(self.networks or self.fqdns) and (self.ranges is None or bool(self.ranges))


def read_external_service(obj: Obj) -> ExternalServiceSpec:
    meta = obj.get("metadata") or {}
    namespace, name = meta.get("namespace") or "", meta.get("name") or ""
    spec = obj.get("spec") or {}
    where = f"ExternalService {namespace}/{name}"
    problems: list[Problem] = []
    networks: set[str] = set()
    fqdns: set[str] = set()
    addresses = spec.get("addresses")
    if not isinstance(addresses, list) or not addresses:
        problems.append(
            Problem(
                Reason.INVALID_ADDRESS,
                f"{where}: spec.addresses must list 1..1000 IP addresses, CIDRs or FQDNs",
                True,
            )
        )
        addresses = []
    for index, text in enumerate(addresses):
        try:
            parsed = parse_address(text)
        except ValueProblem as exc:
            problems.append(
                Problem(Reason.INVALID_ADDRESS, f"{where}: spec.addresses[{index}]: {exc} (ignored)", True)
            )
            continue
        if parsed.network:
            networks.add(parsed.network)
        else:
            fqdns.add(parsed.fqdn)
    ranges: tuple[PortRange, ...] | None = None
    ports = spec.get("ports")
    if ports:
        collected: list[PortRange] = []
        for index, entry in enumerate(ports if isinstance(ports, list) else [ports]):
            try:
                if not isinstance(entry, dict):
                    raise ValueProblem(f"{entry!r} is not a port entry")
                collected.extend(parse_port_list(entry.get("port"), parse_protocol(entry.get("protocol"))))
            except ValueProblem as exc:
                problems.append(
                    Problem(Reason.INVALID_PORT, f"{where}: spec.ports[{index}]: {exc} (ignored)", True)
                )
        ranges = merge_ranges(collected)
    return ExternalServiceSpec(
        namespace, name, tuple(sorted(networks)), tuple(sorted(fqdns)), ranges, tuple(problems)
    )


@dataclass(frozen=True)
class RuleSpec:
    """A rule resource read and checked. `external_services` None = any destination; `devices`
    None = every device. `problems` holds the blocking spec errors found here (the rule is then
    not compiled) and non-blocking findings."""

    ref: RuleRef
    generation: int
    tier: Tier
    priority: int
    action: Action
    logging: bool
    devices: tuple[str, ...] | None
    external_services: tuple[str, ...] | None
    namespace_selector: Selector | None
    pod_selector: Selector | None
    service: str
    problems: tuple[Problem, ...]
    mode: Mode = Mode.ENFORCE

    @property
    def audit(self) -> bool:
        return self.mode is Mode.AUDIT

    @property
    def compilable(self) -> bool:
        return not any(p.blocking for p in self.problems)

    def order_key(self) -> tuple[int, int, str, int]:
        """(priority, kind — Service before Namespace —, name, annotation last on a name tie)."""
        kind_rank = 0 if self.ref.kind == RuleKind.SERVICE else 1
        return (self.priority, kind_rank, self.ref.name, 1 if self.ref.kind == RuleKind.ANNOTATION else 0)


def _string_list(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return None
    return tuple(value)


def read_rule(obj: Obj, kind: RuleKind) -> RuleSpec:
    """Read a rule object of `kind` (list items from the API server carry no `kind` field)."""
    meta = obj.get("metadata") or {}
    ref = RuleRef(
        kind, meta.get("namespace") or "" if kind != RuleKind.CLUSTER else "", meta.get("name") or ""
    )
    spec = obj.get("spec") or {}
    problems: list[Problem] = []

    def invalid(field: str, message: str, reason: Reason = Reason.INVALID_SPEC) -> None:
        problems.append(Problem(reason, f"{ref}: spec.{field}: {message}", True))

    tier = Tier.ADMIN
    if kind == RuleKind.CLUSTER:
        tier_text = spec.get("tier", "Admin")
        if tier_text not in ("Admin", "Baseline"):
            invalid("tier", f"{tier_text!r} is not Admin or Baseline")
        tier = Tier.BASELINE if tier_text == "Baseline" else Tier.ADMIN
    else:
        tier = Tier.NAMESPACE

    priority = spec.get("priority", 500)
    if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 1000:
        invalid("priority", f"{priority!r} is not an integer 0..1000")
        priority = 500

    action_text = spec.get("action")
    if action_text not in ("Allow", "Deny"):
        invalid("action", f"{action_text!r} is not Allow or Deny")
    action = Action.ALLOW if action_text == "Allow" else Action.DENY

    logging = spec.get("logging", False)
    if not isinstance(logging, bool):
        invalid("logging", f"{logging!r} is not true or false")
        logging = False

    mode_text = spec.get("mode", Mode.ENFORCE.value)
    if mode_text not in (Mode.ENFORCE.value, Mode.AUDIT.value):
        invalid("mode", f"{mode_text!r} is not Enforce or Audit")
    mode = Mode.AUDIT if mode_text == Mode.AUDIT.value else Mode.ENFORCE

    devices: tuple[str, ...] | None = None
    if spec.get("devices") is not None:
        devices = _string_list(spec.get("devices"))
        if devices is None:
            invalid("devices", "must be a list of device names")

    external: tuple[str, ...] | None = None
    if spec.get("externalServices"):
        external = _string_list(spec.get("externalServices"))
        if external is None:
            invalid("externalServices", "must be a list of ExternalService names")
        else:
            external = tuple(dict.fromkeys(external))

    namespace_selector: Selector | None = None
    pod_selector: Selector | None = None
    field = {RuleKind.CLUSTER: "namespaceSelector", RuleKind.NAMESPACE: "podSelector"}.get(kind)
    if field and spec.get(field) is not None:
        try:
            parsed = parse_selector(spec[field])
        except ValueProblem as exc:
            invalid(field, str(exc), Reason.INVALID_SELECTOR)
        else:
            if kind == RuleKind.CLUSTER:
                namespace_selector = parsed
            else:
                pod_selector = parsed

    service = ""
    if kind == RuleKind.SERVICE:
        service = spec.get("service") or ""
        if not isinstance(service, str) or not service:
            invalid("service", "the Service name is required")
            service = ""

    return RuleSpec(
        ref=ref,
        generation=int(meta.get("generation") or 0),
        tier=tier,
        priority=priority,
        action=action,
        logging=logging,
        devices=devices,
        external_services=external,
        namespace_selector=namespace_selector,
        pod_selector=pod_selector,
        service=service,
        problems=tuple(problems),
        mode=mode,
    )
