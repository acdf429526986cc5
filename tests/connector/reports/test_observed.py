"""The report's "Observed egress": flows summed per namespace and Service (denied first), in the
JSON (schema-valid), the CSV and the HTML page with a bar chart per namespace; a report without
flow data has the section, empty, and says so."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from connector.cluster import StaticView
from connector.compiler import compile_cluster
from connector.flows.record import FlowIdentity, FlowLine, FlowRecord, FlowRule
from connector.reports import Report, build_report, render
from connector.reports.observed import observed_egress
from connector.reports.observed_chart import MAX_BARS, observed_chart
from connector.store import Store
from connector.store.flow_records import FlowRecordRepository
from tests.connector.compiler.builders import settings
from tests.connector.reports.browser import chromium, dump_dom, png_colours, screenshot
from tests.connector.reports.helpers import validate_report
from tests.connector.reports.scenario import objects

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ALLOW, DENY = (27, 127, 59), (179, 38, 30)
WEB = FlowIdentity("c1", "shop", "web-1", "u1", ("web", "front"))
BATCH = FlowIdentity("c1", "shop", "batch-1", "u2")
OTHER = FlowIdentity("c1", "ops", "probe-1", "u3", ("probe",))
STRIPE = FlowRule("ServiceEgressRule", "shop", "to-stripe", "Application")
DEFAULT = FlowRule("DefaultAction", "shop", "default", "Default")


def flow(identity: FlowIdentity | None, dst: str, action: str = "Allow", rule: FlowRule | None = STRIPE, *,
         port: int | None = 443, minutes: int = 30, count: int = 1, device: str = "fw1",
         device_rule: str = "r1", ambiguous: bool = False) -> FlowRecord:
    line = FlowLine(time=T0 - timedelta(minutes=minutes), device=device, action=action,  # type: ignore[arg-type]
                    src="10.0.0.1", dst=dst, protocol="TCP" if port else "ICMP",
                    src_port=40000 if port else None, dst_port=port, device_rule=device_rule, count=count)
    return FlowRecord(line, identity, rule, ambiguous=ambiguous)


RECORDS = [
    flow(WEB, "198.51.100.7", count=5, minutes=50),
    flow(WEB, "198.51.100.7", count=2, minutes=10, device="fw2"),
    flow(WEB, "203.0.113.9", "Deny", DEFAULT, count=2),
    flow(BATCH, "198.51.100.7", count=4),
    flow(BATCH, "192.0.2.1", "Deny", None, port=None, device_rule="9"),
    flow(OTHER, "2001:db8::1", "Deny", None, port=53, device_rule="implicit"),
    flow(None, "198.51.100.7", count=6),
    flow(WEB, "198.51.100.7", count=3, ambiguous=True),
    flow(FlowIdentity("c1", "", node="worker-b", source_mode="node"), "198.51.100.7", count=4),
]


@pytest.fixture
def report(session: Session) -> Report:
    view = StaticView(objects())
    compiled = compile_cluster(view, settings(("fw1", "fw2")))
    return build_report(compiled, Store(session, "c1"), view=view, since=T0 - timedelta(hours=8), until=T0)


def test_flows_are_summed_per_namespace_and_service_denied_first() -> None:
    observed = observed_egress(RECORDS)
    assert (observed.flows, observed.unattributed, observed.ambiguous, observed.shared) == (28, 6, 3, 4)
    keys = [(s.kind, s.namespace, s.service) for s in observed.sources]
    assert keys == [("Namespace", "ops", ""), ("Service", "ops", "probe"), ("Namespace", "shop", ""),
                    ("Service", "shop", "front"), ("Service", "shop", "web")]
    shop = observed.sources[2]
    assert [(d.action, d.target, d.count) for d in shop.destinations] == [
        ("Deny", "203.0.113.9:443/TCP", 2), ("Deny", "192.0.2.1/ICMP", 1),
        ("Allow", "198.51.100.7:443/TCP", 14)]
    allowed = shop.destinations[-1]
    assert allowed.devices == ("fw1", "fw2") and allowed.rule is not None and allowed.rule.name == "to-stripe"
    assert allowed.first_seen == T0 - timedelta(minutes=50)
    assert allowed.last_seen == T0 - timedelta(minutes=10)
    assert shop.destinations[1].rule is None and shop.destinations[1].device_rules == ("9",)
    assert shop.destinations[0].device_rules == ()  # decided by a rule of ours: no foreign reference
    web = observed.sources[4]
    assert (web.flows, web.denied) == (12, 2) and (shop.flows, shop.denied) == (17, 3)
    assert observed.sources[0].destinations[0].target == "[2001:db8::1]:53/TCP"


def test_json_section_validates_and_is_empty_without_flows(report: Report) -> None:
    empty = json.loads(render(report, "json"))
    validate_report(empty)
    assert empty["observedEgress"] == {"flows": 0, "deniedFlows": 0, "unattributedFlows": 0,
                                       "ambiguousFlows": 0, "sharedFlows": 0, "sources": []}
    data = json.loads(render(replace(report, observed=observed_egress(RECORDS)), "json"))
    validate_report(data)
    section = data["observedEgress"]
    assert section["flows"] == data["summary"]["observedFlows"] == 28 and section["deniedFlows"] == 4
    first = section["sources"][2]["destinations"][0]
    assert first == {"destination": "203.0.113.9", "port": 443, "protocol": "TCP", "action": "Deny",
                     "rule": {"kind": "DefaultAction", "namespace": "shop", "name": "default",
                              "tier": "Default"},
                     "count": 2, "devices": ["fw1"], "deviceRules": [], "firstSeen": "2026-11-20T07:30:00Z",
                     "lastSeen": "2026-11-20T07:30:00Z"}


def test_csv_has_a_row_per_source_and_destination(report: Report) -> None:
    assert "observed-egress" not in render(report, "csv").decode()
    rows = [r for r in csv.DictReader(io.StringIO(render(replace(report, observed=observed_egress(RECORDS)),
                                                         "csv").decode()))
            if r["record"] == "observed-egress"]
    assert len(rows) == sum(len(s.destinations) for s in observed_egress(RECORDS).sources)
    stripe = next(r for r in rows if r["services"] == "shop/web" and r["type"] == "Allow")
    assert stripe["object_name"] == "198.51.100.7:443/TCP"
    assert stripe["rules"] == "ServiceEgressRule shop/to-stripe"
    assert stripe["device"] == "fw1; fw2" and stripe["message"] == "10 flows"
    foreign = next(r for r in rows if r["object_name"] == "192.0.2.1/ICMP" and r["services"] == "")
    assert foreign["message"] == "1 flow; device rule 9, not ours" and foreign["rules"] == ""


def test_html_section_says_when_there_is_no_flow_data(report: Report) -> None:
    html = render(report, "html").decode()
    section = html[html.index('<section id="observed">'):html.index('<section id="destinations">')]
    assert "No flow records in the window" in section and "<svg" not in section


def test_html_section_lists_destinations_with_a_chart_per_namespace(report: Report) -> None:
    hostile = FlowIdentity("c1", "shop", "x", "u9", ('<script>alert("x")</script>',))
    observed = observed_egress([*RECORDS, flow(hostile, "198.51.100.7")])
    html = render(replace(report, observed=observed), "html").decode()
    section = html[html.index('<section id="observed">'):html.index('<section id="destinations">')]
    assert section.count('<svg class="chart observed"') == 2
    assert "<script>" not in section and "&lt;script&gt;" in section
    counts = "29 flows in all, 4 denied; 6 from addresses of no cluster identity (not listed); 4 from a node"
    assert counts in section
    shop = section[section.index('data-namespace="shop" data-service=""'):]
    rows = re.findall(r'<tr class="observed">\s*<td class="(\w+)">', shop.split("</table>")[0])
    assert rows == ["Deny", "Deny", "Allow"]
    assert "device rule 9, not ours" in shop.split("</table>")[0]


def test_chart_draws_allowed_and_denied_per_destination_within_bounds() -> None:
    source = observed_egress(RECORDS).sources[2].to_json()
    svg = observed_chart(source, "o1")
    bars = re.findall(r'data-target="([^"]+)" data-allowed="(\d+)" data-denied="(\d+)"', svg)
    assert bars == [("203.0.113.9:443/TCP", "0", "2"), ("192.0.2.1/ICMP", "0", "1"),
                    ("198.51.100.7:443/TCP", "14", "0")]
    bar = r'class="o-allow" x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="18"'
    widths = [float(w) for w in re.findall(bar, svg)]
    assert widths == [420.0]  # the largest bar spans the whole bar area
    many = {**source, "destinations": [{**source["destinations"][0], "destination": f"192.0.2.{i}"}
                                       for i in range(MAX_BARS + 5)]}
    svg = observed_chart(many, "o2")
    assert svg.count('class="o-bar"') == MAX_BARS and "+5 more destinations" in svg


def test_chart_renders_in_chromium(report: Report, tmp_path: Path) -> None:
    chromium()
    page = tmp_path / "report.html"
    page.write_bytes(render(replace(report, observed=observed_egress(RECORDS)), "html"))
    dom, messages = dump_dom(page, tmp_path)
    assert messages == [] and dom.count('<svg class="chart observed"') == 2
    html = page.read_text()
    head = html[:html.index("<body>") + len("<body>")]
    figures = re.findall(r'<figure class="chart observed-figure.*?</figure>', html, flags=re.S)
    only = tmp_path / "observed.html"
    only.write_text(head + "".join(figures) + "</body></html>")
    colours = png_colours(screenshot(only, tmp_path / "observed.png", tmp_path, (900, 500)))
    for colour in (ALLOW, DENY):
        assert colours[colour] > 100, (colour, colours.most_common(8))


def test_build_report_reads_the_window_of_the_store(session: Session) -> None:
    old = flow(WEB, "192.0.2.200", minutes=60 * 9)  # before the window
    FlowRecordRepository(session, "c1").add([*RECORDS, old])
    view = StaticView(objects())
    compiled = compile_cluster(view, settings(("fw1", "fw2")))
    store = Store(session, "c1")
    report = build_report(compiled, store, view=view, since=T0 - timedelta(hours=8), until=T0)
    assert report.observed == observed_egress(RECORDS)
    only = build_report(compiled, store, view=view, since=T0 - timedelta(hours=8), until=T0, device="fw2")
    assert only.observed.flows == 2 and {d for s in only.observed.sources for x in s.destinations
                                         for d in x.devices} == {"fw2"}
