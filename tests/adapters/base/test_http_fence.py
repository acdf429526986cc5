"""The write fence of the HTTP kit: a write the fence refuses is never sent (each retry asks
again), reads are not fenced, and every adapter family sends its writes through the kit, so a
fenced-off process writes nothing to any device."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from adapters.base.http import DeviceHttp, RetryPolicy, WriteFenced
from adapters.families import create_adapter
from connector.adapter import DeviceError, write_fence
from connector.config import Config, Secrets
from connector.planner import SafetyThresholds
from connector.wiring import validate_config
from mocks.bigip import BigIpApp
from mocks.common.app import MockApp
from mocks.common.http import HttpServer
from mocks.fortigate import FortigateMock
from mocks.rest import RestMock
from tests.adapters.base.test_http_kit import FAST, make
from tests.adapters.fortios.scenarios import payments_state

TOKEN = "fence-token"
NO_SAFETY = SafetyThresholds(max_delete_percent=100, max_update_percent=100, min_existing=0)


class Gate:
    """A fence that lets `allow` more writes through (None: every write), then refuses."""

    def __init__(self, allow: int | None = None) -> None:
        self.allow = allow
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        if self.allow is None:
            return True
        if self.allow > 0:
            self.allow -= 1
            return True
        return False


def test_a_refused_write_is_not_sent_and_reads_are_not_fenced() -> None:
    gate = Gate(allow=0)
    http, seen = make([200], fence=gate)
    assert http.request("GET", "/x").status_code == 200
    with pytest.raises(WriteFenced) as caught:
        http.request("POST", "/x", json={})
    assert isinstance(caught.value, DeviceError) and caught.value.device == "dev1"
    assert "not sent" in str(caught.value) and "leader" in str(caught.value)
    assert [r.method for r in seen] == ["GET"] and http.writes == 0 and gate.asked == 1


def test_every_retry_of_a_write_asks_the_fence_again() -> None:
    gate = Gate(allow=1)
    http, seen = make([503, 200], fence=gate)
    with pytest.raises(WriteFenced):
        http.request("PUT", "/x", json={})
    assert len(seen) == 1 and http.writes == 1


def test_clients_created_inside_write_fence_take_its_fence() -> None:
    gate = Gate(allow=0)
    with write_fence(gate):
        fenced = DeviceHttp("dev1", "http://device", retry=FAST)
    outside = DeviceHttp("dev1", "http://device", retry=FAST)
    assert fenced.fence is gate and outside.fence is None
    fenced.close()
    outside.close()


def device_configs(urls: dict[str, str]) -> Config:
    return validate_config({"cluster": "prod", "database": "sqlite:///:memory:", "devices": [
        {"name": "bigip", "type": "f5-as3", "url": urls["bigip"], "tenant": "fc_prod",
         "auth": {"username": "admin", "passwordEnv": "BIGIP_PASSWORD"}},
        {"name": "fgt", "type": "fortios", "url": urls["fgt"], "auth": {"tokenEnv": "FGT_TOKEN"},
         "srcintf": ["port2"], "dstintf": ["port1"]},
        {"name": "soc", "type": "rest", "url": urls["soc"], "auth": {"tokenEnv": "SOC_TOKEN"}},
    ]})


SECRETS = Secrets({"BIGIP_PASSWORD": "admin", "FGT_TOKEN": TOKEN, "SOC_TOKEN": TOKEN})


@pytest.fixture(scope="module")
def devices() -> Iterator[dict[str, tuple[MockApp, str]]]:
    apps: dict[str, MockApp] = {"bigip": BigIpApp(processing_ms=0), "fgt": FortigateMock(token=TOKEN),
                                "soc": RestMock(token=TOKEN)}
    servers = {name: HttpServer(app).start() for name, app in apps.items()}
    yield {name: (apps[name], servers[name].url) for name in apps}
    for server in servers.values():
        server.stop()


def writes(app: MockApp) -> list[dict[str, Any]]:
    return [r for r in app.requests() if r["method"] != "GET"]


# BIG-IP (one AS3 declaration) and REST (one change set) apply in one write; FortiOS in many
@pytest.mark.parametrize(("name", "allow"), [("bigip", 0), ("soc", 0), ("fgt", 0), ("fgt", 2)])
def test_every_adapter_family_sends_its_writes_through_the_fence(
        devices: dict[str, tuple[MockApp, str]], name: str, allow: int) -> None:
    app, _ = devices[name]
    app.reset()
    config = device_configs({n: url for n, (_, url) in devices.items()})
    leading: list[Callable[[], bool]] = [lambda: True]
    with write_fence(lambda: leading[0]()):
        adapter = create_adapter(config.device(name), config.cluster, SECRETS)
    adapter_http: Any = getattr(adapter, "http", None) or adapter.client.http  # type: ignore[attr-defined]
    adapter_http.retry = RetryPolicy(attempts=2, deadline=5, initial=0.001, maximum=0.01, jitter=0.001)
    try:
        actual = adapter.read()  # logs in (BIG-IP) while still leading
        desired = adapter.render(payments_state())
        plan = adapter.plan(desired, actual, safety=NO_SAFETY)
        assert len(plan.changes) > 1
        before = len(writes(app))
        gate = Gate(allow=allow)
        leading[0] = gate  # deposed: `allow` more writes may pass, then none
        result = adapter.apply(plan, desired)
        sent = writes(app)[before:]
        assert len(sent) == allow, sent
        assert result.error is not None
        assert gate.asked > allow  # the refused writes asked too (FortiOS writes concurrently)
        assert isinstance(result.error, WriteFenced), type(result.error)
    finally:
        leading[0] = lambda: True
        adapter.close()


def test_a_refused_write_is_a_device_error_not_an_http_error() -> None:
    http, _ = make([200], fence=Gate(allow=0))
    with pytest.raises(DeviceError):
        http.request("DELETE", "/x")
    with pytest.raises(WriteFenced):
        http.request("PATCH", "/x")
    assert not issubclass(WriteFenced, httpx.HTTPError)
