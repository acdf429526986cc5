"""GET /report answers bad parameters with a clear 4xx, never a 500 or an empty 200."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from connector.cluster import StaticView
from connector.compiler import compile_cluster
from connector.reports import REPORT_TOKEN_ENV, Report, answer_report, serve_report
from connector.store import create_engine, migrate
from tests.connector.compiler.builders import settings
from tests.connector.reports.scenario import objects


def _never(window: timedelta, device: str | None) -> Report:
    raise AssertionError("the report must not be built for a bad request")


@pytest.fixture(autouse=True)
def _no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REPORT_TOKEN_ENV, raising=False)


@pytest.mark.parametrize("since", ["99999999999999d", "99999999999999999999w", "1e400s"])
def test_a_window_too_long_for_the_calendar_is_400(since: str) -> None:
    answer = answer_report(_never, f"format=json&since={since}", None, devices=["fw1"])
    assert answer.status == 400
    message = json.loads(answer.body)["error"]
    assert "since" in message and ("too long" in message or "not a window" in message)


def test_an_unknown_device_is_404_naming_the_configured_ones() -> None:
    answer = answer_report(_never, "format=json&device=nope", None, devices=["fw2", "fw1"])
    assert answer.status == 404
    assert json.loads(answer.body)["error"] == (
        "no device named 'nope' in the configuration (devices: fw1, fw2)")


def test_the_controller_endpoint_knows_the_configured_devices(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate(url)
    engine = create_engine(url)
    view = StaticView(objects())
    try:
        def answer(query: str) -> int:
            return serve_report(query, None, engine=engine, cluster="c1",
                                compiled=lambda: compile_cluster(view, settings(("fw1",))), view=view,
                                configured=["fw1"], ready=True).status

        assert answer("format=json&device=fw1") == 200
        assert answer("format=json&device=nope") == 404
        assert answer("format=json&since=99999999999999d") == 400
    finally:
        engine.dispose()
