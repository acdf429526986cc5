"""`GET /report` through the controller's HTTP server (`connector.http.HealthServer`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from connector.cluster import StaticView
from connector.compiler import compile_cluster
from connector.http import HealthServer
from connector.reports import REPORT_TOKEN_ENV, HttpAnswer, serve_report
from connector.store import create_engine, migrate
from tests.connector.compiler.builders import settings
from tests.connector.reports.helpers import validate_report
from tests.connector.reports.scenario import objects


class HealthOnly:
    """Probes without a report."""

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self.view = StaticView(objects())
        self.compiled = False

    def alive(self) -> bool:
        return True

    def readiness(self) -> dict[str, Any]:
        return {"ready": self.compiled}

    def render_metrics(self) -> bytes:
        return b""


class Probes(HealthOnly):
    """The probes a controller offers, with `report_answer` as `Controller` implements it."""

    def report_answer(self, query: str, authorization: str | None) -> HttpAnswer:
        return serve_report(query, authorization, engine=self.engine, cluster="c1",
                            compiled=lambda: compile_cluster(self.view, settings(("fw1",))), view=self.view,
                            configured=["fw1"], ready=self.compiled)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate(url)
    engine = create_engine(url)
    yield engine
    engine.dispose()


def _serve(probes: HealthOnly) -> HealthServer:
    return HealthServer(probes, "127.0.0.1", 0).start()


def test_report_route(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REPORT_TOKEN_ENV, raising=False)
    probes = Probes(engine)
    server = _serve(probes)
    try:
        assert httpx.get(f"{server.url}/report").status_code == 503  # not compiled yet
        probes.compiled = True
        page = httpx.get(f"{server.url}/report")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store" and "Service shop/web" in page.text
        answer = httpx.get(f"{server.url}/report", params={"format": "json", "since": "1d"})
        validate_report(answer.json())
        assert httpx.get(f"{server.url}/report", params={"format": "xml"}).status_code == 400
        monkeypatch.setenv(REPORT_TOKEN_ENV, "t0ken")
        assert httpx.get(f"{server.url}/report").status_code == 401
        assert httpx.get(f"{server.url}/report", headers={"Authorization": "Bearer t0ken"}).status_code == 200
        assert httpx.get(f"{server.url}/healthz").status_code == 200  # probes stay open
    finally:
        server.stop()


def test_no_route_without_a_report_probe(engine: Engine) -> None:
    server = _serve(HealthOnly(engine))
    try:
        assert httpx.get(f"{server.url}/report").status_code == 404
    finally:
        server.stop()
