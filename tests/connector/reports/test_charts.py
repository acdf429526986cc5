"""The HTML report's SVG charts: per device timeline and per namespace decision matrix."""

from __future__ import annotations

import re
import xml.dom.minidom
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from connector.cluster import StaticView
from connector.compiler import compile_cluster
from connector.planner.types import Change, Op, Plan
from connector.reports import build_report, render
from connector.reports.charts import MAX_MATRIX_CELLS, MAX_TIMELINES, device_timelines, namespace_matrices
from connector.reports.matrix import MAX_DEVICES, MAX_ROWS, MAX_SOURCES, namespace_matrix
from connector.reports.svg import TimeScale, parse_time
from connector.reports.timeline import MAX_DRIFT_BARS, MAX_DRIFT_LANES, device_timeline
from connector.store import DriftObservation, FindingType, PlanResult, Store
from tests.connector.compiler.builders import settings
from tests.connector.reports.scenario import objects

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
UNTIL = T0 + timedelta(days=1)
SINCE = UNTIL - timedelta(days=7)
EVIL = '<script>alert("x")</script>&'


def _svg(text: str) -> Any:
    """Parse one SVG element as XML: proves it is well formed (every text escaped)."""
    return xml.dom.minidom.parseString(text).documentElement


def _entry(position: int, action: str, destination: dict[str, Any] | None, ports: list[str] | None,
           *, applies_to: str = "all", shadowed: bool = False, name: str = "r") -> dict[str, Any]:
    return {"position": position, "ruleKey": f"k{position}", "rule": {"kind": "NamespaceEgressRule",
                                                                      "namespace": "shop", "name": name},
            "tier": "Namespace", "priority": 100, "action": action, "logging": False,
            "destination": destination, "ports": ports, "appliesTo": applies_to, "shadowed": shadowed}


def _dst(name: str, networks: list[str], fqdns: list[str] | None = None,
         namespace: str = "shop") -> dict[str, Any]:
    return {"namespace": namespace, "name": name, "networks": networks, "fqdns": fqdns or []}


STRIPE = _dst("stripe", ["198.51.100.0/24"], ["api.stripe.com"])
ANY_HTTP = _dst("any-http", ["0.0.0.0/0", "::/0"], namespace="fusion-system")


# --- layout: the cells the report carries -----------------------------------------------------------
def _cell(destination: dict[str, Any] | None, decision: str, decided_by: int | None = None,
          ports: list[str] | None = None, partly: list[int] | None = None) -> dict[str, Any]:
    where = None if destination is None else {"namespace": destination["namespace"],
                                              "name": destination["name"]}
    return {"destination": where, "ports": ports, "decision": decision, "decidedBy": decided_by,
            "partly": partly or []}


def test_the_matrix_lays_out_the_reports_cells() -> None:
    """The matrix decides nothing itself: each cell is the report's decision for that source,
    device and destination (a cell the report lacks is drawn as not decided)."""
    entries = [_entry(1, "Allow", STRIPE, ["443/TCP"]), _entry(2, "Deny", None, None)]
    entries[0]["deviceNumbers"] = ["1042"]
    cells = [_cell(STRIPE, "deny", 2, ["443/TCP"]), _cell(None, "mixed", 2, partly=[1])]
    source = {"kind": "Namespace", "namespace": "shop", "service": "",
              "devices": [{"device": "fw1", "note": "", "entries": entries, "decisions": cells},
                          {"device": "fw2", "note": "", "entries": entries}]}
    svg, count = namespace_matrix("shop", [source], ["fw1", "fw2"], "m", {"fw1": "policy ID"})
    assert count == 4
    titles = {t.firstChild.data: t.parentNode.getAttribute("class")
              for t in _svg(svg).getElementsByTagName("title") if t.parentNode.tagName == "g"}
    # laid out as the report says, even where the entries would say otherwise
    assert titles["shop (namespace) → shop/stripe on fw1: Deny (any port) by NamespaceEgressRule shop/r "
                  "(order 2)"] == "m-deny"
    assert titles["shop (namespace) → other destinations on fw1: depends on port, address or pod: "
                  "Allow (443/TCP) by NamespaceEgressRule shop/r (order 1, policy ID 1042); the rest: "
                  "Deny (any port) by NamespaceEgressRule shop/r (order 2)"] == "m-mixed"
    assert titles["shop (namespace) → shop/stripe on fw2: not decided in this report"] == "m-none"
    assert "198.51.100.0/24, api.stripe.com; 443/TCP" in svg  # the row's tooltip


