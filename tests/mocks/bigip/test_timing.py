"""The AS3 processing-time model: what a tenant's size counts and how the time grows with it."""

from __future__ import annotations

from typing import Any

import pytest

from mocks.bigip import timing
from mocks.bigip.timing import TenantSize, declaration_seconds, tenant_seconds, tenant_size


def firewall_tenant(lists: int, addresses_per_list: int, rules: int) -> dict[str, Any]:
    shared: dict[str, Any] = {"class": "Application", "template": "shared"}
    for i in range(lists):
        addresses = [f"10.{i // 256}.{i % 256}.{j % 250}" for j in range(addresses_per_list)]
        shared[f"src{i}"] = {"class": "Firewall_Address_List", "addresses": addresses}
    shared["dst"] = {"class": "Firewall_Address_List", "addresses": ["192.0.2.1"], "fqdns": ["a.example.com"]}
    shared["ports"] = {"class": "Firewall_Port_List", "ports": [443]}
    source = {"addressLists": [{"use": "src0"}]}
    shared["rl"] = {"class": "Firewall_Rule_List",
                    "rules": [{"name": f"r{i}", "action": "accept", "source": source} for i in range(rules)]}
    shared["policy"] = {"class": "Firewall_Policy", "rules": [{"use": "rl"}]}
    return {"class": "Tenant", "label": "fusion-connector:c1", "Shared": shared}


def test_size_counts_objects_rules_address_entries_and_bytes() -> None:
    size = tenant_size(firewall_tenant(lists=3, addresses_per_list=4, rules=5))
    assert size.objects == 3 + 1 + 1 + 1 + 5 + 1  # src lists, dst, ports, rule list + its rules, policy
    assert size.addresses == 3 * 4 + 2
    assert 500 < size.size_bytes < 2000
    assert tenant_size(None) == tenant_size({}) == TenantSize()
    assert tenant_size({"class": "Tenant", "label": "x"}).objects == 0


def test_larger_takes_each_dimension_separately() -> None:
    assert TenantSize(5, 1, 10).larger(TenantSize(2, 7, 3)) == TenantSize(5, 7, 10)


def test_time_is_a_base_plus_linear_costs() -> None:
    assert declaration_seconds([]) == timing.PER_DECLARATION
    assert tenant_seconds(TenantSize()) == timing.PER_TENANT
    size = TenantSize(objects=100, addresses=1000, size_bytes=2_000_000)
    expected = (timing.PER_TENANT + 100 * timing.PER_OBJECT + 1000 * timing.PER_ADDRESS
                + 2 * timing.PER_MEGABYTE)
    assert tenant_seconds(size) == pytest.approx(expected)
    assert declaration_seconds([size, TenantSize()]) == pytest.approx(
        timing.PER_DECLARATION + expected + timing.PER_TENANT)


def test_time_grows_with_every_dimension() -> None:
    base = TenantSize(10, 10, 1000)
    for bigger in (TenantSize(11, 10, 1000), TenantSize(10, 11, 1000), TenantSize(10, 10, 2000)):
        assert tenant_seconds(bigger) > tenant_seconds(base)


def test_calibration_points() -> None:
    """The published figures the constants were fitted to (docs/device-notes.md)."""
    hundred_pools = TenantSize(objects=100, addresses=0, size_bytes=20_000)  # f5-appsvcs-extension#328
    assert 1.5 <= tenant_seconds(hundred_pools) <= 2.5
    small = tenant_size(firewall_tenant(lists=5, addresses_per_list=10, rules=10))
    assert declaration_seconds([small]) < 3
    # a cluster-sized tenant: 2,000 source groups holding 20,000 pod addresses, 2,000 rules
    large = tenant_size(firewall_tenant(lists=2000, addresses_per_list=10, rules=2000))
    assert large.addresses > 20_000
    assert 90 < declaration_seconds([large]) < 180, "beyond the 45 s async swap, within CIS's 180 s"
