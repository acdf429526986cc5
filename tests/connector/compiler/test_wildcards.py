"""Wildcard domain names (`*.example.com`) in ExternalServices and `egress-allow`: what is accepted,
what they match (one or more labels before the domain, never the domain itself), and how a device
that cannot enforce them is reported (`WildcardFQDNUnsupported`, naming the device)."""

from __future__ import annotations

from typing import Any

import pytest

from connector.compiler import Reason
from connector.compiler.values import ValueProblem, is_wildcard, parse_address
from connector.model import RuleKind
from tests.connector.compiler.builders import (
    endpoint_slice,
    external_service,
    namespace,
    namespace_rule,
    pod,
    service,
    settings,
)
from tests.connector.compiler.helpers import compile_objects, status, verdict

WEB = "10.0.0.1"


@pytest.mark.parametrize(("text", "fqdn"), [
    ("*.example.com", "*.example.com"),
    ("*.API.Example.com.", "*.api.example.com"),
    ("*.a-1.example.co.uk", "*.a-1.example.co.uk"),
])
def test_a_leading_wildcard_label_before_a_domain_is_accepted(text: str, fqdn: str) -> None:
    parsed = parse_address(text)
    assert parsed.fqdn == fqdn and not parsed.network and is_wildcard(parsed.fqdn)


@pytest.mark.parametrize("text", ["*", "*.", "*.com", "**.example.com", "a*.example.com", "api.*.example.com",
                                  "*example.com", "example.*", "*.*.example.com", "*.-a.example.com"])
def test_other_wildcards_are_refused_saying_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueProblem, match=r"only a leading '\*\.' before a domain of at least two labels"):
        parse_address(text)


def test_a_plain_name_is_not_a_wildcard() -> None:
    assert not is_wildcard(parse_address("api.example.com").fqdn)


def objects(*extra: dict[str, Any], annotations: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return [
        namespace("shop", annotations=annotations),
        pod("shop", "web-1", WEB, labels={"app": "web"}),
        service("shop", "web"),
        endpoint_slice("shop", "web", [WEB]),
        external_service("shop", "cdn", ["*.cdn.example.com", "static.example.org", "192.0.2.0/24"],
                         [{"port": "443"}]),
        external_service("shop", "only-wild", ["*.example.net"]),
        namespace_rule("shop", "cdn", "Allow", externalServices=["cdn"], priority=100),
        namespace_rule("shop", "wild", "Deny", externalServices=["only-wild"], priority=200),
        *extra,
    ]


def decided_by(result: Any, device: str, name: str, port: int = 443) -> str:
    found = verdict(result, device, WEB, name, port)
    assert found is not None
    return found[2]


@pytest.mark.parametrize(("name", "rule"), [
    ("api.cdn.example.com", "cdn"),
    ("a.b.c.cdn.example.com", "cdn"),
    ("API.CDN.example.com.", "cdn"),
    ("cdn.example.com", "default"),  # the domain itself is not covered
    ("xcdn.example.com", "default"),  # nor a name that merely ends with its text
    ("static.example.org", "cdn"),
    ("www.example.net", "wild"),
    ("example.net", "default"),
])
def test_a_wildcard_matches_one_or_more_labels_before_its_domain(name: str, rule: str) -> None:
    result = compile_objects(objects())
    assert decided_by(result, "fw1", name) == rule


def test_a_device_without_wildcards_reports_them_and_keeps_the_rest() -> None:
    result = compile_objects(objects(), settings(no_wildcard=("fw2",)))
    cdn_key = "c1/shop/cdn"
    assert result.devices["fw1"].destinations[cdn_key].fqdns == ("*.cdn.example.com", "static.example.org")
    assert result.devices["fw2"].destinations[cdn_key].fqdns == ("static.example.org",)
    assert result.devices["fw2"].destinations[cdn_key].networks == ("192.0.2.0/24",)
    assert decided_by(result, "fw2", "api.cdn.example.com") == "default"
    assert decided_by(result, "fw2", "static.example.org") == "cdn"
    cdn = status(result, RuleKind.NAMESPACE, "shop", "cdn")
    assert cdn.accepted and cdn.reason == Reason.WILDCARD_FQDN_UNSUPPORTED
    [problem] = [p for p in cdn.problems if p.reason == Reason.WILDCARD_FQDN_UNSUPPORTED]
    assert problem.device == "fw2" and not problem.blocking
    assert problem.message == ("NamespaceEgressRule shop/cdn: device fw2 cannot enforce wildcard FQDNs;"
                               " ExternalService shop/cdn is compiled there without *.cdn.example.com")
    # an ExternalService of wildcards only leaves the rule off that device, said on its status
    wild = {d.device: d for d in status(result, RuleKind.NAMESPACE, "shop", "wild").devices}
    assert wild["fw1"].present and not wild["fw2"].present
    assert wild["fw2"].message == "no destination this device can enforce"


def test_a_device_without_fqdns_reports_fqdns_not_wildcards() -> None:
    result = compile_objects(objects(), settings(no_fqdn=("fw2",)))
    cdn = status(result, RuleKind.NAMESPACE, "shop", "cdn")
    reasons = {(p.reason, p.device) for p in cdn.problems}
    assert reasons == {(Reason.FQDN_UNSUPPORTED, "fw2")}
    assert result.devices["fw2"].destinations["c1/shop/cdn"].fqdns == ()


def test_egress_allow_wildcards_are_compiled_and_reported_alike() -> None:
    annotations = {"fusion-connector.io/egress-allow": "*.pypi.org:443/TCP, files.pythonhosted.org:443/TCP"}
    result = compile_objects(objects(annotations=annotations), settings(no_wildcard=("fw2",)))
    assert decided_by(result, "fw1", "upload.pypi.org") == "annotation"
    assert decided_by(result, "fw1", "pypi.org") == "default"
    assert decided_by(result, "fw2", "upload.pypi.org") == "default"
    assert decided_by(result, "fw2", "files.pythonhosted.org") == "annotation"
    warnings = result.namespaces["shop"].warnings  # the annotation's findings: namespace warnings
    assert any("device fw2 cannot enforce wildcard FQDNs" in w and "*.pypi.org" in w for w in warnings)
    assert not any("files.pythonhosted.org" in w for w in warnings)
