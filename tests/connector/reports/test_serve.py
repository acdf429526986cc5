"""GET /report answers: formats, window and device parameters, optional bearer token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.cluster import StaticView
from connector.compiler import compile_cluster
from connector.reports import REPORT_TOKEN_ENV, Report, answer_report, report_from_engine
from connector.reports.serve import ReportBuilder, serve_report
from connector.security import TransportWarning
from connector.store import Store, create_engine, migrate, session_factory
from tests.connector.compiler.builders import settings
from tests.connector.reports.helpers import validate_report
from tests.connector.reports.scenario import objects

calls: list[tuple[timedelta, str | None]] = []


@pytest.fixture
def build(tmp_path: Path) -> Iterator[ReportBuilder]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate(url)
    engine = create_engine(url)
    with session_factory(engine).begin() as session:
        Store(session, "c1").devices.register("fw1", "rest", "http://127.0.0.1:1")
    view = StaticView(objects())
    compiled = compile_cluster(view, settings(("fw1", "fw2")))

    def builder(window: timedelta, device: str | None) -> Report:
        calls.append((window, device))
        return report_from_engine(engine, "c1", compiled, view=view, window=window, device=device)

    yield builder
    engine.dispose()


def test_formats_and_parameters(build: ReportBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REPORT_TOKEN_ENV, raising=False)
    calls.clear()
    html = answer_report(build, "", None)
    assert (html.status, html.content_type) == (200, "text/html; charset=utf-8")
    assert html.body.startswith(b"<!DOCTYPE html>")
    answer = answer_report(build, "format=json&since=36h&device=fw1", None)
    data = json.loads(answer.body)
    validate_report(data)
    assert [d["name"] for d in data["devices"]] == ["fw1"] and data["devices"][0]["type"] == "rest"
    until = datetime.fromisoformat(data["window"]["until"])
    assert until - datetime.fromisoformat(data["window"]["since"]) == timedelta(hours=36)
    assert until <= datetime.now(UTC)
    assert answer_report(build, "format=csv", None).body.startswith(b"record,device,")
    assert calls == [(timedelta(days=7), None), (timedelta(hours=36), "fw1"), (timedelta(days=7), None)]
    for query in ("format=pdf", "since=forever"):
        bad = answer_report(build, query, None)
        assert bad.status == 400 and b"error" in bad.body


@pytest.mark.parametrize(("authorization", "status"), [
    (None, 401), ("Bearer wrong", 401), ("Basic s3cret", 401), ("Bearer s3cret", 200),
    ("bearer s3cret", 200)])
def test_bearer_token_from_environment(build: ReportBuilder, monkeypatch: pytest.MonkeyPatch,
                                       authorization: str | None, status: int) -> None:
    monkeypatch.setenv(REPORT_TOKEN_ENV, "s3cret")
    answer = answer_report(build, "format=json", authorization)
    assert answer.status == status
    if status == 401:
        assert answer.headers["WWW-Authenticate"].startswith("Bearer") and b"s3cret" not in answer.body


def test_the_controllers_report_lists_its_transport_warnings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate(url)
    engine = create_engine(url)
    view = StaticView(objects())
    compiled = compile_cluster(view, settings(("fw1",)))
    insecure = [TransportWarning("fw1", "TLSVerifyDisabled", "device fw1: verifyTls is false")]
    try:
        answer = serve_report("format=json", None, engine=engine, cluster="c1", compiled=lambda: compiled,
                              view=view, configured=["fw1"], ready=True, transport=lambda: insecure)
    finally:
        engine.dispose()
    data = json.loads(answer.body)
    validate_report(data)
    assert data["transportWarnings"] == [{"device": "fw1", "reason": "TLSVerifyDisabled",
                                          "message": "device fw1: verifyTls is false"}]
