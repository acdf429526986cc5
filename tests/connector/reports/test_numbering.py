"""The effective-egress numbers say which numbering they are: *Order* is the entry's place in the
connector's first-match list for the device; *On the device* is the device's own number of the
rule as the report read it (`RuleNumbers`: a FortiOS policy ID, ...), shown beside it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from connector.adapter import RuleNumbers
from connector.cluster import StaticView
from connector.compiler import compile_cluster
from connector.reports import build_report, render
from connector.reports.charts import namespace_matrices
from connector.store import Store
from tests.connector.compiler.builders import settings
from tests.connector.reports.helpers import validate_report
from tests.connector.reports.scenario import objects

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _egress_html(html: str) -> str:
    return html[html.index('<section id="egress">'):html.index('<section id="destinations">')]


def test_the_order_column_is_the_connectors_and_the_devices_own_numbers_are_beside_it(
        session: Session) -> None:
    view = StaticView(objects())
    compiled = compile_cluster(view, settings(("fw1", "fw2")))
    rules = compiled.devices["fw1"].rules
    # as a device would report them: ids unrelated to the places, one rule held twice, one not held
    numbers = {rule.key: (str(1000 + 7 * i),) for i, rule in enumerate(rules[1:], 1)}
    numbers[rules[1].key] = ("12", "13")
    report = build_report(compiled, Store(session, "c1"), view=view, until=T0,
                          numbers={"fw1": RuleNumbers("policyid", "policy ID", numbers)})
    data = report.to_json()
    validate_report(data)
    devices = {d["name"]: d for d in data["devices"]}
    assert devices["fw1"]["ruleNumbering"] == {"scheme": "policyid", "label": "policy ID"}
    assert devices["fw2"]["ruleNumbering"] is None
    for source in data["egress"]:
        for device in source["devices"]:
            for entry in device["entries"]:
                # Order is the compiled first-match place on that device
                assert compiled.devices[device["device"]].rules[entry["position"] - 1].key == entry["ruleKey"]
                expected = list(numbers.get(entry["ruleKey"], ())) if device["device"] == "fw1" else []
                assert entry["deviceNumbers"] == expected
    html = _egress_html(render(report, "html").decode())
    headers = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", html)
    assert headers[:3] == ["Device", "Order", "On the device"] and "#" not in headers
    assert "not the device's own rule number" in html and "FortiGate policy ID" in html
    web = next(s for s in data["egress"] if s["service"] == "web")
    fw1 = next(d for d in web["devices"] if d["device"] == "fw1")
    held = next(e for e in fw1["entries"] if e["deviceNumbers"])
    row = re.search(rf"<td>fw1</td>\s*<td>{held['position']}</td>\s*<td>(.*?)</td>", html)
    assert row is not None and row.group(1) == f"policy ID {', '.join(held['deviceNumbers'])}"
    assert re.search(r"<td>fw2</td>\s*<td>\d+</td>\s*<td></td>", html)  # not read: empty
    # the matrix's cells name both numberings
    matrix = namespace_matrices(data)[0]["shop"]
    assert re.search(r"\(order \d+, policy ID \d+", matrix) and "(#" not in matrix


def test_a_cell_agrees_with_the_entries_it_names(session: Session) -> None:
    """Each allow/deny cell names the entry deciding it (`decidedBy`), whose action it is; a mixed
    cell names the entries deciding parts of it."""
    view = StaticView(objects())
    compiled = compile_cluster(view, settings(("fw1",)))
    data = build_report(compiled, Store(session, "c1"), view=view, until=T0).to_json()
    checked = 0
    for source in data["egress"]:
        for device in source["devices"]:
            assert device["decisions"] and device["decisions"][-1]["destination"] is None
            by_place = {e["position"]: e for e in device["entries"]}
            for cell in device["decisions"]:
                if cell["decision"] == "mixed":
                    assert cell["partly"] and all(p in by_place for p in cell["partly"])
                if cell["decision"] not in ("allow", "deny"):
                    continue
                assert by_place[cell["decidedBy"]]["action"].lower() == cell["decision"]
                checked += 1
    assert checked >= 5
