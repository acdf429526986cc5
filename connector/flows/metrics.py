"""The flow metrics, registered in the controller's registry (`ControllerMetrics.registry`).

- `fusion_connector_flows_total{device,namespace,service,rule,action}`: flows (a line's `count`)
  attributed; `namespace` and `service` of the source identity ('' when none; a pod of several
  Services has them comma-separated), `rule` `KIND/NAMESPACE/NAME` of the deciding rule ('' when
  not ours). No pod label. Bounded: at most `max_flow_series` label sets per device; a flow of a
  further set is counted with `namespace`, `service` and `rule` all `other`.
- `fusion_connector_flow_lines_total{device,result}`: lines by result, `attributed` (an identity
  was found), `unattributed` (none), `malformed` and `rejected` (from the receiver; device
  `unknown` for an unlisted sender), and `staged` (a staged policy's match the device logged but
  did not enforce, BIG-IP AFM; dropped by the receiver).
- `fusion_connector_flow_lines_shed_total{device}`: lines dropped under load (receiver or pipeline).
- `fusion_connector_flow_connections_closed_total{device,reason}`: syslog TCP connections of a
  listed sender the receiver closed: `limit` (refused while `flows.syslog.maxConnections` were
  open) or `idle` (silent for `flows.syslog.idleTimeout`).
- `fusion_connector_flow_errors_total{stage}`: pipeline stages that failed (`attribute`: the
  batch is dropped; `store`, `events`, `subscriber`, `prune`: the other stages go on).
- `fusion_connector_flow_forwarded_total` and `fusion_connector_flow_forward_dropped_total`:
  records sent to, and dropped for, the SIEM of `flows.forward`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter

from connector.flows.record import FlowRecord

PREFIX = "fusion_connector_"
OTHER = "other"
MAX_FLOW_SERIES = 1000
LINE_RESULTS = ("attributed", "unattributed", "malformed", "rejected", "staged")


def rule_label(record: FlowRecord) -> str:
    rule = record.rule
    return f"{rule.kind}/{rule.namespace}/{rule.name}" if rule is not None else ""


class FlowMetrics:
    """The flow metrics (see the module docstring)."""

    def __init__(self, registry: CollectorRegistry, *, max_flow_series: int = MAX_FLOW_SERIES) -> None:
        self.max_flow_series = max_flow_series
        self.flows = Counter(PREFIX + "flows", "flows attributed, by source namespace, Service and rule",
                             ["device", "namespace", "service", "rule", "action"], registry=registry)
        self.lines = Counter(PREFIX + "flow_lines", "flow lines by result", ["device", "result"],
                             registry=registry)
        self.shed = Counter(PREFIX + "flow_lines_shed", "flow lines dropped under load", ["device"],
                            registry=registry)
        self.connections_closed = Counter(PREFIX + "flow_connections_closed",
                                          "syslog TCP connections the receiver closed, by reason",
                                          ["device", "reason"], registry=registry)
        self.errors = Counter(PREFIX + "flow_errors", "flow batches that failed, by stage", ["stage"],
                              registry=registry)
        self.forwarded = Counter(PREFIX + "flow_forwarded", "flow records sent to the SIEM",
                                 registry=registry)
        self.forward_dropped = Counter(PREFIX + "flow_forward_dropped",
                                       "flow records not sent to the SIEM (down or too slow)",
                                       registry=registry)
        self._series: dict[str, set[tuple[str, str, str, str]]] = {}
        self._lock = threading.Lock()

    def line_result(self, device: str, result: str, n: int = 1) -> None:
        """Count `n` lines of `device` with `result`: a `LINE_RESULTS` value, or `shed`."""
        if n <= 0:
            return
        if result == "shed":
            self.shed.labels(device).inc(n)
        else:
            self.lines.labels(device, result).inc(n)

    def connection_closed(self, device: str, reason: str, n: int = 1) -> None:
        """Count `n` syslog connections of `device` closed for `reason` (`limit` or `idle`)."""
        if n > 0:
            self.connections_closed.labels(device, reason).inc(n)

    def records(self, records: Sequence[FlowRecord]) -> None:
        """Count attributed records: lines by result, flows by label set (bounded)."""
        for record in records:
            device = record.line.device
            self.lines.labels(device, "attributed" if record.identity is not None else "unattributed").inc()
            identity = record.identity
            labels = (identity.namespace if identity else "",
                      ",".join(sorted(identity.services)) if identity else "",
                      rule_label(record), record.line.action)
            self.flows.labels(device, *self._bounded(device, labels)).inc(record.count)

    def _bounded(self, device: str, labels: tuple[str, str, str, str]) -> tuple[str, str, str, str]:
        with self._lock:
            seen = self._series.setdefault(device, set())
            if labels in seen:
                return labels
            if len(seen) < self.max_flow_series:
                seen.add(labels)
                return labels
        return OTHER, OTHER, OTHER, labels[3]
