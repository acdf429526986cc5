"""Fixtures: an in-process FortiGate mock and adapters bound to it, plus a `sync` helper."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from adapters.base.http import RetryPolicy
from adapters.fortios import FortiOSAdapter
from adapters.fortios.config import FortiOSDevice
from connector.adapter import ApplyResult
from connector.config import Secrets
from connector.model import DeviceState
from connector.planner import SafetyThresholds
from connector.planner.types import Plan
from mocks.common.http import HttpServer
from mocks.fortigate import FortigateMock

TOKEN = "test-token"
FAST_RETRY = RetryPolicy(attempts=8, deadline=20, initial=0.01, maximum=0.05, jitter=0.01)
NO_SAFETY = SafetyThresholds(max_delete_percent=100, max_update_percent=100, min_existing=0)


@dataclass
class Device:
    app: FortigateMock
    url: str

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"})

    def get(self, path: str, **params: Any) -> Any:
        with self.api() as client:
            response = client.get(path, params={"vdom": "root", **params})
            response.raise_for_status()
            return response.json()

    def table(self, table: str) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = self.get(f"/api/v2/cmdb/{table}")["results"]
        return results

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        with httpx.Client(base_url=self.url) as client:
            response = client.get("/_mock/requests", params={"since": since})
            entries: list[dict[str, Any]] = response.json()["requests"]
            return entries

    def last_seq(self) -> int:
        entries = self.requests()
        return int(entries[-1]["seq"]) if entries else 0

    def fault(self, spec: dict[str, Any]) -> None:
        with httpx.Client(base_url=self.url) as client:
            client.post("/_mock/faults", json=spec).raise_for_status()


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FortigateMock, str]]:
    app = FortigateMock(token=TOKEN)
    http = HttpServer(app).start()
    yield app, http.url
    http.stop()


@pytest.fixture
def device(server: tuple[FortigateMock, str]) -> Device:
    app, url = server
    app.reset()
    return Device(app, url)


AdapterFactory = Callable[..., FortiOSAdapter]


@pytest.fixture
def make_adapter(device: Device) -> Iterator[AdapterFactory]:
    made: list[FortiOSAdapter] = []

    def make(**overrides: Any) -> FortiOSAdapter:
        cluster = overrides.pop("cluster", "prod")
        config = {"name": "fgt", "type": "fortios", "url": device.url, "auth": {"tokenEnv": "FGT_TOKEN"},
                  "srcintf": ["port2"], "dstintf": ["port1"], **overrides}
        adapter = FortiOSAdapter(FortiOSDevice.model_validate(config), cluster,
                                 Secrets({"FGT_TOKEN": TOKEN}), retry=FAST_RETRY)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        adapter.close()


def sync(adapter: FortiOSAdapter, state: DeviceState) -> tuple[Plan, ApplyResult]:
    """One reconcile pass: read, render, plan, apply (safety off: tests exercise the adapter).
    Reading first lets `render` reuse the address pieces already on the device."""
    actual = adapter.read()
    desired = adapter.render(state)
    the_plan = adapter.plan(desired, actual, safety=NO_SAFETY)
    return the_plan, adapter.apply(the_plan, desired)
