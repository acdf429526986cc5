"""Device holdings as text: each family's layout, order kept, foreign objects marked."""

from __future__ import annotations

from connector.demo.holdings import holdings_text, members, table
from connector.planner import DeviceObject

MARK = "fusion-connector:demo"


def test_members_truncates_and_table_aligns() -> None:
    assert members([]) == "-"
    assert members(range(6)) == "0, 1, 2, 3 (+2 more)"
    assert table([["a", "bbb"], ["cc", "d"]]) == ["  a   bbb", "  cc  d"]


def test_fortios_policies_in_device_order_with_the_foreign_one_marked() -> None:
    objects = [
        DeviceObject("address", "all", {"type": "ipmask", "subnet": "0.0.0.0/0"}, None),
        DeviceObject("address", "fc_ip", {"type": "iprange", "start-ip": "10.0.0.1", "end-ip": "10.0.0.3"},
                     MARK),
        DeviceObject("addrgrp", "fc_src", {"member": ["fc_ip"]}, MARK),
        DeviceObject("service", "fc_ports", {"tcp-portrange": "443 8000-8080", "udp-portrange": "53"}, MARK),
        DeviceObject("policy", "fc_allow", {"action": "accept", "srcaddr": ["fc_src"], "dstaddr": ["all"],
                                            "service": ["fc_ports"], "logtraffic": "all"}, MARK),
        DeviceObject("policy", "lan-to-internet", {"action": "accept", "srcaddr": ["all"], "dstaddr": ["all"],
                                                   "service": ["ALL"]}, None),
    ]
    text = "\n".join(holdings_text("fortios", objects, MARK))
    assert "range 10.0.0.1-10.0.0.3" in text
    assert "TCP 443 8000-8080; UDP 53" in text
    policy_lines = [line for line in text.splitlines() if "fc_allow" in line or "lan-to-internet" in line]
    assert policy_lines[0].split()[:2] == ["1", "fc_allow"]
    assert policy_lines[1].split()[:2] == ["2", "lan-to-internet"] and "not ours" in policy_lines[1]
    assert "not ours, left alone: address all" in text


def test_f5_rules_numbered_across_rule_lists_in_policy_order() -> None:
    rule = {"action": "reject", "protocol": "any", "remark": "ClusterEgressRule x",
            "source": {"addressLists": [{"use": "src_a"}]}}
    objects = [
        DeviceObject("rule_list", "rules_z", {"remark": "Baseline tier", "rules": [rule]}, MARK),
        DeviceObject("rule_list", "rules_a", {"remark": "Admin tier", "rules": [rule, rule]}, MARK),
        DeviceObject("policy", "egress_policy", {"rules": [{"use": "rules_a"}, {"use": "rules_z"}]}, MARK),
    ]
    lines = holdings_text("f5-as3", objects, MARK)
    assert "rule lists rules_a → rules_z" in lines[0]
    numbered = [line.split()[0] for line in lines if "src_a" in line]
    assert numbered == ["1", "2", "3"]
    assert lines.index("    rules_a (Admin tier)") < lines.index("    rules_z (Baseline tier)")


def test_rest_rules_and_unknown_families() -> None:
    objects = [DeviceObject("group", "g", {"members": ["10.0.0.1"]}, MARK),
               DeviceObject("rule", "r", {"action": "deny", "source": "g", "destination": None, "log": True,
                                          "description": "DefaultAction ns/default"}, MARK)]
    text = "\n".join(holdings_text("rest", objects, MARK))
    assert "10.0.0.1" in text and "DefaultAction ns/default" in text
    assert holdings_text("other", objects[:1], "someone-else")[-1].split() == ["group", "g", "not", "ours"]
    assert holdings_text("rest", [], MARK) == ["  (nothing)"]