# --- the report's charts ---------------------------------------------------------------------------
@pytest.fixture
def report(session: Session) -> dict[str, Any]:
    view = StaticView(objects())
    compiled = compile_cluster(view, settings(("fw1", "fw2"), no_fqdn=("fw2",)))
    store = Store(session, "c1")
    for name in ("fw1", "fw2"):
        store.devices.register(name, "rest", f"http://127.0.0.1/{name}", at=T0)
    change = Change(Op.CREATE, "rule", "r1", None, {"action": "allow"}, ("Namespace/shop",))
    store.audit.append(Plan("fw1", "c1", (change,)), PlanResult.APPLIED, 0.2, at=T0 - timedelta(hours=20))
    store.audit.append(Plan("fw1", "c1", (change, change)), PlanResult.FAILED, 0.2, error="HTTP 503",
                       at=T0 + timedelta(hours=2))
    store.drift.observe("fw1", [DriftObservation("rule", EVIL, FindingType.MISSING, {}, ("Namespace/shop",))],
                        at=T0)
    report = build_report(compiled, store, view=view, since=SINCE, until=UNTIL)
    return report.to_json()


def test_timeline_per_device_with_plans_and_drift(report: dict[str, Any]) -> None:
    timelines, left = device_timelines(report)
    assert [name for name, _ in timelines] == ["fw1", "fw2"] and left == 0
    fw1 = _svg(timelines[0][1])
    assert fw1.getAttribute("role") == "img" and "timeline-1-t" in fw1.getAttribute("aria-labelledby")
    titles = [t.firstChild.data for t in fw1.getElementsByTagName("title")]
    assert titles[0] == "Timeline of fw1"
    assert any("1 failed" in t and "2 create" in t for t in titles)
    assert any("1 applied" in t for t in titles)
    drift = next(t for t in titles if t.startswith("drift:"))
    assert "still open" in drift and EVIL in drift  # escaped in the markup, intact as text
    classes = [r.getAttribute("class") for r in fw1.getElementsByTagName("rect")]
    assert "t-bad" in classes and "t-ok" in classes and "t-open" in classes
    fw2 = _svg(timelines[1][1])
    assert "no plan applied and no drift" in fw2.toxml()


def test_matrix_per_namespace(report: dict[str, Any]) -> None:
    matrices, left = namespace_matrices(report)
    assert set(matrices) == {"shop", "ops"} and left == []
    shop = _svg(matrices["shop"])
    assert shop.getAttribute("data-namespace") == "shop"
    labels = [t.firstChild.data for t in shop.getElementsByTagName("title")]
    web_stripe = next(t for t in labels if t.startswith("web → shop/stripe on fw1"))
    assert "Allow" in web_stripe and "web-to-stripe" in web_stripe
    api_other = next(t for t in labels if t.startswith("api → other destinations on fw1"))
    assert "Deny" in api_other and "default" in api_other
    states = {g.getAttribute("class") for g in shop.getElementsByTagName("g")}
    assert {"m-allow", "m-deny"} <= states
    ops = _svg(matrices["ops"])  # default-action Allow
    ops_titles = [t.firstChild.data for t in ops.getElementsByTagName("title")]
    assert any(t.startswith("tool → other destinations on fw1: Allow") for t in ops_titles)


def test_the_page_shows_the_charts_escaped(session: Session, report: dict[str, Any]) -> None:
    view = StaticView(objects())
    compiled = compile_cluster(view, settings(("fw1", "fw2")))
    store = Store(session, "c1")
    html = render(build_report(compiled, store, view=view, since=SINCE, until=UNTIL), "html").decode()
    assert html.count('<svg class="chart timeline"') == 2 and html.count('<svg class="chart matrix"') == 2
    for figure in re.findall(r"<svg .*?</svg>", html, flags=re.S):
        _svg(figure)
        for external in ("<script", "href", "url(", "<image", "<foreignObject", "@import"):
            assert external not in figure
    assert EVIL not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in html


def test_time_scale_ticks_and_clamping() -> None:
    scale = TimeScale(SINCE, UNTIL, 100, 900)
    assert scale.x(SINCE - timedelta(days=3)) == 100 and scale.x(UNTIL + timedelta(days=1)) == 900
    ticks = scale.ticks()
    assert 4 <= len(ticks) <= 8 and all(100 <= x <= 900 for x, _ in ticks)
    assert parse_time("2026-11-20T08:00:00Z") == T0 and parse_time(None) is None
    assert TimeScale(T0, T0, 0, 10).span == 1  # an empty window does not divide by zero


