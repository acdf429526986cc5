"""Fenced device writes in the controller: a leader deposed in the middle of an apply sends no
further write, the sync is not a device failure, and what it wrote before is audited."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapters.base.http import RetryPolicy
from connector.config import Secrets
from connector.controller.controller import Controller
from connector.controller.worker import Job
from connector.model import DeviceState
from connector.reconciler.device import DeviceOutcome
from connector.store import create_engine
from connector.wiring import validate_config
from mocks.common.http import HttpServer, Request, Response
from mocks.fortigate import FortigateMock
from tests.adapters.fortios.scenarios import payments_state
from tests.connector.controller.test_capacity import sample

TOKEN = "fence-token"


class Elector:
    """Stands in for the LeaderElector: leads until `depose()`."""

    problem = None

    def __init__(self) -> None:
        self.is_leader = True

    def depose(self) -> None:
        self.is_leader = False


class DeposingFortigate(FortigateMock):
    """Calls `on_write` after handling each write (a standby takes the Lease meanwhile)."""

    on_write: Callable[[], None] | None = None

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        if request.method != "GET" and self.on_write is not None:
            self.on_write()
        return response


class Recorder:
    def __init__(self) -> None:
        self.submitted: list[DeviceOutcome] = []

    def submit(self, device: str, state: DeviceState, outcome: DeviceOutcome, **_: Any) -> bool:
        self.submitted.append(outcome)
        return True


@pytest.fixture
def fortigate() -> Iterator[tuple[DeposingFortigate, str]]:
    app = DeposingFortigate(token=TOKEN)
    server = HttpServer(app).start()
    yield app, server.url
    server.stop()


def make(url: str) -> tuple[Controller, Elector, Recorder]:
    config = validate_config({
        "cluster": "prod", "database": "sqlite:///:memory:",
        "safety": {"maxDeletePercent": 100, "maxUpdatePercent": 100, "minExisting": 0},
        "devices": [{"name": "fgt", "type": "fortios", "url": url, "auth": {"tokenEnv": "FGT_TOKEN"},
                     "srcintf": ["port2"], "dstintf": ["port1"]}]})
    controller = Controller(config, Secrets({"FGT_TOKEN": TOKEN}))
    elector = Elector()
    recorder = Recorder()
    controller._elector = elector  # type: ignore[assignment]
    controller.syncs.connect(create_engine(config.database), recorder,  # type: ignore[arg-type]
                             controller.fence.open_adapters(config, controller.secrets))
    adapter: Any = controller.syncs.adapters["fgt"]
    adapter.concurrency = 1  # one write at a time: the deposition lands between two writes
    adapter.http.retry = RetryPolicy(attempts=2, deadline=5, initial=0.001, maximum=0.01, jitter=0.001)
    return controller, elector, recorder


def writes(app: FortigateMock) -> list[dict[str, Any]]:
    return [r for r in app.requests() if r["method"] != "GET"]


def test_a_leader_deposed_mid_apply_sends_no_further_write(
        fortigate: tuple[DeposingFortigate, str]) -> None:
    app, url = fortigate
    controller, elector, recorder = make(url)
    try:
        app.on_write = elector.depose  # the first write lands, then a standby takes over
        assert controller.syncs.sync("fgt", Job(payments_state(), read=True)) is True  # not retried
        assert len(writes(app)) == 1
        text = controller.render_metrics().decode()
        assert sample(text, "fusion_connector_fenced_writes_total", device="fgt") == 1
        assert sample(text, "fusion_connector_device_errors_total", device="fgt") is None
        assert controller.device_reports()["fgt"].problem is None
        [audited] = recorder.submitted  # the write it made is in the audit log
        assert audited.result is not None and audited.result.writes == 1
        assert audited.error is not None and "not sent" in audited.error
    finally:
        controller.syncs.adapters["fgt"].close()


def test_a_process_that_leads_again_syncs_normally(fortigate: tuple[DeposingFortigate, str]) -> None:
    app, url = fortigate
    controller, elector, _ = make(url)
    try:
        assert controller.syncs.sync("fgt", Job(payments_state(), read=True)) is True
        assert len(writes(app)) > 1 and controller.device_reports()["fgt"].problem is None
        text = controller.render_metrics().decode()
        assert sample(text, "fusion_connector_fenced_writes_total", device="fgt") is None
        elector.depose()
        assert controller.fence.may_write("fgt") is False
    finally:
        controller.syncs.adapters["fgt"].close()


def test_the_thread_closing_the_adapters_may_still_release_device_sessions() -> None:
    config = validate_config({"cluster": "prod", "database": "sqlite:///:memory:", "devices": [
        {"name": "soc", "type": "rest", "url": "http://127.0.0.1:1"}]})
    controller = Controller(config, Secrets({}))
    elector = Elector()
    elector.depose()
    controller._elector = elector  # type: ignore[assignment]
    assert controller.fence.may_write("soc") is False
    controller.fence.close_from_this_thread()
    assert controller.fence.may_write("soc") is True
    other: list[bool] = []
    thread = threading.Thread(target=lambda: other.append(controller.fence.may_write("soc")))
    thread.start()
    thread.join()
    assert other == [False]  # an abandoned sync thread stays fenced
