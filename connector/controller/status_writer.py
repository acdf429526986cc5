"""Writes the `status` subresource of every egress rule, and the Events its changes tell.

Contract: `kick()` asks for a write; the writer thread (`run`) waits `status_debounce` seconds
after a kick, then (as leader, once the cluster is compiled) `write()`s every rule status whose
content changed: built by `build_status` from the compiler's `RuleStatus` and the devices'
reports, compared with what this process last wrote (or the object's status). A change of the
`sources` count alone (pod churn) is written at most every `status_sources_interval` seconds.
A status write that cannot reach the API server ends the round and kicks again; a rule gone
(404) is skipped. Each written change of a condition's reason or message is an Event on the rule:
`Accepted` problems (Warning when not accepted or for a shared source), and a device problem on
`Programmed` (once per problem: the device's own Event on the Lease counts the repeats).
`forget()` after a change of leadership: another leader may have written statuses meanwhile.
`audit` (`AuditBook.status`) gives an Audit rule's `status.audit`; its counts move with observed
traffic, so a change of them alone is deferred like one of `sources`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from connector.cluster import KINDS, ClusterView, Kind
from connector.compiler import RuleRef, RuleStatus
from connector.controller.device_report import PROBLEM_REASONS, DeviceReport
from connector.controller.events import NORMAL, WARNING, EventChannel, ObjectRef
from connector.controller.metrics import ControllerMetrics
from connector.controller.status_subresource import build_status, only_sources_differ
from connector.kube import KubeApi, KubernetesUnavailable
from connector.model import RuleKind

log = logging.getLogger(__name__)

AuditStatus = Callable[[RuleStatus, Mapping[str, Any]], Mapping[str, Any] | None]

RULE_KINDS: dict[RuleKind, Kind] = {
    RuleKind.CLUSTER: Kind.CLUSTER_EGRESS_RULE,
    RuleKind.NAMESPACE: Kind.NAMESPACE_EGRESS_RULE,
    RuleKind.SERVICE: Kind.SERVICE_EGRESS_RULE,
}
StatusKey = tuple[str, str, str, str]  # (rule kind, namespace, name, uid)


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StatusWriter:
    """Writes rule statuses (see the module docstring); `connect` gives it the API and the
    watch cache at start."""

    def __init__(self, *, debounce: float, sources_interval: float,
                 reports: Callable[[], Mapping[str, DeviceReport]], events: EventChannel,
                 metrics: ControllerMetrics, leading: Callable[[], bool], compiled: Callable[[], bool],
                 stopping: threading.Event, audit: AuditStatus | None = None) -> None:
        self.debounce = debounce
        self.sources_interval = sources_interval
        self.reports = reports
        self.events = events
        self.metrics = metrics
        self.leading = leading
        self.compiled = compiled
        self.stopping = stopping
        self.audit = audit
        self.kube: KubeApi | None = None
        self.cache: ClusterView | None = None
        self._rules: dict[RuleRef, RuleStatus] = {}
        self._written: dict[StatusKey, dict[str, Any]] = {}
        self._written_at: dict[StatusKey, float] = {}  # monotonic time of each write
        self._due: float | None = None  # when deferred `sources`-only updates fall due
        self._kick = threading.Event()

    def connect(self, kube: KubeApi, cache: ClusterView) -> None:
        self.kube = kube
        self.cache = cache

    def kick(self) -> None:
        self._kick.set()

    @property
    def rules(self) -> dict[RuleRef, RuleStatus]:
        return self._rules

    def set_rules(self, rules: dict[RuleRef, RuleStatus]) -> None:
        """The compiler's rule statuses; a change asks for a write."""
        if rules != self._rules:
            self._rules = rules
            self._kick.set()

    def forget(self) -> None:
        """Compare with the objects afresh: another leader may have written statuses meanwhile."""
        self._written = {}

    def run(self) -> None:
        """The writer thread: until `stopping` is set."""
        while not self.stopping.is_set():
            self._kick.wait(1.0)
            if self.stopping.is_set():
                return
            deferred_due = self._due is not None and time.monotonic() >= self._due
            if not self._kick.is_set() and not deferred_due:
                continue
            self.stopping.wait(self.debounce)
            self._kick.clear()
            if not self.leading() or not self.compiled():
                continue
            try:
                self.write()
            except Exception:
                log.exception("writing rule statuses failed")

    def write(self) -> int:
        """Write every rule status whose content changed; returns the number written."""
        assert self.cache is not None and self.kube is not None
        reports = self.reports()
        now = _now_text()
        clock = time.monotonic()
        interval = self.sources_interval
        self._due = None
        written = 0
        live: set[StatusKey] = set()
        for ref, rule in sorted(self._rules.items()):
            kind = RULE_KINDS.get(ref.kind)
            if kind is None:
                continue
            obj = self.cache.get(kind, ref.namespace, ref.name)
            if obj is None:
                continue
            uid = str((obj.get("metadata") or {}).get("uid") or "")
            key = (ref.kind.value, ref.namespace, ref.name, uid)
            live.add(key)
            base: dict[str, Any] = self._written.get(key) or dict(obj.get("status") or {})
            audit = self.audit(rule, base) if self.audit is not None else None
            status = build_status(rule, reports, base, now, audit)
            if audit is None and "audit" in base:
                status["audit"] = None  # enforced now: the merge patch removes the counts
            if status == base:
                continue
            if only_sources_differ(status, base):
                due = self._written_at.get(key, -interval) + interval
                if clock < due:  # pod churn: the count is brought up to date at most every interval
                    self._due = due if self._due is None else min(self._due, due)
                    continue
            if not self.leading():  # deposed while writing: the new leader writes statuses
                return written
            path = KINDS[kind].collection_path(ref.namespace or None) + f"/{ref.name}/status"
            try:
                code, answer = self.kube.merge_patch(path, {"status": status})
            except KubernetesUnavailable as exc:
                log.warning("status of %s not written: %s", ref, exc)
                self._kick.set()
                return written
            if code == 404:
                continue
            if code != 200:
                log.warning("status of %s not written: HTTP %s %s", ref, code, answer.get("message", ""))
                continue
            written += 1
            self.metrics.status_writes.inc()
            self._written[key] = status
            self._written_at[key] = clock
            self.tell_changes(ref, uid, base, status)
        for key in set(self._written) - live:
            del self._written[key]
            self._written_at.pop(key, None)
        return written

    def tell_changes(self, ref: RuleRef, uid: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """The Events of a rule's status going from `old` to `new` (see the module docstring)."""
        if not self.events.connected:
            return
        before = {c.get("type"): c for c in old.get("conditions") or []}
        involved = ObjectRef(ref.kind.value, "fusion-connector.io/v1alpha1", ref.namespace, ref.name, uid)
        for condition in new["conditions"]:
            prior = before.get(condition["type"]) or {}
            if (prior.get("reason"), prior.get("message")) == (condition["reason"], condition["message"]):
                continue
            reason = condition["reason"]
            if condition["type"] == "Accepted" and reason != "Accepted":
                type = WARNING if condition["status"] == "False" or reason == "SharedSource" else NORMAL
            elif condition["type"] == "Programmed" and reason in PROBLEM_REASONS:
                if prior.get("reason") == reason:
                    continue  # a device failing again: its own Event on the Lease counts the repeats
                type = WARNING
            else:
                continue
            self.events.tell(involved, type, reason, condition["message"])
