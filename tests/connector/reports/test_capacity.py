"""Device capacity in the report: table usage against limits per device, and the refusal."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from connector.cluster import StaticView
from connector.compiler import compile_cluster
from connector.planner.capacity import CapacityReport, Table, TableUsage
from connector.planner.types import Change, Op, Plan
from connector.reports import build_report, render
from connector.store import PlanResult, Store
from tests.connector.compiler.builders import settings
from tests.connector.reports.helpers import validate_report
from tests.connector.reports.scenario import objects

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
REFUSAL = "CapacityExceeded: policies 12 > limit 10"
USAGE = CapacityReport("fw1", (TableUsage(Table.ADDRESSES, 40, 20000), TableUsage(Table.POLICIES, 12, 10),
                               TableUsage(Table.RULES, 5, None)))


def test_the_report_shows_each_table_against_its_limit_and_the_refusal(session: Session) -> None:
    view = StaticView(objects())
    compiled = compile_cluster(view, settings(("fw1", "fw2")))
    store = Store(session, "c1")
    for name in ("fw1", "fw2"):
        store.devices.register(name, "fortios", f"http://127.0.0.1/{name}", at=T0)
    plan = Plan("fw1", "c1", (Change(Op.CREATE, "policy", "p12", None, {"action": "accept"}),))
    store.audit.append(plan, PlanResult.REFUSED, 0.1, error=REFUSAL, at=T0)
    store.devices.record_sync("fw1", in_sync=False, error=REFUSAL, at=T0)
    report = build_report(compiled, store, view=view, since=T0 - timedelta(days=1),
                          until=T0 + timedelta(hours=1), capacity={"fw1": USAGE})
    data = report.to_json()
    validate_report(data)
    fw1, fw2 = data["devices"]
    assert fw1["capacity"] == [
        {"table": "addresses", "count": 40, "limit": 20000, "exceeded": False},
        {"table": "policies", "count": 12, "limit": 10, "exceeded": True},
        {"table": "rules", "count": 5, "limit": None, "exceeded": False}]
    assert fw1["lastError"] == REFUSAL and fw2["capacity"] == []
    assert [(h["result"], h["error"]) for h in data["history"]] == [("refused", REFUSAL)]

    rows = [r for r in csv.DictReader(io.StringIO(render(report, "csv").decode()))
            if r["record"] == "capacity-exceeded"]
    assert [(r["device"], r["type"], r["message"]) for r in rows] == [("fw1", "policies", REFUSAL)]

    page = render(report, "html").decode()
    assert '<span class="badge bad">policies 12 / 10</span>' in page
    assert "addresses 40 / 20000" in page and REFUSAL.replace(">", "&gt;") in page
