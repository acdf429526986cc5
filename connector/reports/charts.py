"""The HTML report's charts, assembled from the report JSON within a bounded size.

Contract: `device_timelines(report)` gives one SVG timeline per device (at most
`MAX_TIMELINES`, the rest counted); `namespace_matrices(report)` one SVG decision matrix per
managed namespace until `MAX_MATRIX_CELLS` cells are drawn in all (the namespaces left out are
listed); `observed_charts(report)` one SVG bar chart of observed egress per namespace with flows,
for the first `MAX_OBSERVED_CHARTS` namespaces (the rest listed). All are pure and return
already escaped markup. However large the report, the charts add at most a few megabytes to the
page; the tables and the JSON keep every detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.reports.matrix import namespace_matrix
from connector.reports.observed_chart import observed_chart
from connector.reports.svg import parse_time
from connector.reports.timeline import device_timeline

MAX_TIMELINES = 30
MAX_MATRIX_CELLS = 6000
MAX_OBSERVED_CHARTS = 50


def device_timelines(report: Mapping[str, Any]) -> tuple[list[tuple[str, str]], int]:
    """(device, SVG) for the first `MAX_TIMELINES` devices of the report, and how many were left out."""
    since = parse_time(report["window"]["since"])
    until = parse_time(report["window"]["until"])
    assert since is not None and until is not None
    history: dict[str, list[Mapping[str, Any]]] = {}
    for entry in report["history"]:
        history.setdefault(entry["device"], []).append(entry)
    findings: dict[str, list[Mapping[str, Any]]] = {}
    for finding in report["findings"]:
        findings.setdefault(finding["device"], []).append(finding)
    names = [d["name"] for d in report["devices"]]
    out = [(name, device_timeline(name, history.get(name, []), findings.get(name, []), since, until,
                                  f"timeline-{index}"))
           for index, name in enumerate(names[:MAX_TIMELINES], 1)]
    return out, len(names) - len(out)


def namespace_matrices(report: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Namespace → SVG decision matrix, in the egress section's order while the cell budget
    lasts; and the namespaces left without one."""
    by_namespace: dict[str, list[Mapping[str, Any]]] = {}
    for source in report["egress"]:
        by_namespace.setdefault(source["namespace"], []).append(source)
    devices = [d["name"] for d in report["devices"]]
    numbering = {d["name"]: d["ruleNumbering"]["label"] for d in report["devices"] if d.get("ruleNumbering")}
    out: dict[str, str] = {}
    left: list[str] = []
    budget = MAX_MATRIX_CELLS
    for index, (namespace, sources) in enumerate(by_namespace.items(), 1):
        ordered = sorted(sources, key=lambda s: (s["kind"] != "Namespace", s["service"]))
        if budget <= 0:
            left.append(namespace)
            continue
        svg, cells = namespace_matrix(namespace, ordered, devices, f"matrix-{index}", numbering)
        out[namespace] = svg
        budget -= cells
    return out, left


def observed_charts(report: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Namespace → SVG bar chart of its observed egress, for the first `MAX_OBSERVED_CHARTS`
    namespaces of `observedEgress`; and the namespaces left without one."""
    sources = (report.get("observedEgress") or {}).get("sources", ())
    namespaces = [s for s in sources if s["kind"] == "Namespace"]
    out = {s["namespace"]: observed_chart(s, f"observed-{index}")
           for index, s in enumerate(namespaces[:MAX_OBSERVED_CHARTS], 1)}
    return out, [s["namespace"] for s in namespaces[MAX_OBSERVED_CHARTS:]]
