"""Warnings in the report: bad namespace annotation values and weakened transport security, in
JSON (schema-valid), CSV and HTML, escaped."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from connector.cluster import StaticView
from connector.compiler import compile_cluster
from connector.reports import build_report, render
from connector.security import TransportWarning
from connector.store import Store
from tests.connector.compiler.builders import namespace, settings
from tests.connector.reports.helpers import validate_report
from tests.connector.reports.scenario import objects

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
BAD = {"fusion-connector.io/default-action": "maybe", "fusion-connector.io/egress-allow": ":::",
       "fusion-connector.io/devices": "<b>typo</b>"}
TRANSPORT = (
    TransportWarning("", "KubeInsecureSkipVerify",
                     "Kubernetes API: the kubeconfig sets insecure-skip-tls-verify"),
    TransportWarning("fw1", "PlaintextCredentials",
                     "device fw1: http://fw1 is plain http:// and the credentials from FW_<TOKEN> are sent"),
    TransportWarning("fw2", "TLSVerifyDisabled", "device fw2: verifyTls is false"),
)


def _report(session: Session, device: str | None = None) -> tuple[bytes, bytes, bytes]:
    view = StaticView([*objects(), namespace("bad", annotations=BAD)])
    compiled = compile_cluster(view, settings(("fw1", "fw2")))
    report = build_report(compiled, Store(session, "c1"), view=view, until=T0, device=device,
                          transport=TRANSPORT)
    return render(report, "json"), render(report, "csv"), render(report, "html")


def test_bad_namespace_annotations_are_in_every_format(session: Session) -> None:
    body, table, page = _report(session)
    data = json.loads(body)
    validate_report(data)
    warnings = [w for w in data["namespaceWarnings"] if w["namespace"] == "bad"]
    messages = " ".join(w["message"] for w in warnings)
    for annotation in BAD:
        assert annotation in messages
    assert data["summary"]["namespaceWarnings"] == len(data["namespaceWarnings"]) >= 3
    rows = [r for r in csv.DictReader(io.StringIO(table.decode())) if r["record"] == "namespace-warning"]
    assert {r["namespaces"] for r in rows} == {"bad"} and len(rows) == len(warnings)
    html = page.decode()
    assert 'class="namespace-warning"' in html and "&lt;b&gt;typo&lt;/b&gt;" in html and "<b>typo" not in html


def test_weakened_transport_security_is_in_every_format(session: Session) -> None:
    body, table, page = _report(session)
    data = json.loads(body)
    validate_report(data)
    assert data["transportWarnings"] == [{"device": w.device, "reason": w.reason, "message": w.message}
                                         for w in TRANSPORT]
    assert data["summary"]["transportWarnings"] == 3
    rows = [r for r in csv.DictReader(io.StringIO(table.decode())) if r["record"] == "transport-warning"]
    assert [(r["device"], r["type"]) for r in rows] == [(w.device, w.reason) for w in TRANSPORT]
    html = page.decode()
    assert html.count('class="transport-warning"') == 3 and "FW_&lt;TOKEN&gt;" in html
    assert "Kubernetes API" in html


def test_one_device_keeps_its_own_and_the_kubernetes_transport_warnings(session: Session) -> None:
    data = json.loads(_report(session, device="fw2")[0])
    validate_report(data)
    assert [w["device"] for w in data["transportWarnings"]] == ["", "fw2"]
    assert any(w["namespace"] == "bad" for w in data["namespaceWarnings"])  # not about a device


def test_no_warning_is_said_plainly(session: Session) -> None:
    view = StaticView(objects())
    compiled = compile_cluster(view, settings(("fw1",)))
    report = build_report(compiled, Store(session, "c1"), view=view, until=T0)
    data = report.to_json()
    validate_report(data)
    assert data["namespaceWarnings"] == [] == data["transportWarnings"]
    assert "No configuration warning." in render(report, "html").decode()
