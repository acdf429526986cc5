"""A namespace changing its default action costs O(1) device writes on every family: its reference
moves from one default-action union to the other (docs/architecture.md, "The default tier"),
whatever the number of namespaces. Counted with `ApplyResult.writes` against the mocks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.f5 import AS3Adapter
from adapters.fortios import FortiOSAdapter
from adapters.fortios.config import FortiOSDevice
from adapters.rest import RestAdapter
from connector.cluster import StaticView
from connector.compiler import Compiler
from connector.config import Secrets
from connector.model import DeviceState
from mocks.bigip import BigIpApp
from mocks.common.http import HttpServer
from mocks.fortigate import FortigateMock
from mocks.rest import RestMock
from tests.adapters.f5.conftest import FAST, make_config
from tests.adapters.f5.conftest import sync as f5_sync
from tests.adapters.fortios.conftest import FAST_RETRY
from tests.adapters.fortios.conftest import TOKEN as FGT_TOKEN
from tests.adapters.fortios.conftest import sync as fortios_sync
from tests.adapters.rest.conftest import TOKEN as REST_TOKEN
from tests.adapters.rest.conftest import make_adapter as rest_adapter
from tests.adapters.rest.conftest import sync as rest_sync
from tests.connector.compiler import builders as b

ACTION = "fusion-connector.io/default-action"


def states(namespaces: int) -> Iterator[DeviceState]:
    """fw1's state for `namespaces` namespaces (two pods each; the first three with Allow), then
    after each of two more namespaces changed from Deny to Allow."""
    view = StaticView([b.namespace("fusion-system", managed=False)])
    for i in range(namespaces):
        annotations = {ACTION: "Allow" if i < 3 else "Deny"}
        view.put(b.namespace(f"ns-{i:03d}", annotations=annotations))
        for p in range(2):
            view.put(b.pod(f"ns-{i:03d}", f"p{p}", f"10.{i // 200}.{i % 200}.{p + 1}"))
    compiler = Compiler(b.settings(("fw1",)))
    yield compiler.full(view).devices["fw1"]
    for i in (3, 4):
        change = view.put(b.namespace(f"ns-{i:03d}", annotations={ACTION: "Allow"}))
        assert change is not None
        yield compiler.apply([change]).devices["fw1"]


def fortios_writes(states: Iterator[DeviceState]) -> list[int]:
    app = FortigateMock(token=FGT_TOKEN)
    with HttpServer(app) as server:
        config = FortiOSDevice.model_validate({"name": "fgt", "type": "fortios", "url": server.url,
                                               "auth": {"tokenEnv": "FGT_TOKEN"}})
        with FortiOSAdapter(config, "c1", Secrets({"FGT_TOKEN": FGT_TOKEN}), retry=FAST_RETRY) as adapter:
            results = [fortios_sync(adapter, state)[1] for state in states]
    assert all(r.ok for r in results)
    return [r.writes for r in results]


def f5_writes(states: Iterator[DeviceState]) -> list[int]:
    app = BigIpApp(processing_ms=0)
    secrets = Secrets({"BIGIP_PASSWORD": "admin"})
    with HttpServer(app) as server, AS3Adapter(make_config(server.url), "c1", secrets, retry=FAST,
                                               poll_interval=0.005) as adapter:
        return [f5_sync(adapter, state)[1].writes for state in states]


def rest_writes(states: Iterator[DeviceState]) -> list[int]:
    app = RestMock(token=REST_TOKEN)
    with HttpServer(app) as server, rest_adapter(server.url) as adapter:
        assert isinstance(adapter, RestAdapter)
        counts = []
        for state in states:
            before = adapter.writes
            rest_sync(adapter, state)
            counts.append(adapter.writes - before)
        return counts


@pytest.mark.parametrize("family", ["fortios", "f5", "rest"])
def test_a_default_action_change_costs_the_same_writes_at_any_number_of_namespaces(family: str) -> None:
    count: Any = {"fortios": fortios_writes, "f5": f5_writes, "rest": rest_writes}[family]
    small, large = count(states(10)), count(states(60))
    assert small[1:] == large[1:]  # whatever the number of namespaces
    assert all(1 <= writes <= 2 for writes in large[1:]), large
