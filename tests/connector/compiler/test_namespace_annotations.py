"""Bad namespace annotation values: each gives one warning line naming the namespace, the annotation
and the bad value; the bad value is skipped and the rest of the namespace keeps working. Scoped
addresses (`fe80::1%eth0`) never reach a device."""

from __future__ import annotations

from typing import Any

import pytest

from connector.compiler import Reason
from connector.compiler.values import ValueProblem, parse_address, parse_host_ip
from connector.model import RuleKind
from tests.connector.compiler.builders import (
    egress_ip,
    endpoint_slice,
    external_service,
    namespace,
    namespace_rule,
    node,
    pod,
    settings,
)
from tests.connector.compiler.helpers import compile_objects, reasons, verdict

P = "fusion-connector.io/"
WEB = "10.0.0.1"


def shop(annotations: dict[str, str], *extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        namespace("shop", annotations=annotations, labels={"env": "prod"}),
        pod("shop", "web-1", WEB, labels={"app": "web"}),
        *extra,
    ]


def warnings_of(annotations: dict[str, str], *extra: dict[str, Any]) -> tuple[str, ...]:
    return compile_objects(shop(annotations, *extra)).namespaces["shop"].warnings


def assert_names(line: str, annotation: str, value: str) -> None:
    assert line.startswith("namespace shop: "), line
    assert P + annotation in line and f'"{value}"' in line, line
    assert "\n" not in line


def test_unparsable_egress_allow_entry_is_named_and_the_others_kept() -> None:
    result = compile_objects(shop({P + "egress-allow": "10.20.0.0/16:5432, :::, api.example.com:443"}))
    (line,) = result.namespaces["shop"].warnings
    assert_names(line, "egress-allow", ":::")
    assert "ignored" in line
    allow = ("Annotation", "shop", "annotation", "Allow")
    assert verdict(result, "fw1", WEB, "10.20.1.1", 5432) == allow
    assert verdict(result, "fw1", WEB, "api.example.com", 443) == allow


@pytest.mark.parametrize(
    "entry", ["bad:port:x", "10.30.0.0/16:70000", "[2001:db8::1]443", "host_name:443", "10.0.0.1:443/ICMP"]
)
def test_every_kind_of_bad_egress_allow_entry_names_the_entry(entry: str) -> None:
    (line,) = warnings_of({P + "egress-allow": f"{entry}, 10.20.0.0/16"})
    assert_names(line, "egress-allow", entry)


def test_default_action_maybe() -> None:
    result = compile_objects(shop({P + "default-action": "maybe"}), settings(default_action="Deny"))
    (line,) = result.namespaces["shop"].warnings
    assert_names(line, "default-action", "maybe")
    assert "Deny, Allow, None" in line and "using Deny" in line
    assert result.namespaces["shop"].default_action == "Deny"
    assert verdict(result, "fw1", WEB, "9.9.9.9", 443) == ("DefaultAction", "shop", "default", "Deny")


def test_source_mode_typo() -> None:
    (line,) = warnings_of({P + "source-mode": "pods"})
    assert_names(line, "source-mode", "pods")
    assert "using pod" in line


def test_unknown_device_is_named_and_known_devices_kept() -> None:
    result = compile_objects(shop({P + "devices": "fw1, typo-device"}))
    (line,) = result.namespaces["shop"].warnings
    assert_names(line, "devices", "typo-device")
    assert result.namespaces["shop"].devices == ("fw1",)
    assert result.devices["fw1"].rules and not result.devices["fw2"].rules


def test_only_unknown_devices_says_the_policy_goes_nowhere() -> None:
    result = compile_objects(shop({P + "devices": "typo-device"}))
    (line,) = result.namespaces["shop"].warnings
    assert_names(line, "devices", "typo-device")
    assert "no device" in line
    assert not result.devices["fw1"].rules and not result.devices["fw2"].rules


