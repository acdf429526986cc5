"""REST receiver usage: groups and rules, limits configured or announced by the receiver's `GET /`."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.rest import RestAdapter
from adapters.rest.capacity import announced_limits, table_usage
from adapters.rest.config import RestCapacity, RestDevice
from connector.config import Secrets
from connector.planner.capacity import Table, TableUsage
from connector.planner.types import DeviceObject
from mocks.common.http import HttpServer
from mocks.rest import RestMock
from tests.adapters.rest.conftest import FAST_RETRY, TOKEN
from tests.adapters.rest.scenarios import payments_state

OBJECTS = [DeviceObject("group", "g1", {}), DeviceObject("group", "g2", {}, "someone-else"),
           DeviceObject("address", "a1", {}), DeviceObject("service", "s1", {}),
           DeviceObject("rule", "r1", {}), DeviceObject("rule", "r2", {}), DeviceObject("rule", "r3", {})]


@pytest.mark.parametrize(("info", "expected"), [
    ({"limits": {"groups": 10, "rules": None}}, {Table.GROUPS: 10, Table.RULES: None}),
    ({"capabilities": {"limits": {"groups": 5, "rules": 7}}}, {Table.GROUPS: 5, Table.RULES: 7}),
    ({"limits": {"groups": True, "rules": 0}}, {Table.GROUPS: None, Table.RULES: None}),
    ({"limits": {"rules": "12"}}, {Table.GROUPS: None, Table.RULES: None}),
    ({"capabilities": {"maxObjects": 100}}, {}),
    ({}, {}),
])
def test_announced_limits(info: dict[str, Any], expected: dict[Table, int | None]) -> None:
    assert announced_limits(info) == expected


def test_a_configured_limit_wins_over_the_announced_one() -> None:
    asked: list[int] = []

    def info() -> dict[str, Any]:
        asked.append(1)
        return {"limits": {"groups": 1, "rules": 2}}

    assert table_usage(OBJECTS, RestCapacity(groups=100), info) == (
        TableUsage(Table.GROUPS, 2, 100), TableUsage(Table.RULES, 3, 2))
    assert asked == [1]
    assert table_usage(OBJECTS, RestCapacity(groups=100, rules=200), info) == (
        TableUsage(Table.GROUPS, 2, 100), TableUsage(Table.RULES, 3, 200))
    assert asked == [1]  # both configured: the receiver is not asked
    assert table_usage(OBJECTS, RestCapacity(), lambda: {}) == (
        TableUsage(Table.GROUPS, 2, None), TableUsage(Table.RULES, 3, None))


def adapter_for(url: str, **capacity: int) -> RestAdapter:
    config = RestDevice.model_validate({"name": "soc", "type": "rest", "url": url,
                                        "auth": {"tokenEnv": "REST_TOKEN"}, "capacity": capacity})
    return RestAdapter(config, "c1", Secrets({"REST_TOKEN": TOKEN}), retry=FAST_RETRY)


def test_the_adapter_takes_unset_limits_from_the_receiver() -> None:
    with HttpServer(RestMock(token=TOKEN, limits={"groups": 1, "rules": None})) as server, \
            adapter_for(server.url, rules=2) as adapter:
        desired = adapter.render(payments_state())
        report = adapter.capacity(desired)
        kinds = [o.kind for o in desired]
        assert report.tables == (TableUsage(Table.GROUPS, kinds.count("group"), 1),
                                 TableUsage(Table.RULES, kinds.count("rule"), 2))
        assert {t.table for t in report.exceeded} == {Table.GROUPS, Table.RULES}