# --- bounded size ----------------------------------------------------------------------------------
def _large_report(devices: int, namespaces: int, services: int, destinations: int, history: int,
                  findings: int) -> dict[str, Any]:
    names = [f"fw{i}" for i in range(devices)]
    entries = [_entry(i + 1, "Allow" if i % 2 else "Deny", _dst(f"d{i}", [f"10.{i // 250}.{i % 250}.0/24"]),
                      ["443/TCP"], name=f"rule-{i}") for i in range(destinations)]
    entries.append(_entry(destinations + 1, "Deny", None, None, name="default"))
    cells = [_cell(e["destination"], e["action"].lower(), e["position"], e["ports"]) for e in entries]
    per_device = [{"device": d, "note": "", "entries": entries, "decisions": cells}
                  for d in names]  # shared: read only
    egress = []
    for n in range(namespaces):
        for s in range(services + 1):
            egress.append({"kind": "Service" if s else "Namespace", "namespace": f"ns{n}",
                           "service": f"svc{s}" if s else "", "sourceMode": "pod",
                           "addresses": ["10.244.0.1"],
                           "devices": per_device})
    step = (UNTIL - SINCE) / max(1, history)

    def at(i: int) -> str:
        return (SINCE + step * i).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "window": {"since": "2026-11-14T08:00:00Z", "until": "2026-11-21T08:00:00Z"},
        "devices": [{"name": d} for d in names],
        "history": [{"device": names[0], "appliedAt": at(i), "result": "applied", "counts": {"create": i % 7}}
                    for i in range(history)],
        "findings": [{"id": i, "device": names[0], "type": "missing", "objectKind": "rule",
                      "objectName": f"o{i}", "firstSeen": at(i), "resolvedAt": None if i % 3 else at(i + 40)}
                     for i in range(findings)],
        "egress": egress,
    }


def test_charts_stay_bounded_for_large_reports() -> None:
    report = _large_report(devices=40, namespaces=300, services=30, destinations=60, history=20000,
                           findings=5000)
    timelines, left = device_timelines(report)
    assert len(timelines) == MAX_TIMELINES and left == 40 - MAX_TIMELINES
    busy = timelines[0][1]
    _svg(busy)
    assert busy.count('class="t-open"') + busy.count('class="t-resolved"') <= MAX_DRIFT_BARS
    assert "more drift findings not drawn" in busy
    matrices, matrices_left = namespace_matrices(report)
    cells = sum(m.count("<g class=\"m-") for m in matrices.values())
    per_matrix = (MAX_ROWS + 1) * MAX_SOURCES * MAX_DEVICES
    assert cells <= MAX_MATRIX_CELLS + per_matrix and matrices_left
    first = matrices["ns0"]
    assert "+48 more destinations" in first and "+23 more Services" in first and "+36 more devices" in first
    total = sum(len(svg) for _, svg in timelines) + sum(len(svg) for svg in matrices.values())
    assert total < 3_000_000, total


def test_drift_lanes_are_capped() -> None:
    """Open findings first seen at different times overlap until now: one lane each, up to the cap."""
    findings = [{"id": i, "type": "missing", "objectKind": "rule", "objectName": f"o{i}",
                 "firstSeen": f"2026-11-15T08:{i:02d}:00Z", "resolvedAt": None} for i in range(10)]
    svg = device_timeline("fw", [], findings, SINCE, UNTIL, "t")
    ys = {r.getAttribute("y") for r in _svg(svg).getElementsByTagName("rect")
          if r.getAttribute("class") == "t-open" and r.getAttribute("height") == "12"}
    assert len(ys) == MAX_DRIFT_LANES and f"+{10 - MAX_DRIFT_LANES} more drift findings" in svg


def test_findings_one_read_found_share_a_bar() -> None:
    findings = [{"id": i, "type": "missing", "objectKind": "rule", "objectName": f"o{i}",
                 "firstSeen": "2026-11-15T08:00:00Z", "resolvedAt": None} for i in range(40)]
    svg = device_timeline("fw", [], findings, SINCE, UNTIL, "t")
    bars = [r for r in _svg(svg).getElementsByTagName("rect") if r.getAttribute("class") == "t-open"
            and r.getAttribute("height") == "12"]
    assert len(bars) == 1 and "40 findings (40 missing)" in bars[0].toxml() and "more drift" not in svg


def test_matrix_escapes_names() -> None:
    entry = _entry(1, "Allow", _dst(EVIL, ["10.0.0.0/8"]), None, name=EVIL)
    source = {"kind": "Namespace", "namespace": EVIL, "service": "",
              "devices": [{"device": EVIL, "note": "", "entries": [entry],
                           "decisions": [_cell(entry["destination"], "allow", 1)]}]}
    svg, cells = namespace_matrix(EVIL, [source], [EVIL], "m")
    assert cells == 2 and "<script>" not in svg
    assert EVIL in _svg(svg).toxml().replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"') \
        .replace("&amp;", "&")
