"""build_report and its renderings over a compiled scenario and a SQLite store."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from connector.cluster import StaticView
from connector.compiler import CompileResult, compile_cluster
from connector.planner.types import Change, Op, Plan
from connector.reports import CSV_COLUMNS, build_report, parse_window, render
from connector.reports.render import destination_legend, difference_text, drift_rows, duration_text
from connector.store import (
    DriftObservation,
    FindingType,
    PlanResult,
    Store,
)
from tests.connector.compiler.builders import settings
from tests.connector.reports.helpers import assert_egress_agrees_with_explain, validate_report
from tests.connector.reports.scenario import objects

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
DRIFT = DriftObservation("policy", "fc_c1_web-to-stripe_1a2b3c", FindingType.DIFFERENT,
                         {"device": {"action": "deny"}, "required": {"action": "accept"}},
                         ("ServiceEgressRule/shop/web-to-stripe",))
GONE = DriftObservation("address", "fc_c1_ip_10.244.0.10", FindingType.MISSING, {}, ("Pod/shop/web-1",))


@pytest.fixture
def view() -> StaticView:
    return StaticView(objects())


@pytest.fixture
def compiled(view: StaticView) -> CompileResult:
    return compile_cluster(view, settings(("fw1", "fw2"), no_fqdn=("fw2",)))


def _history(store: Store) -> None:
    for name in ("fw1", "fw2"):
        store.devices.register(name, "rest", f"http://127.0.0.1/{name}", at=T0)
    change = Change(Op.UPDATE, "policy", DRIFT.name, {"action": "deny"}, {"action": "accept"},
                    DRIFT.identities)
    plan = Plan("fw1", "c1", (change,))
    store.audit.append(plan, PlanResult.APPLIED, 0.25, at=T0 + timedelta(hours=2))
    store.audit.append(Plan("fw1", "c1"), PlanResult.APPLIED, 0.1, at=T0 - timedelta(days=30))
    store.drift.observe("fw1", [DRIFT, GONE], at=T0)
    store.drift.observe("fw1", [GONE], at=T0 + timedelta(hours=2))  # DRIFT resolved after 2 hours
    store.devices.record_read("fw1", at=T0 + timedelta(hours=2))
    store.devices.record_sync("fw1", in_sync=False, at=T0 + timedelta(hours=2))
    store.devices.record_sync("fw2", in_sync=False, error="HTTP 503 <b>busy</b>", at=T0)


def test_report_sections(session: Session, view: StaticView, compiled: CompileResult) -> None:
    store = Store(session, "c1")
    _history(store)
    until = T0 + timedelta(days=1)
    report = build_report(compiled, store, view=view, since=until - timedelta(days=7), until=until,
                          read_errors={"fw2": "connection refused"})
    data = report.to_json()
    validate_report(data)
    assert [d["name"] for d in data["devices"]] == ["fw1", "fw2"]
    assert data["devices"][1]["readError"] == "connection refused"
    assert report.unreadable == ["fw2"]
    resolved = next(f for f in data["findings"] if f["status"] == "resolved")
    assert (resolved["objectName"], resolved["openSeconds"]) == (DRIFT.name, 7200)
    assert resolved["rules"] == ["ServiceEgressRule/shop/web-to-stripe"]
    assert resolved["services"] == ["shop/web"] and resolved["namespaces"] == ["shop"]
    still = next(f for f in data["findings"] if f["status"] == "open")
    assert still["openSeconds"] == 22 * 3600 + 7200 and still["namespaces"] == ["shop"]
    assert [h["counts"]["update"] for h in data["history"]] == [1]  # the 30-day old entry is outside
    not_programmed = {r["rule"]["name"]: r for r in data["rulesNotProgrammed"]}
    assert not_programmed["api-to-nowhere"]["reason"] == "ExternalServiceNotFound"
    assert not not_programmed["api-to-nowhere"]["accepted"]
    sources = {(s["namespace"], s["service"]) for s in data["egress"]}
    assert sources == {("ops", ""), ("ops", "tool"), ("shop", ""), ("shop", "api"), ("shop", "web")}


def test_egress_agrees_with_explain(session: Session, view: StaticView, compiled: CompileResult) -> None:
    data = build_report(compiled, Store(session, "c1"), view=view, until=T0).to_json()
    web = next(s for s in data["egress"] if s["service"] == "web")
    fw1 = next(d for d in web["devices"] if d["device"] == "fw1")
    rules = [e["rule"]["name"] for e in fw1["entries"]]
    assert rules == ["deny-threats", "web-to-stripe", "allow-mirror", "web-to-mirror-deny", "allow-dns",
                     "default"]
    assert [e["shadowed"] for e in fw1["entries"]][3] is True  # allow-mirror decides first
    shop = next(s for s in data["egress"] if s["kind"] == "Namespace" and s["namespace"] == "shop")
    batch = next(e for e in shop["devices"][0]["entries"] if e["rule"]["name"] == "batch-deny")
    assert batch["appliesTo"] == "some"
    assert assert_egress_agrees_with_explain(data, view, compiled) >= 20


def test_device_filter_and_renderings(session: Session, view: StaticView, compiled: CompileResult) -> None:
    store = Store(session, "c1")
    _history(store)
    report = build_report(compiled, store, view=view, until=T0 + timedelta(days=1), device="fw2",
                          read_errors={"fw2": "refused <script>alert(1)</script>"})
    data = json.loads(render(report, "json"))
    validate_report(data)
    assert [d["name"] for d in data["devices"]] == ["fw2"] and data["findings"] == [] == data["history"]
    assert {d["device"] for s in data["egress"] for d in s["devices"]} == {"fw2"}
    rows = list(csv.DictReader(io.StringIO(render(report, "csv").decode())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["record"] == "device-unreadable" and "refused" in rows[0]["message"]
    assert any(r["record"] == "rule-not-programmed" and r["rules"].endswith("shop/api-to-nowhere")
               for r in rows)
    html = render(report, "html").decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_csv_row_per_finding(session: Session, view: StaticView, compiled: CompileResult) -> None:
    store = Store(session, "c1")
    _history(store)
    report = build_report(compiled, store, view=view, until=T0 + timedelta(days=1))
    rows = list(csv.DictReader(io.StringIO(render(report, "csv").decode())))
    drift = [r for r in rows if r["record"] == "drift"]
    assert sorted((r["status"], r["object_name"]) for r in drift) == [("open", GONE.name),
                                                                     ("resolved", DRIFT.name)]
    resolved = next(r for r in drift if r["status"] == "resolved")
    assert (resolved["services"], resolved["open_seconds"]) == ("shop/web", "7200")


def test_html_is_self_contained(session: Session, view: StaticView, compiled: CompileResult) -> None:
    store = Store(session, "c1")
    _history(store)
    html = render(build_report(compiled, store, view=view, until=T0 + timedelta(days=1)), "html").decode()
    for external in ("<link", "<script", "src=", "@import", "url("):
        assert external not in html
    assert "@media print" in html and DRIFT.name in html and "2h 0s" not in html and "2h" in html
    assert "0 · 1 · 0 · 0" in html and "built-in method" not in html  # history counts


@pytest.mark.parametrize(("text", "seconds"), [("7d", 604800), ("36h", 129600), ("90m", 5400),
                                              ("2w", 1209600), ("3600s", 3600), ("1.5h", 5400)])
def test_parse_window(text: str, seconds: int) -> None:
    assert parse_window(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "7", "-1d", "0d", "7y", "d"])
def test_parse_window_errors(text: str) -> None:
    with pytest.raises(ValueError, match="window"):
        parse_window(text)


@pytest.mark.parametrize(("seconds", "text"), [(0, "<1s"), (0.6, "1s"), (59.6, "1m"), (7200, "2h"),
                                              (93784, "1d 2h"), (None, "")])
def test_duration_text(seconds: float | None, text: str) -> None:
    assert duration_text(seconds) == text


def _finding(number: int, status: str, first: str, resolved: str | None, seconds: float,
             name: str) -> dict[str, Any]:
    return {"id": number, "device": "fw1", "status": status, "type": "missing", "objectKind": "address",
            "objectName": name, "identities": [{"kind": "Pod", "namespace": "shop", "name": name}],
            "namespaces": ["shop"], "services": [], "rules": [], "firstSeen": first, "resolvedAt": resolved,
            "openSeconds": seconds, "detail": {}}


def test_html_rows_group_what_one_sync_repaired() -> None:
    findings = [_finding(1, "open", "t0", None, 5, "a"), _finding(2, "open", "t0", None, 5, "b")]
    findings += [_finding(3 + i, "resolved", "t1", "t2", 0.01, f"n{i}") for i in range(7)]
    findings += [_finding(20, "resolved", "t3", "t9", 600, "long")]
    rows, left_out = drift_rows(findings)
    assert [(r["status"], r["count"]) for r in rows] == [("open", 1), ("open", 1), ("resolved", 1),
                                                         ("resolved", 7)]
    assert rows[3]["types"] == "7 missing" and rows[3]["more"] == 2 and len(rows[3]["objects"]) == 5
    assert rows[3]["others"][:2] == ["Pod/shop/n0", "Pod/shop/n1"]
    rows, left_out = drift_rows(findings, max_resolved=1)
    assert rows[-1]["objects"] == ["address long"] and left_out == 7


def test_destination_legend_per_variant(session: Session, view: StaticView, compiled: CompileResult) -> None:
    data = build_report(compiled, Store(session, "c1"), view=view, until=T0).to_json()
    legend = destination_legend(data["egress"])
    stripe = [(row["devices"], row["fqdns"]) for row in legend if row["name"] == "stripe"]
    assert stripe == [(["fw1"], ["api.stripe.com"]), (["fw2"], [])]  # fw2 cannot enforce FQDNs
    anchors = {row["anchor"] for row in legend}
    used = {e["destination"]["anchor"] for s in data["egress"] for d in s["devices"] for e in d["entries"]
            if e["destination"] is not None}
    assert used == anchors


@pytest.mark.parametrize(("detail", "text"), [
    ({"device": {"addresses": ["10.0.0.1", "192.0.2.250"], "remark": "x"},
      "required": {"addresses": ["10.0.0.1"], "remark": "x"}}, "addresses: unexpected 192.0.2.250"),
    ({"device": {"action": "deny", "log": True}, "required": {"action": "accept", "log": True}},
     "action: deny on the device, accept required"),
    ({"device": {"order": ["b", "a"]}, "required": {"order": ["a", "b"]}}, "order: order differs"),
    ({"device": {"order": ["b"]}, "required": {"order": ["a", "b"]}}, "order: missing a"),
    ({"required": {"x": 1}}, "absent from the device"),
    ({"device": {"x": 1}}, "not required by any rule"),
    ({"device": {}, "required": {"ports": [1]}}, "ports: missing on the device ([1] required)"),
])
def test_difference_text(detail: dict[str, Any], text: str) -> None:
    assert difference_text(detail) == text
