"""Forwarding virtual servers scoped by source address (`attach.virtualServer.sourceAddresses`):
what several clusters sharing one BIG-IP declare, and what the device accepts side by side."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from adapters.f5.declaration import tenant_declaration
from adapters.f5.render import virtual_addresses
from mocks.bigip.virtuals import conflict
from tests.adapters.f5.conftest import make_config
from tests.adapters.f5.scenarios import basic_state
from tests.adapters.f5.test_render import adapter, shared


def test_sources_pair_with_the_wildcard_of_their_family() -> None:
    assert virtual_addresses("0.0.0.0", [], ["10.1.0.0/16", "fd00:1::/64"]) == [
        ["0.0.0.0", "10.1.0.0/16"], ["::", "fd00:1::/64"]]
    assert virtual_addresses("0.0.0.0", ["192.0.2.1"], ["10.1.0.0/16", "fd00:1::/64"]) == [
        ["0.0.0.0", "10.1.0.0/16"]]
    assert virtual_addresses("0.0.0.0", []) == ["0.0.0.0", "::"]
    assert virtual_addresses("192.0.2.9", [], ["10.1.0.0/16", "10.2.0.0/16"]) == [
        ["192.0.2.9", "10.1.0.0/16"], ["192.0.2.9", "10.2.0.0/16"]]


def test_the_rendered_virtual_carries_the_pairs() -> None:
    items = shared(adapter("east", virtualServer={"sourceAddresses": ["10.1.0.0/16"]}), basic_state())
    assert items["egress_vs"]["virtualAddresses"] == [["0.0.0.0", "10.1.0.0/16"]]


def test_two_clusters_scoped_to_their_networks_do_not_conflict_and_unscoped_ones_do() -> None:
    def tenant_of(cluster: str, sources: list[str]) -> tuple[str, dict[str, object]]:
        a = adapter(cluster, virtualServer={"sourceAddresses": sources}) if sources else adapter(cluster)
        return a.tenant, tenant_declaration(a.tenant, a.render(basic_state()))

    east, west = tenant_of("east", ["10.1.0.0/16"]), tenant_of("west", ["10.2.0.0/16"])
    assert conflict(west[0], west[1], dict([east])) is None
    plain_east, plain_west = tenant_of("east", []), tenant_of("west", [])
    message = conflict(plain_west[0], plain_west[1], dict([plain_east]))
    assert message is not None and message.startswith("01070333:3: Virtual Server /fc_west/Shared/egress_vs")


@pytest.mark.parametrize(("sources", "error"), [
    (["10.1.0.0/33"], "is not an IP network"),
    (["10.1.0.0/16", "10.1.0.0/16"], "distinct"),
    (["fd00::/64"], "no IPv4 network"),
])
def test_bad_source_addresses_are_refused(sources: list[str], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        make_config("https://bigip.example", virtualServer={"sourceAddresses": sources})
