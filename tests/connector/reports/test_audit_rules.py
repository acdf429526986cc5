"""The report's "Audit rules": every rule in Audit mode with the counts of its `status.audit`
(matched, wouldChange, since), in the JSON (schema-valid), the CSV and the HTML page."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from connector.cluster import StaticView
from connector.compiler import compile_cluster
from connector.reports import Report, build_report, render
from connector.store import Store
from tests.connector.compiler.builders import cluster_rule, service_rule, settings
from tests.connector.reports.helpers import validate_report
from tests.connector.reports.scenario import objects

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
SINCE = "2026-11-19T10:00:00Z"


def audited() -> list[dict[str, Any]]:
    counted = service_rule("shop", "web-audit", "Deny", "web", priority=50, externalServices=["stripe"],
                           mode="Audit")
    counted["status"] = {"observedGeneration": 1,
                         "audit": {"matched": 12, "wouldChange": 7, "since": SINCE}}
    fresh = cluster_rule("audit-all", "Deny", mode="Audit")
    return [*objects(), counted, fresh]


def report(session: Session, view_objects: list[dict[str, Any]], with_view: bool = True) -> Report:
    view = StaticView(view_objects)
    compiled = compile_cluster(view, settings(("fw1", "fw2")))
    return build_report(compiled, Store(session, "c1"), view=view if with_view else None,
                        since=T0 - timedelta(hours=8), until=T0)


def test_json_lists_every_audit_rule_with_its_counts(session: Session) -> None:
    data = json.loads(render(report(session, audited()), "json"))
    validate_report(data)
    assert data["summary"]["auditRules"] == 2
    assert data["auditRules"] == [
        {"rule": {"kind": "ClusterEgressRule", "namespace": "", "name": "audit-all"},
         "matched": None, "wouldChange": None, "since": None},
        {"rule": {"kind": "ServiceEgressRule", "namespace": "shop", "name": "web-audit"},
         "matched": 12, "wouldChange": 7, "since": SINCE},
    ]


def test_without_audit_rules_the_section_is_empty(session: Session) -> None:
    data = json.loads(render(report(session, objects()), "json"))
    validate_report(data)
    assert data["auditRules"] == [] and data["summary"]["auditRules"] == 0
    html = render(report(session, objects()), "html").decode()
    assert "No rule is in Audit mode." in html


def test_without_a_view_the_counts_are_unknown(session: Session) -> None:
    data = json.loads(render(report(session, audited(), with_view=False), "json"))
    assert [a["matched"] for a in data["auditRules"]] == [None, None]


def test_csv_has_a_row_per_audit_rule(session: Session) -> None:
    rows = [r for r in csv.DictReader(io.StringIO(render(report(session, audited()), "csv").decode()))
            if r["record"] == "audit-rule"]
    assert [(r["rules"], r["first_seen"], r["message"]) for r in rows] == [
        ("ClusterEgressRule audit-all", "", "no counts yet"),
        ("ServiceEgressRule shop/web-audit", SINCE, "would decide 12 observed flow(s), changing 7"),
    ]


def test_html_section_has_a_row_per_audit_rule(session: Session) -> None:
    html = render(report(session, audited()), "html").decode()
    section = html[html.index('<section id="audit">'):html.index('<section id="egress">')]
    rows = re.findall(r'<tr class="audit-rule">(.*?)</tr>', section, re.S)
    assert len(rows) == 2
    assert "no counts yet" in rows[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", rows[1], re.S)
    assert [c.strip() for c in cells[:3]] == ["ServiceEgressRule shop/web-audit", "12", "7"]