@pytest.mark.parametrize(
    "bad",
    [
        "bogus",
        "fe80::1%eth0",
        "fe80::1",  # link-local: not an address a firewall sees as an SNAT source
        "169.254.0.5",
        "127.0.0.1",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "::ffff:198.18.0.9",
        "198.18.0.0/24",
    ],
)
def test_bad_egress_ips_are_named_and_skipped(bad: str) -> None:
    result = compile_objects(
        shop({P + "source-mode": "egress-ip", P + "egress-ips": f"198.18.0.1, {bad}"},
             namespace_rule("shop", "r", "Allow"))
    )
    (line,) = result.namespaces["shop"].warnings
    assert_names(line, "egress-ips", bad)
    assert result.devices["fw1"].groups["c1/shop"].addresses == ("198.18.0.1",)


def test_egress_ips_outside_egress_ip_mode_are_reported_as_unused() -> None:
    (line,) = warnings_of({P + "egress-ips": "198.18.0.1"})
    assert_names(line, "egress-ips", "198.18.0.1")
    assert "egress-ip" in line


def test_discovered_egress_ip_that_is_scoped_is_named_and_skipped() -> None:
    objects = shop(
        {P + "source-mode": "egress-ip"},
        egress_ip("eip-prod", {"matchLabels": {"env": "prod"}}, "198.18.1.1", "fe80::1%eth0"),
    )
    result = compile_objects(objects)
    (line,) = result.namespaces["shop"].warnings
    assert line.startswith("namespace shop: ") and "EgressIP eip-prod" in line and '"fe80::1%eth0"' in line
    assert result.devices["fw1"].groups["c1/shop"].addresses == ("198.18.1.1",)


@pytest.mark.parametrize("entry", ["fe80::1%eth0", "[fe80::1%eth0]:443", "fe80::1%eth0:443", "fe80::%1/64"])
def test_scoped_egress_allow_entries_never_reach_a_device(entry: str) -> None:
    result = compile_objects(shop({P + "egress-allow": f"{entry}, 10.20.0.0/16"}))
    (line,) = result.namespaces["shop"].warnings
    assert_names(line, "egress-allow", entry)
    assert "scoped" in line
    for state in result.devices.values():
        networks = [n for d in state.destinations.values() for n in d.networks]
        assert networks == ["10.20.0.0/16"]


def test_scoped_external_service_address_is_invalid_and_left_out() -> None:
    result = compile_objects(
        shop({}, external_service("shop", "ll", ["fe80::1%eth0", "2001:db8::/64"]),
             namespace_rule("shop", "r", "Allow", externalServices=["ll"]))
    )
    assert Reason.INVALID_ADDRESS in reasons(result, RuleKind.NAMESPACE, "shop", "r")
    for state in result.devices.values():
        assert all("%" not in n for d in state.destinations.values() for n in d.networks)


def test_scoped_addresses_from_the_cluster_are_dropped() -> None:
    objects = shop(
        {},
        pod("shop", "odd", "fe80::2%eth0"),
        endpoint_slice("shop", "web", ["fe80::3%eth0"]),
        node("node1", "fe80::4%eth0", "192.168.0.1"),
    )
    result = compile_objects(objects)
    for state in result.devices.values():
        assert all("%" not in a for g in state.groups.values() for a in g.addresses)


@pytest.mark.parametrize("text", ["fe80::1%eth0", "fe80::1%1", " fe80::1%eth0 "])
def test_value_parsers_refuse_scoped_addresses(text: str) -> None:
    with pytest.raises(ValueProblem, match="scoped"):
        parse_host_ip(text)
    with pytest.raises(ValueProblem, match="scoped"):
        parse_address(text)


def test_warning_values_are_quoted_on_one_line_and_bounded() -> None:
    (line,) = warnings_of({P + "default-action": "De\nny" + "x" * 500})
    assert "\n" not in line and "\\n" in line and len(line) < 400


def test_many_bad_entries_are_summarised() -> None:
    bad = ", ".join(f"bad{i}:x" for i in range(5000))
    warnings = warnings_of({P + "egress-allow": bad + ", 10.20.0.0/16"})
    assert len(warnings) <= 11
    assert "4990 more" in warnings[-1] and P + "egress-allow" in warnings[-1]


def test_egress_allow_notes_from_devices_name_the_namespace_and_annotation() -> None:
    result = compile_objects(
        shop({P + "egress-allow": "api.example.com:443"}), settings(("fw1", "fw2"), no_fqdn=("fw2",))
    )
    (line,) = result.namespaces["shop"].warnings
    assert line.startswith(f"namespace shop: annotation {P}egress-allow: ") and "fw2" in line
