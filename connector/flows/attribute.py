"""Attribution: a batch of flow lines as devices reported them -> attributed flow records.

For each line, the identity comes from the address timeline at the line's time (the source
address; ambiguous within the clock skew, see connector/store/timeline.py), and the deciding rule
from the device-rule map at the line's time: the line's `device_rule` is looked up first, then
its `device_rule_id`. A device rule the connector did not produce (the device's implicit deny,
someone else's policy) gives rule None; the namespace default-action rule maps to
`FlowRule("DefaultAction", namespace, "default", "Default")` (the map stores it so).

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
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from connector.flows.recent import MAX_ENTRIES, RecentRules, RecentTimeline
from connector.flows.record import FlowLine, FlowRecord, FlowRule
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
            records.append(FlowRecord(line=line, identity=attribution.identity, rule=rule,
                                      ambiguous=attribution.ambiguous,
                                      candidates=attribution.candidates))
        return records


    def _attribute_cached(self, lines: Sequence[FlowLine], timeline: RecentTimeline,
                          rules: RecentRules) -> list[FlowRecord]:
        skew = timedelta(seconds=self.clock_skew_seconds)
        with self.sessions() as session:
            attributions = timeline.at_many(AddressTimeline(session, self.cluster),
                                            [(line.src, line.time) for line in lines], skew)
            wanted: set[tuple[str, str]] = set()
            for line in lines:
                if line.device_rule:
                    wanted.add((line.device, line.device_rule))
                if line.device_rule_id:
                    wanted.add((line.device, line.device_rule_id))
            rule_at = rules.rule_at(DeviceRuleMap(session, self.cluster), wanted)
            session.rollback()  # read only
        records: list[FlowRecord] = []
        append = records.append
        for line, attribution in zip(lines, attributions, strict=True):
            rule: FlowRule | None = None
            if line.device_rule:
                rule = rule_at(line.device, line.device_rule, line.time)
            if rule is None and line.device_rule_id:
                rule = rule_at(line.device, line.device_rule_id, line.time)
            append(FlowRecord(line, attribution.identity, rule, attribution.ambiguous,
                              attribution.candidates))
        return records


def _references(line: FlowLine) -> tuple[str, ...]:
    """The device rule references of `line` to look up, in order."""
    return tuple(reference for reference in (line.device_rule, line.device_rule_id)
                 if reference)
