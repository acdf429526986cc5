"""Wildcard FQDN addresses on the FortiGate mock (FortiOS 6.2.2 and later: `type fqdn` with
`fqdn "*.example.com"`): stored and read back as written, and in a policy they match a destination
resolved from a name the pattern covers (one or more labels before the domain, never the domain)."""

from __future__ import annotations

import pytest

from tests.mocks.fortigate.test_traffic import CMDB, Device, device, policy

__all__ = ["device"]  # the fixture, used by name


@pytest.fixture
def wildcard(device: Device) -> Device:
    device.make("firewall/address", {"name": "pods", "subnet": "10.244.1.0/24"})
    device.make("firewall/address", {"name": "cdn", "type": "fqdn", "fqdn": "*.cdn.example.com",
                                     "comment": "fusion-connector:c1"})
    device.make("firewall/policy", policy("cdn-out", ["pods"], ["cdn"], ["HTTPS"]))
    return device


def test_a_wildcard_fqdn_address_is_stored_and_read_back(wildcard: Device) -> None:
    response = wildcard.api.get(f"{CMDB}/firewall/address/cdn")
    assert response.status_code == 200
    [entry] = response.json()["results"]
    assert (entry["type"], entry["fqdn"]) == ("fqdn", "*.cdn.example.com")
    assert entry["comment"] == "fusion-connector:c1"


@pytest.mark.parametrize(("name", "action"), [
    ("img.cdn.example.com", "accept"),
    ("a.b.cdn.example.com", "accept"),
    ("IMG.CDN.Example.com.", "accept"),
    ("cdn.example.com", "deny"),
    ("xcdn.example.com", "deny"),
    ("img.cdn.example.org", "deny"),
])
def test_a_wildcard_fqdn_address_matches_the_names_it_covers(wildcard: Device, name: str,
                                                             action: str) -> None:
    assert wildcard.decided("10.244.1.5", "192.0.2.50", 443, dstName=name)[0] == action
    assert wildcard.decided("10.244.1.5", "192.0.2.50", 443)[0] == "deny", "no name: no DNS in the mock"
