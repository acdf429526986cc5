"""The effective-egress numbers say which numbering they are: the entry's place in the connector's
first-match list for the device, not the device's own rule number (F5 lists a rule once per
protocol, FortiGate numbers policies by ID and may hold its own around ours)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from connector.cluster import StaticView
from connector.compiler import compile_cluster
from connector.reports import build_report, render
from connector.reports.charts import namespace_matrices
from connector.store import Store
from tests.connector.compiler.builders import settings
from tests.connector.reports.scenario import objects

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def test_the_order_column_is_labelled_as_the_connectors(session: Session) -> None:
    view = StaticView(objects())
    compiled = compile_cluster(view, settings(("fw1",)))
    report = build_report(compiled, Store(session, "c1"), view=view, until=T0)
    html = render(report, "html").decode()
    egress = html[html.index('<section id="egress">'):html.index('<section id="destinations">')]
    headers = re.findall(r"<th[^>]*>(.*?)</th>", egress)
    assert "#" not in headers and "Order" in headers
    assert "not the device's own rule number" in egress
    assert "F5 BIG-IP lists a rule once per protocol" in egress
    # the numbers are the compiled first-match positions on that device
    web = next(s for s in report.egress if s.service == "web")
    rules = compiled.devices["fw1"].rules
    assert all(rules[e.position - 1].key == e.rule_key for d in web.devices for e in d.entries)
    matrix = namespace_matrices(report.to_json())[0]["shop"]
    assert "(order " in matrix and "(#" not in matrix
