"""Prometheus metrics of the controller, in a registry of its own (no process-global state).

Names (all prefixed `fusion_connector_`): `reconcile_duration_seconds{device}` (histogram, one
device sync: read, plan, apply), `plan_changes_total{device,kind,op}` (changes applied),
`device_errors_total{device,class}` (class: transient, permanent, auth), `unsafe_plans_total{device}`,
`capacity_refusals_total{device}` (plans refused because a table would exceed its capacity),
`device_table_usage{device,table}` and `device_table_limit{device,table}` (entries a device's table
holds after the last plan, and its configured limit; no limit sample for an unlimited table),
`convergence_latency_seconds{device}` (histogram: a change first seen in the watch → the device
holds it), `owned_objects{device}`, `last_successful_sync_timestamp_seconds{device}`,
`device_problem{device,reason}` (1 while the device's last sync ended with that problem:
`DeviceError`, `PlanRefused` or `CapacityExceeded`; no sample once a sync succeeds),
`fenced_writes_total{device}` (device writes not sent because this process no longer held the
Lease: a deposed leader stopped mid-sync), `leader` (1 while this process leads),
`insecure_transport{device,reason}` (1 per weakening of transport security found at start:
`TLSVerifyDisabled`, `PlaintextCredentials`, `KubeInsecureSkipVerify`; device empty for the
Kubernetes API), `status_writes_total`, `events_total`, and from the watch layer at scrape time:
`watch_restarts_total{kind}`, `watch_relists_total{kind}`, `watch_expired_total{kind}`,
`watch_errors_total{kind}`, `cache_synced`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from connector.cluster import Kind
from connector.planner.capacity import CapacityReport
from connector.sources import KindStats

PREFIX = "fusion_connector_"
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0,
                   4.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class _WatchCollector(Collector):
    def __init__(self, stats: Callable[[], Mapping[Kind, KindStats]], synced: Callable[[], bool]) -> None:
        self._stats = stats
        self._synced = synced

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self._stats()
        families = {
            "watch_restarts": ("watch streams reopened after they ended or broke", "watch_restarts"),
            "watch_relists": ("lists after the first one (410 Gone, reconnects)", "relists"),
            "watch_expired": ("410 Gone answers (expired resourceVersion)", "expired"),
            "watch_errors": ("list or watch errors", "errors"),
        }
        for name, (help_text, attribute) in families.items():
            family = CounterMetricFamily(PREFIX + name, help_text, labels=["kind"])
            for kind, kind_stats in stats.items():
                family.add_metric([kind.value], float(getattr(kind_stats, attribute)))
            yield family
        synced = GaugeMetricFamily(PREFIX + "cache_synced", "1 when every kind has been listed")
        synced.add_metric([], 1.0 if self._synced() else 0.0)
        yield synced


class ControllerMetrics:
    """Every metric of the controller; `render()` gives the exposition text."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.reconcile_duration = Histogram(PREFIX + "reconcile_duration_seconds",
                                            "one device sync (read, plan, apply)", ["device"],
                                            buckets=DURATION_BUCKETS, registry=r)
        self.plan_changes = Counter(PREFIX + "plan_changes", "device changes applied",
                                    ["device", "kind", "op"], registry=r)
        self.device_errors = Counter(PREFIX + "device_errors", "failed device syncs",
                                     ["device", "class"], registry=r)
        self.unsafe_plans = Counter(PREFIX + "unsafe_plans", "plans refused by the safety thresholds",
                                    ["device"], registry=r)
        self.convergence = Histogram(PREFIX + "convergence_latency_seconds",
                                     "from a change first seen in the watch to the device holding it",
                                     ["device"], buckets=LATENCY_BUCKETS, registry=r)
        self.owned_objects = Gauge(PREFIX + "owned_objects", "objects the connector owns on the device",
                                   ["device"], registry=r)
        self.last_sync = Gauge(PREFIX + "last_successful_sync_timestamp_seconds",
                               "when the device was last known in sync (Unix time)", ["device"], registry=r)
        self.leader = Gauge(PREFIX + "leader", "1 while this process is the leader", registry=r)
        self.capacity_refusals = Counter(PREFIX + "capacity_refusals",
                                         "plans refused because a device table would exceed its capacity",
                                         ["device"], registry=r)
        self.table_usage_gauge = Gauge(PREFIX + "device_table_usage",
                                       "entries of a device table after the last plan", ["device", "table"],
                                       registry=r)
        self.table_limit_gauge = Gauge(PREFIX + "device_table_limit",
                                       "configured capacity of a device table", ["device", "table"],
                                       registry=r)
        self.device_problem_gauge = Gauge(PREFIX + "device_problem",
                                          "1 while the device's last sync ended with this problem",
                                          ["device", "reason"], registry=r)
        self._problems: dict[str, str] = {}
        self.insecure_transport = Gauge(PREFIX + "insecure_transport",
                                        "1 per weakening of transport security found at start",
                                        ["device", "reason"], registry=r)
        self.fenced_writes = Counter(PREFIX + "fenced_writes",
                                     "device writes not sent because this process no longer led",
                                     ["device"], registry=r)
        self.status_writes = Counter(PREFIX + "status_writes", "rule status writes", registry=r)
        self.events = Counter(PREFIX + "events", "Kubernetes Events written", ["reason"], registry=r)

    def table_usage(self, report: CapacityReport) -> None:
        """Set the usage and limit gauges of every table of `report`'s device (an unlimited table
        has no limit sample)."""
        for table in report.tables:
            labels = (report.device, table.table.value)
            self.table_usage_gauge.labels(*labels).set(table.count)
            if table.limit is not None:
                self.table_limit_gauge.labels(*labels).set(table.limit)
            else:
                with contextlib.suppress(KeyError):  # no sample yet
                    self.table_limit_gauge.remove(*labels)

    def device_problem(self, device: str, reason: str | None) -> None:
        """The device's current problem (None: its last sync succeeded): one sample at 1, the
        device's samples for other reasons removed."""
        previous = self._problems.pop(device, None)
        if previous is not None and previous != reason:
            with contextlib.suppress(KeyError):
                self.device_problem_gauge.remove(device, previous)
        if reason is not None:
            self._problems[device] = reason
            self.device_problem_gauge.labels(device, reason).set(1)

    def watch(self, stats: Callable[[], Mapping[Kind, KindStats]], synced: Callable[[], bool]) -> None:
        """Expose the watch layer's counters (read at scrape time)."""
        self.registry.register(_WatchCollector(stats, synced))

    def render(self) -> bytes:
        return generate_latest(self.registry)
