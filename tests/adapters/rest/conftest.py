"""A REST receiver mock served in-process and adapters pointed at it (tiny retry waits)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.base.http import RetryPolicy
from adapters.rest import RestAdapter
from adapters.rest.config import RestDevice
from connector.config import Secrets
from connector.model import DeviceState
from connector.planner import Plan, SafetyThresholds
from mocks.common.http import HttpServer
from mocks.rest import RestMock
from mocks.rest.app import MEDIA_TYPE

FAST_RETRY = RetryPolicy(attempts=8, deadline=20.0, initial=0.01, maximum=0.05, jitter=0.01)
TOKEN = "test-token"
HMAC_SECRET = "test-hmac-secret"
PERMISSIVE = SafetyThresholds(max_delete_percent=100, max_update_percent=100, min_existing=0)


class Receiver:
    """The mock and helpers to look at it through its own HTTP API."""

    def __init__(self, app: RestMock, server: HttpServer) -> None:
        self.app = app
        self.server = server
        self.url = server.url
        headers = {"Authorization": f"Bearer {app.token}", "Accept": MEDIA_TYPE}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def state(self) -> dict[str, Any]:
        """`GET /state` through the protocol (unsigned receivers only) or `/_mock/state`."""
        if self.app.hmac_secret is None:
            response = self.client.get("/state")
        else:
            response = self.client.get("/_mock/state")
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    def requests(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.client.get("/_mock/requests").json()["requests"]
        return [e for e in entries if not e["path"].startswith("/_mock/")]

    def writes(self) -> list[dict[str, Any]]:
        return [e for e in self.requests() if e["method"] != "GET"]

    def clear_log(self) -> None:
        self.client.delete("/_mock/requests").raise_for_status()

    def fault(self, **spec: Any) -> None:
        self.client.post("/_mock/faults", json=spec).raise_for_status()

    def seed(self, **collections: list[dict[str, Any]]) -> None:
        response = self.client.post("/_mock/seed", json=collections)
        assert response.status_code == 200, response.text

    def hand_delete(self, kind: str, name: str) -> None:
        response = self.client.post("/_mock/delete", json={"kind": kind, "name": name})
        assert response.status_code == 200, response.text


def make_adapter(url: str, *, hmac_secret: str | None = None, cluster: str = "c1",
                 retry: RetryPolicy = FAST_RETRY,
                 transport: httpx.BaseTransport | None = None) -> RestAdapter:
    auth: dict[str, str] = {"tokenEnv": "REST_TOKEN"}
    env = {"REST_TOKEN": TOKEN}
    if hmac_secret is not None:
        auth["hmacSecretEnv"] = "REST_HMAC"
        env["REST_HMAC"] = hmac_secret
    config = RestDevice.model_validate({"name": "soc", "type": "rest", "url": url, "auth": auth,
                                        "timeout": 5})
    return RestAdapter(config, cluster, Secrets(env), transport, retry=retry)


def offline_adapter(**capabilities: bool) -> RestAdapter:
    """An adapter whose receiver answers only `GET /` (with `capabilities`), for render tests."""
    info = {"protocol": "fusion-connector.v1",
            "capabilities": {"fqdn": True, "ipv6": True, "logging": True, "maxObjects": 100_000,
                             "maxChangesPerSet": 10_000, **capabilities}}

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/", f"an offline render asked {request.url.path}"
        return httpx.Response(200, json=info)

    return make_adapter("https://receiver.example", transport=httpx.MockTransport(answer))


def sync(adapter: RestAdapter, state: DeviceState, *, force: bool = False) -> Plan:
    """Render, read, plan (permissive safety) and apply once; returns the plan applied, raises the
    apply's error."""
    desired = adapter.render(state)
    plan = adapter.plan(desired, adapter.read(), safety=PERMISSIVE, force=force)
    result = adapter.apply(plan, desired)
    if result.error is not None:
        raise result.error
    return plan


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    app = RestMock(token=TOKEN)
    with HttpServer(app) as server:
        yield Receiver(app, server)


@pytest.fixture
def signed_receiver() -> Iterator[Receiver]:
    app = RestMock(token=TOKEN, hmac_secret=HMAC_SECRET)
    with HttpServer(app) as server:
        yield Receiver(app, server)


@pytest.fixture
def adapter(receiver: Receiver) -> Iterator[RestAdapter]:
    with make_adapter(receiver.url) as made:
        assert isinstance(made, RestAdapter)
        yield made


