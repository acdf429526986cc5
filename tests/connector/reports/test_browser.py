"""The HTML report in a real headless Chromium: no console message, every chart laid out with a
size, and the charts' colours on screen (allow, deny, drift open and resolved)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from connector.cluster import StaticView
from connector.compiler import compile_cluster
from connector.planner.types import Change, Op, Plan
from connector.reports import build_report, render
from connector.store import DriftObservation, FindingType, PlanResult, Store
from tests.connector.compiler.builders import settings
from tests.connector.reports.browser import chromium, dump_dom, png_colours, screenshot
from tests.connector.reports.scenario import objects

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ALLOW, DENY = (27, 127, 59), (179, 38, 30)
RESOLVED = (224, 164, 58)
# Run in the page's copy only: the size Chromium gave each chart, written into the DOM.
PROBE = """<script>
const charts = [...document.querySelectorAll("svg.chart")].map(svg => {
  const box = svg.getBoundingClientRect();
  return {kind: svg.classList[1], width: box.width, height: box.height,
          cells: svg.querySelectorAll("rect").length, label: svg.getAttribute("aria-labelledby")};
});
document.body.insertAdjacentHTML("beforeend", "<pre id=probe></pre>");
document.getElementById("probe").textContent = JSON.stringify(charts);
</script>"""


@pytest.fixture
def page(session: Session, tmp_path: Path) -> Path:
    chromium()
    view = StaticView(objects())
    compiled = compile_cluster(view, settings(("fw1", "fw2")))
    store = Store(session, "c1")
    for name in ("fw1", "fw2"):
        store.devices.register(name, "rest", f"http://127.0.0.1/{name}", at=T0)
    change = Change(Op.CREATE, "rule", "r1", None, {"action": "allow"}, ("Namespace/shop",))
    store.audit.append(Plan("fw1", "c1", (change,)), PlanResult.APPLIED, 0.2, at=T0 - timedelta(hours=5))
    drift = DriftObservation("rule", "r1", FindingType.MISSING, {}, ("Namespace/shop",))
    store.drift.observe("fw1", [drift], at=T0 - timedelta(hours=4))
    store.drift.observe("fw1", [], at=T0 - timedelta(hours=2))  # resolved
    store.drift.observe("fw2", [drift], at=T0 - timedelta(hours=1))  # still open
    report = build_report(compiled, store, view=view, since=T0 - timedelta(hours=8), until=T0)
    out = tmp_path / "report.html"
    out.write_bytes(render(report, "html"))
    return out


def test_page_renders_without_console_messages(page: Path, tmp_path: Path) -> None:
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><p>x</p><script>console.error("control")</script>')
    assert dump_dom(control, tmp_path)[1], "console messages must be detectable"
    dom, messages = dump_dom(page, tmp_path)
    assert messages == []
    assert dom.count('<svg class="chart timeline"') == 2 and dom.count('<svg class="chart matrix"') == 2


def test_every_chart_is_laid_out(page: Path, tmp_path: Path) -> None:
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom, messages = dump_dom(probed, tmp_path)
    assert messages == []
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, flags=re.S)
    assert found is not None, "the probe did not run"
    charts = json.loads(found.group(1).replace("&quot;", '"'))
    assert sorted(c["kind"] for c in charts) == ["matrix", "matrix", "timeline", "timeline"]
    for chart in charts:
        assert chart["width"] > 300 and chart["height"] > 60 and chart["cells"] > 4, chart


def test_chart_colours_on_screen(page: Path, tmp_path: Path) -> None:
    html = page.read_text()
    head = html[:html.index("<body>") + len("<body>")]
    figures = re.findall(r'<figure class="chart.*?</figure>', html, flags=re.S)
    charts_only = tmp_path / "charts.html"
    charts_only.write_text(head + "".join(figures) + "</body></html>")
    colours = png_colours(screenshot(charts_only, tmp_path / "charts.png", tmp_path, (1000, 1100)))
    for colour in (ALLOW, DENY, RESOLVED):
        assert colours[colour] > 100, (colour, colours.most_common(8))
