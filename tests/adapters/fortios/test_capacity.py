"""FortiOS table usage: entries per VDOM table and the largest group, against the configuration."""

from __future__ import annotations

import dataclasses

from adapters.fortios import render as r
from adapters.fortios.capacity import table_usage
from adapters.fortios.config import FortiOSCapacity
from connector.planner.capacity import Table, TableUsage
from connector.planner.types import DeviceObject
from tests.adapters.fortios.conftest import AdapterFactory
from tests.adapters.fortios.scenarios import group, payments_state

MARK = "fusion-connector:prod"


def obj(kind: str, name: str, **body: object) -> DeviceObject:
    return DeviceObject(kind, name, body, MARK)


def test_counts_each_table_and_the_largest_group() -> None:
    objects = [obj(r.ADDRESS, "a1"), obj(r.ADDRESS, "a2"), obj(r.ADDRESS, "all"),
               obj(r.ADDRGRP, "g1", member=["a1", "a2"]), obj(r.ADDRGRP, "g2", member=["a1", "a2", "all"]),
               obj(r.SERVICE, "s1"), obj(r.POLICY, "p1"), obj(r.POLICY, "p2"), obj(r.POLICY, "p3"),
               obj("other", "x")]
    limits = FortiOSCapacity(addresses=3, addressGroups=1, groupMembers=600, services=10, policies=2)
    assert table_usage(objects, limits) == (
        TableUsage(Table.ADDRESSES, 3, 3), TableUsage(Table.ADDRESS_GROUPS, 2, 1),
        TableUsage(Table.GROUP_MEMBERS, 3, 600), TableUsage(Table.SERVICES, 1, 10),
        TableUsage(Table.POLICIES, 3, 2))


def test_defaults_are_a_mid_range_vdom_and_nothing_counts_zero() -> None:
    assert [(t.count, t.limit) for t in table_usage([], FortiOSCapacity())] == [
        (0, 20000), (0, 2500), (0, 0 + 600), (0, 4096), (0, 10000)]


def test_the_adapter_counts_its_rendered_objects_with_its_configured_limits(
        make_adapter: AdapterFactory) -> None:
    adapter = make_adapter(capacity={"policies": 3})
    desired = adapter.render(payments_state())
    report = adapter.capacity(desired)
    kinds = [o.kind for o in desired]
    assert report.device == "fgt"
    assert report.usage(Table.POLICIES) == TableUsage(Table.POLICIES, kinds.count(r.POLICY), 3)
    # IPv6 addresses count against `addresses` with the IPv4 ones (and addrgrp6 against addressGroups)
    assert kinds.count(r.ADDRESS6) > 0
    assert report.usage(Table.ADDRESSES) == TableUsage(
        Table.ADDRESSES, kinds.count(r.ADDRESS) + kinds.count(r.ADDRESS6), 20000)
    assert report.usage(Table.ADDRESS_GROUPS) == TableUsage(
        Table.ADDRESS_GROUPS, kinds.count(r.ADDRGRP) + kinds.count(r.ADDRGRP6), 2500)
    assert report.usage(Table.SERVICES) == TableUsage(Table.SERVICES, kinds.count(r.SERVICE), 4096)
    assert [t.table for t in report.exceeded] == [Table.POLICIES]


def test_a_group_split_for_size_keeps_the_largest_group_within_600(make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    big = [f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}" for i in range(0, 2 * 1500, 2)]  # no ranges
    base = payments_state()
    groups = {**base.groups, "svc/payments/api": group("svc/payments/api", "payments", big, "api")}
    state = dataclasses.replace(base, groups=groups)
    report = adapter.capacity(adapter.render(state))
    members = report.usage(Table.GROUP_MEMBERS)
    assert members is not None and 1 < members.count <= 600 and not report.exceeded
