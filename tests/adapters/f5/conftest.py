"""Fixtures: an in-process AS3 mock, adapters with fast retries, a plan-and-apply helper."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.base.http import RetryPolicy
from adapters.f5 import AS3Adapter
from adapters.f5.config import F5Device
from connector.adapter import ApplyResult
from connector.config import Secrets
from connector.model import DeviceState
from connector.planner.planner import plan
from connector.planner.types import Plan
from mocks.bigip import BigIpApp
from mocks.common.http import HttpServer

CLUSTER = "c1"
FAST = RetryPolicy(attempts=8, deadline=20.0, initial=0.01, maximum=0.05, jitter=0.01)


class Device:
    """The mock BIG-IP seen through its own HTTP API."""

    def __init__(self, app: BigIpApp, url: str) -> None:
        self.app = app
        self.url = url
        self.http = httpx.Client(base_url=url, auth=("admin", "admin"), timeout=10)

    def tenant(self, name: str) -> dict[str, Any] | None:
        response = self.http.get(f"/mgmt/shared/appsvcs/declare/{name}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()[name]  # type: ignore[no-any-return]

    def requests(self) -> list[dict[str, Any]]:
        return self.http.get("/_mock/requests").json()["requests"]  # type: ignore[no-any-return]

    def declaration_posts(self) -> list[dict[str, Any]]:
        return [r for r in self.requests()
                if r["method"] == "POST" and r["path"].startswith("/mgmt/shared/appsvcs/declare")]

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["method"] in ("POST", "DELETE", "PATCH", "PUT")
                and r["path"].startswith("/mgmt/shared/appsvcs")]

    def clear_log(self) -> None:
        self.http.delete("/_mock/requests")

    def fault(self, **spec: Any) -> None:
        self.http.post("/_mock/faults", json=spec).raise_for_status()


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[BigIpApp, HttpServer]]:
    app = BigIpApp(processing_ms=0)
    srv = HttpServer(app).start()
    yield app, srv
    srv.stop()


@pytest.fixture
def device(server: tuple[BigIpApp, HttpServer]) -> Iterator[Device]:
    app, srv = server
    app.reset()
    app.processing_ms = 0
    app.tokens.lifetime = 1200.0
    dev = Device(app, srv.url)
    yield dev
    dev.http.close()


def make_config(url: str, **attach: Any) -> F5Device:
    data: dict[str, Any] = {"name": "bigip-dc1", "type": "f5-as3", "url": url,
                            "auth": {"username": "admin", "passwordEnv": "BIGIP_PASSWORD"}}
    if attach:
        data["attach"] = attach
    return F5Device.model_validate(data)


@pytest.fixture
def adapter(device: Device) -> Iterator[AS3Adapter]:
    with AS3Adapter(make_config(device.url), CLUSTER, Secrets({"BIGIP_PASSWORD": "admin"}),
                    retry=FAST, poll_interval=0.005) as a:
        yield a  # type: ignore[misc]


def sync(adapter: AS3Adapter, state: DeviceState) -> tuple[Plan, ApplyResult]:
    """One reconcile pass: render, read, plan (forced), apply; raises the apply's error."""
    desired = adapter.render(state)
    actual = adapter.read()
    p = plan(adapter.name, adapter.cluster, desired, actual, owner_mark=adapter.owner_mark,
             kind_order=adapter.kind_order, ordered_kinds=adapter.ordered_kinds, force=True)
    result = adapter.apply(p, desired)
    if result.error is not None:
        raise result.error
    return p, result
