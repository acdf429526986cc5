"""The adapter contract every firewall family implements (`adapters/<family>` subclass `Adapter`;
the core calls devices through it).

Lifecycle: `render` (pure) turns a `DeviceState` into the objects the device must hold; `read`
fetches what the device really holds (every object in the adapter's scope, ours and foreign, each
with the owner mark found on it); the planner diffs the two; `apply` carries out a `Plan` in its
order.

Writing an adapter: implement `render`, `read`, the `writes` counter (write calls made so far,
e.g. `DeviceHttp.writes`) and `_apply(plan, desired, result)`, never `apply`. The base `apply`
does nothing for an empty plan, raises `UnsafePlan` for an unsafe plan neither forced nor split
by `withhold` (before any write), runs `_apply`, and counts the writes it made. `_apply` carries
out the changes in order, adds to `result.applied` as changes land and raises on the first failure; a
`DeviceError` it raises is caught and kept as `ApplyResult.error` with what was applied and
written before it (a partial apply stays visible and a timeout stays transient). Adapters raise
`connector.adapter.errors` exceptions only; any other exception is a bug and propagates.

Withheld deletions (docs/operations.md, "Safety"): an adapter declares in `emptied_fields` how
each of its kinds that can hold or match addresses is emptied (the body fields replaced, a
placeholder where the device refuses an empty list), so that a plan over the safety thresholds
can keep objects instead of deleting them without keeping their addresses (`withhold`). A
family that declares nothing (None) gets an unsafe plan refused as a whole. `apply` then
receives, besides the desired objects, the withheld objects as the plan leaves them.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from connector.adapter.errors import DeviceError, UnsafePlan
from connector.model import Capabilities, DeviceState
from connector.planner.capacity import CapacityReport, TableUsage
from connector.planner.delta import plan_delta
from connector.planner.planner import plan as plan_changes
from connector.planner.safety import withhold
from connector.planner.types import DeviceObject, Plan, SafetyThresholds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuleNumbers:
    """A device's own numbering of the rules it holds (`Adapter.rule_numbers`): `scheme` names
    it (`policyid`: FortiOS policy IDs; `policy-position`: the AFM rule's place, from 1, in the
    AS3 firewall policy across its rule lists; `rule-position`: the rule's place, from 1, in the
    REST receiver's rule list, every owner's rules counted), `label` says it for people, and
    `numbers` maps a `CompiledRule` key to its numbers on the device (several when the device
    holds the rule as several entries, such as one AFM rule per protocol)."""

    scheme: str
    label: str
    numbers: Mapping[str, tuple[str, ...]]


@dataclass
class ApplyResult:
    """What an apply did: write calls made, changes applied, and the error that ended it (None when
    every change was applied; else `applied` and `writes` say how far it got)."""

    device: str
    writes: int = 0
    applied: int = 0
    error: DeviceError | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


class Adapter(ABC):
    """Base class of the device adapters.

    `kind_order` lists object kinds in dependency order: creates and updates follow it, deletes
    go in reverse. Kinds in `ordered_kinds` are order-sensitive (policies, rules): the planner
    emits a REORDER change when our objects of that kind are not in the desired order.
    """

    type_name: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    kind_order: ClassVar[tuple[str, ...]]
    ordered_kinds: ClassVar[frozenset[str]] = frozenset()
    # Per kind that holds or matches addresses, the body fields of an emptied object: a value
    # replaces the field, None removes it (see the module docstring). None: cannot empty objects.
    emptied_fields: ClassVar[Mapping[str, Mapping[str, Any]] | None] = None

    def __init__(self, name: str, cluster: str) -> None:
        self.name = name
        self.cluster = cluster

    @classmethod
    def configured_capabilities(cls, config: Any) -> Capabilities:
        """What a device of this family configured as `config` (its `DeviceConfig`) can enforce,
        known without contacting it (the compiler's input). Default: `capabilities`."""
        return cls.capabilities

    @property
    def owner_mark(self) -> str:
        """The mark on every object we create: `fusion-connector:<cluster>`."""
        return f"fusion-connector:{self.cluster}"

    @abstractmethod
    def render(self, state: DeviceState) -> list[DeviceObject]:
        """The objects the device must hold for `state` (pure; owner set to `owner_mark`)."""

    @abstractmethod
    def read(self) -> list[DeviceObject]:
        """Every object in scope as the device holds it now, normalized like `render`'s output."""

    @property
    @abstractmethod
    def writes(self) -> int:
        """Write calls made to the device so far (a counter `apply` reads before and after)."""

    def apply(self, plan: Plan, desired: Sequence[DeviceObject]) -> ApplyResult:
        """Carry out `plan` (its changes in order); `desired` is what the device must hold of ours
        afterwards: the rendered objects, then the objects whose deletion `plan` withheld, as it
        leaves them.

        An empty plan does nothing. Raises `UnsafePlan` for an unsafe plan neither forced nor
        split by `withhold` (nothing written). Otherwise never raises a `DeviceError`: the one
        `_apply` raised is returned as `ApplyResult.error`, with the changes applied and writes
        made before it."""
        result = ApplyResult(device=self.name)
        if plan.empty:
            return result
        if not plan.applicable:
            raise UnsafePlan(self.name, plan.unsafe or "")
        before = self.writes
        try:
            self._apply(plan, desired, result)
        except DeviceError as exc:
            log.error("%s", exc)
            result.error = exc
        finally:
            result.writes = self.writes - before
        return result

    @abstractmethod
    def _apply(self, plan: Plan, desired: Sequence[DeviceObject], result: ApplyResult) -> None:
        """Carry out the non-empty, safe (or forced) `plan`: add to `result.applied` as changes
        land (and fill `result.details`); raise a `DeviceError` on the first failure."""

    def observe(self, objects: Sequence[DeviceObject]) -> None:
        """The objects the device is known to hold, when the read is skipped; adapters that render
        relative to what the device holds update that knowledge here. Default: nothing to do."""

    def references(self, obj: DeviceObject) -> Iterable[tuple[str, str]]:
        """(kind, name) of the objects `obj`'s body refers to (the planner never deletes an object
        still referenced, and keeps ours that foreign objects reference). Default: none."""
        return ()

    def plan(self, desired: Sequence[DeviceObject], actual: Sequence[DeviceObject], *,
             safety: SafetyThresholds | None = None, force: bool = False) -> Plan:
        """`connector.planner.plan` with this adapter's owner mark, kind order and references."""
        return self.arrange(plan_changes(self.name, self.cluster, desired, actual, owner_mark=self.owner_mark,
                                         kind_order=self.kind_order, ordered_kinds=self.ordered_kinds,
                                         safety=safety, force=force, references=self.references))

    def plan_known(self, previous: Sequence[DeviceObject], desired: Sequence[DeviceObject], *,
                   foreign: Collection[tuple[str, str]], referenced: Collection[tuple[str, str]],
                   existing: int, safety: SafetyThresholds | None = None, force: bool = False) -> Plan | None:
        """`connector.planner.delta.plan_delta` for a device known to hold exactly `previous` (our
        last desired render) besides the `foreign` objects; None when it must be planned in full."""
        made = plan_delta(self.name, self.cluster, previous, desired, kind_order=self.kind_order,
                          ordered_kinds=self.ordered_kinds, foreign=foreign, referenced=referenced,
                          safety=safety, force=force, existing=existing)
        return None if made is None else self.arrange(made)

    def emptied(self, kind: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """`body` of an object of `kind` emptied per `emptied_fields` (unchanged for a kind that
        holds no address)."""
        fields = (self.emptied_fields or {}).get(kind)
        if not fields:
            return body
        out = {key: value for key, value in body.items() if fields.get(key, value) is not None}
        out.update({key: value for key, value in fields.items() if value is not None})
        return out

    def withhold(self, plan: Plan, confirmed: Collection[tuple[str, str]],
                 safety: SafetyThresholds | None = None) -> Plan:
        """`connector.planner.safety.withhold` with this adapter's kinds, references and emptied
        forms: `plan` with its unconfirmed deletions withheld when it is over the thresholds."""
        made = withhold(plan, confirmed, safety or SafetyThresholds(), kind_order=self.kind_order,
                        emptied=self.emptied if self.emptied_fields is not None else None,
                        references=self.references if self._reports_references() else None)
        return made if made is plan else self.arrange(made)

    def _reports_references(self) -> bool:
        """Whether this family reports what its objects reference (else a partial set of
        deletions could delete an object another one still uses)."""
        return type(self).references is not Adapter.references

    def arrange(self, plan: Plan) -> Plan:
        """The plan with its changes in the order this device needs (a hook for adapters whose
        objects of one kind reference each other). Default: as planned."""
        return plan

    def rule_references(self, state: DeviceState) -> Mapping[str, str]:
        """The device's own references to the rules it holds for `state` (the rule name or id its
        traffic logs give) -> the `CompiledRule` key each stands for: the flow attribution's
        deciding rule. Call it after a sync of `state` (on the thread that syncs; a family that
        learns ids from the device knows those of the last read and its own writes). Default:
        none (flows through this family are attributed no rule)."""
        return {}

    def rule_numbers(self, state: DeviceState, held: Sequence[DeviceObject]) -> RuleNumbers | None:
        """The device's own numbers of the rules of `state` it holds, taken from `held` (what the
        device holds: as just read, or known) and what this adapter learnt from the device, never
        recomputed from `state` alone. Call it after `read` (or `observe`) and `render` of `state`,
        on the thread that syncs. Default: None (not known for this family)."""
        return None

    def capacity(self, objects: Sequence[DeviceObject]) -> CapacityReport:
        """The usage of this device's finite tables were it to hold `objects` (what a plan leaves on
        it: our desired objects plus the foreign ones in scope), each with its configured limit."""
        return CapacityReport(self.name, tuple(self.table_usage(objects)))

    def table_usage(self, objects: Sequence[DeviceObject]) -> Sequence[TableUsage]:
        """The family's table counts and limits for `objects` (`adapters.<family>.capacity`).
        Default: no finite table."""
        return ()

    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Adapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
