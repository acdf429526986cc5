"""Attribution: a batch of flow lines as devices reported them -> attributed flow records.

For each line, the identity comes from the address timeline at the line's time (the source
address; ambiguous within the clock skew, see connector/store/timeline.py), and the deciding rule
from the device-rule map at the line's time: the line's `device_rule` is looked up first, then
its `device_rule_id`. A device rule the connector did not produce (the device's implicit deny,
someone else's policy) gives rule None; the namespace default-action rule maps to
`FlowRule("DefaultAction", namespace, "default", "Default")`. The device rule of the grouped
default actions (docs/architecture.md, "The default tier") is stored without a namespace: a record
it decided gets the namespace of the source's identity.

A batch costs one read-only transaction: one timeline statement per 500 distinct source addresses
and one rule-map statement per 200 distinct (device, reference) pairs.

With `cached=True` (what the flow service uses) the Attributor keeps the recent address timeline
and the rule histories in memory between batches (connector/flows/recent.py): a batch then reads
the rows written since the previous one, checks that the open rows of the addresses and
references it needs are still open (one count per 1,000 rows by primary key), and reads only what
is missing; the answers are the same as
without the cache (the store's state at the batch's read). Calls are serialised.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from connector.flows.recent import MAX_ENTRIES, RecentRules, RecentTimeline, RuleAnswers
from connector.flows.record import FlowIdentity, FlowLine, FlowRecord, FlowRule
from connector.store.rule_map import DeviceRuleMap, rule_at
from connector.store.timeline import AddressTimeline


class Attributor:
    """Attributes flow lines of one cluster; thread-safe (a session per call)."""

    def __init__(self, sessions: sessionmaker[Session], cluster: str, clock_skew_seconds: float, *,
                 cached: bool = False, max_entries: int = MAX_ENTRIES) -> None:
        if clock_skew_seconds < 0:
            raise ValueError("clock_skew_seconds must not be negative")
        self.sessions = sessions
        self.cluster = cluster
        self.clock_skew_seconds = clock_skew_seconds
        self.timeline = RecentTimeline(max_entries=max_entries) if cached else None
        self.rules = RecentRules(max_entries=max_entries) if cached else None
        self._lock = threading.Lock()

    def attribute(self, lines: Sequence[FlowLine]) -> list[FlowRecord]:
        """The records of `lines`, in order (one per line, `count` kept)."""
        if not lines:
            return []
        if self.timeline is not None and self.rules is not None:
            with self._lock:
                return self._attribute_cached(lines, self.timeline, self.rules)
        with self.sessions() as session:
            attributions = AddressTimeline(session, self.cluster).at_many(
                [(line.src, line.time) for line in lines], self.clock_skew_seconds)
            histories = DeviceRuleMap(session, self.cluster).history(
                (line.device, reference) for line in lines for reference in _references(line))
            session.rollback()  # read only
        records = []
        for line, attribution in zip(lines, attributions, strict=True):
            rule: FlowRule | None = None
            for reference in _references(line):
                rule = rule_at(histories.get((line.device, reference), ()), line.time)
                if rule is not None:
                    break
            if rule is not None and not rule.namespace:
                rule = _standing_for(rule, attribution.identity)
            records.append(FlowRecord(line=line, identity=attribution.identity, rule=rule,
                                      ambiguous=attribution.ambiguous,
                                      candidates=attribution.candidates))
        return records


    def _attribute_cached(self, lines: Sequence[FlowLine], timeline: RecentTimeline,
                          rules: RecentRules) -> list[FlowRecord]:
        skew = timedelta(seconds=self.clock_skew_seconds)
        earliest: dict[str, datetime] = {}  # each address's earliest moment in the batch
        references: set[tuple[str, str | None, str | None]] = set()  # (device, rule, rule id)
        add = references.add
        for line in lines:
            moment = line.time
            known = earliest.get(line.src)
            if known is None or moment < known:
                earliest[line.src] = moment
            add((line.device, line.device_rule, line.device_rule_id))
        wanted = {(device, reference) for device, *given in references for reference in given
                  if reference}
        with self.sessions() as session:
            identities = timeline.prepare(AddressTimeline(session, self.cluster), earliest, skew)
            answers = rules.prepare(DeviceRuleMap(session, self.cluster), wanted)
            session.rollback()  # read only
        by_address, identity_at = identities.fast, identities.at
        by_references = _fast_rules(references, answers)
        rule_at = answers.at
        records: list[FlowRecord] = []
        append = records.append
        for line in lines:
            moment = line.time
            held = by_address.get(line.src)
            attribution = held[1] if held is not None and moment >= held[0] else identity_at(
                line.src, moment)
            fast = by_references[(line.device, line.device_rule, line.device_rule_id)]
            if fast is not None and (fast[0] is None or moment >= fast[0]):
                rule = fast[1]
            else:
                rule = None
                if line.device_rule:
                    rule = rule_at(line.device, line.device_rule, moment)
                if rule is None and line.device_rule_id:
                    rule = rule_at(line.device, line.device_rule_id, moment)
            if rule is not None and not rule.namespace:
                rule = _standing_for(rule, attribution.identity)
            append(FlowRecord(line, attribution.identity, rule, attribution.ambiguous,
                              attribution.candidates))
        return records


def _fast_rules(references: Iterable[tuple[str, str | None, str | None]], answers: RuleAnswers
                ) -> dict[tuple[str, str | None, str | None], tuple[datetime | None, FlowRule | None] | None]:
    """Per (device, rule, rule id) of a batch: `(since, rule)`, the answer at every moment at or
    after `since` (None: every moment), or None when it depends on the moment otherwise. The rule
    reference is looked up first, then the rule id (as `_references` orders them)."""
    fast = answers.fast
    out: dict[tuple[str, str | None, str | None], tuple[datetime | None, FlowRule | None] | None] = {}
    never: tuple[datetime | None, FlowRule | None] = (None, None)
    for key in references:
        device, rule, rule_id = key
        first = fast.get((device, rule)) if rule else never
        if first is None or first[1] is not None:  # moment-dependent, or found from `since` on
            out[key] = first
        else:  # the rule reference never answers: the rule id decides
            out[key] = fast.get((device, rule_id)) if rule_id else never
    return out


def _references(line: FlowLine) -> tuple[str, ...]:
    """The device rule references of `line` to look up, in order."""
    return tuple(reference for reference in (line.device_rule, line.device_rule_id)
                 if reference)


def _standing_for(rule: FlowRule, identity: FlowIdentity | None) -> FlowRule:
    """A grouped default action (`DefaultAction` without a namespace) as the default action of the
    source's namespace; any other rule as it is."""
    if rule.kind != "DefaultAction" or identity is None or not identity.namespace:
        return rule
    return FlowRule(kind=rule.kind, namespace=identity.namespace, name=rule.name, tier=rule.tier)
