"""AS3 tenant usage: address lists, AFM rules across rule lists, and the deploy request's size."""

from __future__ import annotations

import json
from collections.abc import Sequence

from adapters.f5 import AS3Adapter
from adapters.f5.capacity import table_usage
from adapters.f5.config import AS3Capacity, F5Device
from adapters.f5.declaration import adc, as3_request, tenant_declaration
from connector.config import Secrets
from connector.planner.capacity import Table, TableUsage
from connector.planner.types import DeviceObject
from tests.adapters.f5.conftest import CLUSTER
from tests.adapters.f5.scenarios import basic_state

MARK = "fusion-connector:c1"


def obj(kind: str, name: str, body: dict[str, object]) -> DeviceObject:
    return DeviceObject(kind, name, body, MARK)


def fixed_size(size: int) -> object:
    def body(objects: Sequence[DeviceObject]) -> bytes:
        return b"x" * size
    return body


def test_counts_address_lists_and_the_rules_of_every_rule_list() -> None:
    objects = [obj("tenant", "fc_c1", {"class": "Tenant"}),
               obj("address_list", "src", {"class": "Firewall_Address_List", "addresses": ["10.0.0.1"]}),
               obj("address_list", "dst", {"class": "Firewall_Address_List", "addresses": ["192.0.2.1"]}),
               obj("port_list", "p", {"class": "Firewall_Port_List", "ports": [443]}),
               obj("rule_list", "rules_admin", {"class": "Firewall_Rule_List", "rules": [{"name": "a"}]}),
               obj("rule_list", "rules_namespace", {"class": "Firewall_Rule_List",
                                                    "rules": [{"name": "b"}, {"name": "c"}]}),
               obj("policy", "egress_policy", {"class": "Firewall_Policy",
                                               "rules": [{"use": "rules_admin"}]})]
    limits = AS3Capacity(addressLists=1, rules=3, declarationBytes=100)
    assert table_usage(objects, limits, fixed_size(101)) == (  # type: ignore[arg-type]
        TableUsage(Table.ADDRESS_LISTS, 2, 1), TableUsage(Table.RULES, 3, 3),
        TableUsage(Table.DECLARATION_BYTES, 101, 100))


def test_no_limit_by_default_and_an_empty_tenant_has_no_declaration() -> None:
    only_tenant = [obj("tenant", "fc_c1", {"class": "Tenant"})]
    assert table_usage(only_tenant, AS3Capacity(), fixed_size(50)) == (  # type: ignore[arg-type]
        TableUsage(Table.ADDRESS_LISTS, 0), TableUsage(Table.RULES, 0),
        TableUsage(Table.DECLARATION_BYTES, 0))


def test_the_adapter_measures_the_request_it_would_post() -> None:
    config = F5Device.model_validate({"name": "bigip-dc1", "type": "f5-as3", "url": "https://127.0.0.1:1",
                                      "auth": {"username": "admin", "passwordEnv": "BIGIP_PASSWORD"},
                                      "capacity": {"rules": 2}})
    with AS3Adapter(config, CLUSTER, Secrets({"BIGIP_PASSWORD": "admin"})) as adapter:
        assert isinstance(adapter, AS3Adapter)
        desired = adapter.render(basic_state())
        report = adapter.capacity(desired)
        request = as3_request(adc(adapter.tenant, tenant_declaration(adapter.tenant, desired),
                                  adapter.schema_version))
        size = len(json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode())
        assert report.usage(Table.DECLARATION_BYTES) == TableUsage(Table.DECLARATION_BYTES, size, None)
        afm_rules = sum(len(o.body["rules"]) for o in desired if o.kind == "rule_list")
        assert afm_rules > 2
        assert report.usage(Table.RULES) == TableUsage(Table.RULES, afm_rules, 2)
        lists = sum(1 for o in desired if o.body.get("class") == "Firewall_Address_List")
        assert report.usage(Table.ADDRESS_LISTS) == TableUsage(Table.ADDRESS_LISTS, lists, None)
        assert [t.table for t in report.exceeded] == [Table.RULES]
