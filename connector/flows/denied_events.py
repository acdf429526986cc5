"""`EgressDenied` Warning Events from denied flows.

Contract: `observe(records)` notes every denied record whose deciding rule is known (a record
with `rule: null` was not decided by our rules and gets no Event); it only counts, under a lock,
and never calls the API server. `flush()` (called every few seconds off the pipeline's thread)
tells one Event per (involved object, destination, port, protocol) that has denied flows not yet
told, at most one per `interval` seconds for each such key: the message gives the number of flows
denied since the previous Event of that key, the device and the last source. The involved object
is the deciding rule (`NamespaceEgressRule`, `ServiceEgressRule`, `ClusterEgressRule`; an Event
about a ClusterEgressRule lands in `default`, as for every cluster-scoped object), or the Namespace
for its default action (kind `DefaultAction`). At most `max_keys` keys are tracked; denials of
further keys are counted in `untold` until a key is forgotten (an idle key is forgotten one
interval after its last Event).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from connector.controller.events import WARNING, ObjectRef
from connector.flows.record import FlowRecord

REASON = "EgressDenied"
INTERVAL = 60.0
MAX_KEYS = 4096
RULE_API_VERSION = "fusion-connector.io/v1alpha1"
RULE_KINDS = frozenset({"NamespaceEgressRule", "ServiceEgressRule", "ClusterEgressRule"})
DEFAULT_ACTION = "DefaultAction"

Tell = Callable[[ObjectRef, str, str, str], None]  # (involved, type, reason, message)
Uid = Callable[[str, str, str], str]  # (kind, namespace, name) -> uid or ""


@dataclass
class _Pending:
    count: int = 0
    told_at: float | None = None
    device: str = ""
    source: str = ""


Key = tuple[str, str, str, str, int | None, str]  # kind, namespace, name, dst, dstPort, protocol


def involved_object(kind: str, namespace: str, name: str, uid: str = "") -> ObjectRef | None:
    """The object an Event about a denial by this rule is about (None: not one of ours)."""
    if kind in RULE_KINDS:
        return ObjectRef(kind, RULE_API_VERSION, "" if kind == "ClusterEgressRule" else namespace,
                         name, uid)
    if kind == DEFAULT_ACTION and namespace:
        return ObjectRef("Namespace", "v1", "", namespace, uid)
    return None


def _source(record: FlowRecord) -> str:
    identity = record.identity
    if identity is None:
        return record.line.src
    if identity.pod:
        return f"{identity.namespace}/{identity.pod} ({record.line.src})"
    return f"{identity.namespace} {identity.source_mode} {record.line.src}"


class DeniedEvents:
    """Aggregates denials into Events (see the module docstring)."""

    def __init__(self, tell: Tell, *, uid: Uid = lambda kind, namespace, name: "",
                 interval: float = INTERVAL, max_keys: int = MAX_KEYS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.tell = tell
        self.uid = uid
        self.interval = interval
        self.max_keys = max_keys
        self.clock = clock
        self.untold = 0
        self._pending: dict[Key, _Pending] = {}
        self._lock = threading.Lock()

    def observe(self, records: Sequence[FlowRecord]) -> None:
        with self._lock:
            for record in records:
                rule = record.rule
                if record.line.action != "Deny" or rule is None:
                    continue
                if rule.kind not in RULE_KINDS and rule.kind != DEFAULT_ACTION:
                    continue
                namespace = rule.namespace
                if rule.kind == DEFAULT_ACTION and not namespace and record.identity is not None:
                    namespace = record.identity.namespace
                line = record.line
                key: Key = (rule.kind, namespace, rule.name, line.dst, line.dst_port, line.protocol)
                pending = self._pending.get(key)
                if pending is None:
                    if len(self._pending) >= self.max_keys:
                        self.untold += line.count
                        continue
                    pending = self._pending[key] = _Pending()
                pending.count += line.count
                pending.device = line.device
                pending.source = _source(record)

    def flush(self) -> int:
        """Tell the Events that are due; returns how many were told."""
        now = self.clock()
        due: list[tuple[Key, _Pending]] = []
        with self._lock:
            for key, pending in list(self._pending.items()):
                recent = pending.told_at is not None and now - pending.told_at < self.interval
                if pending.count and not recent:
                    due.append((key, _Pending(pending.count, None, pending.device, pending.source)))
                    pending.count = 0
                    pending.told_at = now
                elif not pending.count and not recent:
                    del self._pending[key]  # idle for a whole interval
        for (kind, namespace, name, dst, port, protocol), told in due:
            involved = involved_object(kind, namespace, name, self._uid(kind, namespace, name))
            if involved is None:
                continue
            where = f"{dst}:{port}/{protocol}" if port is not None else f"{dst}/{protocol}"
            flows = "1 flow" if told.count == 1 else f"{told.count} flows"
            decided = "the namespace's default action" if kind == DEFAULT_ACTION else f"{kind} {name}"
            self.tell(involved, WARNING, REASON,
                      f"{flows} to {where} denied by {decided} on device {told.device};"
                      f" last from {told.source}")
        return len(due)

    def _uid(self, kind: str, namespace: str, name: str) -> str:
        try:
            if kind == DEFAULT_ACTION:
                return self.uid("Namespace", "", namespace)
            return self.uid(kind, "" if kind == "ClusterEgressRule" else namespace, name)
        except Exception:  # the uid is a nicety; an Event without it is still right
            return ""
