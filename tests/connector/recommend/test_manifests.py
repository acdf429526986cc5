"""recommend(): ExternalServices grouped per port and protocol that admit exactly the observed
(address, protocol, port) uses, within the resources' limits, with stable names; check() finds
what the API server would refuse."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from connector.recommend import Manifest, Observed, Target, Use, check, recommend
from connector.recommend.manifests import MAX_NAME, name, port_entries
from tests.connector.recommend.scenario import validator

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
Key = tuple[str, str, int]


def uses(*keys: Key, count: int = 1) -> tuple[Use, ...]:
    return tuple(Use(d, p, n, count, 0, T0, T0, ("fw1",)) for d, p, n in keys)


def observed(target: Target, found: tuple[Use, ...]) -> Observed:
    return Observed(target, 1, False, found)


def admitted(manifest: Manifest) -> set[Key]:
    """Every (address, protocol, port) an ExternalService admits."""
    out: set[Key] = set()
    for entry in manifest.obj["spec"]["ports"]:
        for run in entry["port"].split(","):
            start, _, end = run.partition("-")
            for port in range(int(start), int(end or start) + 1):
                out.update((a, entry["protocol"], port) for a in manifest.obj["spec"]["addresses"])
    return out


def test_addresses_sharing_their_ports_share_an_external_service() -> None:
    found = uses(("198.51.100.7", "TCP", 443), ("198.51.100.8", "TCP", 443), ("198.51.100.7", "TCP", 80),
                 ("198.51.100.8", "TCP", 80), ("198.51.100.9", "TCP", 8443),
                 ("192.0.2.53", "UDP", 53), ("192.0.2.53", "TCP", 53))
    result = recommend(observed(Target("shop", "web"), found))
    assert [(m.name, m.obj["spec"]["addresses"], m.obj["spec"]["ports"])
            for m in result.external_services] == [
        ("web-observed-tcp-53-udp-53", ["192.0.2.53"],
         [{"protocol": "TCP", "port": "53"}, {"protocol": "UDP", "port": "53"}]),
        ("web-observed-tcp-80-443", ["198.51.100.7", "198.51.100.8"],
         [{"protocol": "TCP", "port": "80,443"}]),
        ("web-observed-tcp-8443", ["198.51.100.9"], [{"protocol": "TCP", "port": "8443"}]),
    ]
    (rule,) = result.rules
    assert rule.obj == {"apiVersion": "fusion-connector.io/v1alpha1", "kind": "ServiceEgressRule",
                        "metadata": {"name": "web-observed-egress", "namespace": "shop"},
                        "spec": {"service": "web", "action": "Allow", "priority": 500,
                                 "externalServices": [m.name for m in result.external_services]}}
    assert not check(result.manifests, validator())


def test_without_a_service_the_rule_is_a_namespace_rule_named_after_the_namespace() -> None:
    result = recommend(observed(Target("shop"), uses(("198.51.100.7", "TCP", 443))), priority=300)
    assert [(m.kind, m.name) for m in result.manifests] == [
        ("ExternalService", "shop-observed-tcp-443"), ("NamespaceEgressRule", "shop-observed-egress")]
    assert result.rules[0].obj["spec"] == {"action": "Allow", "priority": 300,
                                           "externalServices": ["shop-observed-tcp-443"]}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_external_services_admit_exactly_the_observed_uses(seed: int) -> None:
    rng = random.Random(seed)
    addresses = [f"198.51.100.{n}" for n in range(1, 40)] + [f"2001:db8::{n:x}" for n in range(1, 10)]
    ports = [22, 53, 80, 443, 444, 445, 5432, 8000, 8001, 8002, 8443]
    protocols = ["TCP", "UDP", "SCTP"]
    found = {(rng.choice(addresses), rng.choice(protocols), rng.choice(ports)) for _ in range(150)}
    result = recommend(observed(Target("shop"), uses(*sorted(found))))
    seen: set[Key] = set()
    for manifest in result.external_services:
        mine = admitted(manifest)
        assert not mine & seen, "an (address, port) belongs to one ExternalService"
        seen |= mine
        assert {(u.destination, u.protocol, u.port) for u in manifest.uses} == mine
    assert seen == found
    assert not check(result.manifests, validator())


def test_consecutive_ports_are_written_as_ranges_and_long_lists_split_in_entries() -> None:
    assert [e for e, _ in port_entries([("TCP", 8002), ("TCP", 8000), ("TCP", 8001), ("TCP", 80),
                                        ("UDP", 53)])] == [
        {"protocol": "TCP", "port": "80,8000-8002"}, {"protocol": "UDP", "port": "53"}]
    many = [("TCP", p) for p in range(1000, 3000, 2)]
    entries = port_entries(many)
    assert all(len(e["port"]) <= 256 for e, _ in entries) and len(entries) > 1
    assert [k for _, held in entries for k in held] == many


def test_groups_beyond_the_resource_limits_are_split_in_valid_parts() -> None:
    wide = tuple((f"10.{n // 250}.{n % 250}.1", "TCP", 443) for n in range(1001))  # 1,001 addresses
    ports = tuple(("192.0.2.1", "UDP", p) for p in range(1000, 14000, 2))  # 6,500 ports, no runs
    result = recommend(observed(Target("shop"), uses(*wide, *ports)))
    services = result.external_services
    assert [len(m.obj["spec"]["addresses"]) for m in services if m.name.startswith("shop-observed-tcp")] == [
        1000, 1]
    assert all(len(m.obj["spec"]["ports"]) <= 64 for m in services)
    assert len({m.name for m in services}) == len(services) >= 4
    assert set().union(*(admitted(m) for m in services)) == set(wide) | set(ports)
    assert not check(result.manifests, validator())


def test_more_than_a_hundred_external_services_take_several_rules() -> None:
    found = uses(*((f"198.51.100.{n}", "TCP", 1000 + n) for n in range(1, 131)))
    result = recommend(observed(Target("shop", "web"), found))
    assert [(m.name, len(m.obj["spec"]["externalServices"])) for m in result.rules] == [
        ("web-observed-egress-part-1", 100), ("web-observed-egress-part-2", 30)]
    assert sum(len(r.uses) for r in result.rules) == 130
    assert not check(result.rules, validator())


def test_names_stay_within_63_characters_and_apart() -> None:
    long_a, long_b = "a" * 50 + "-one", "a" * 50 + "-two"
    assert len(name(long_a, "observed-egress")) <= MAX_NAME
    assert name(long_a, "observed-egress") != name(long_b, "observed-egress")
    assert name("web", "observed-egress") == "web-observed-egress"
    many = uses(*(("198.51.100.1", "TCP", p) for p in (22, 80, 443, 8080, 8443, 9000, 9443, 10250)))
    (service,) = recommend(observed(Target("shop", "checkout-frontend-gateway"), many)).external_services
    assert service.name == "checkout-frontend-gateway-observed-tcp-22-and-7-more"


def test_a_service_named_as_its_namespace_never_shares_names_with_the_namespace() -> None:
    found = uses(("198.51.100.7", "TCP", 443))
    namespace = recommend(observed(Target("shop"), found))
    service = recommend(observed(Target("shop", "shop"), found))
    assert not {m.name for m in namespace.manifests} & {m.name for m in service.manifests}
    assert [m.name for m in service.manifests] == ["shop-svc-observed-tcp-443", "shop-svc-observed-egress"]


def test_the_same_observations_give_the_same_manifests_whatever_their_order() -> None:
    found = list(uses(("198.51.100.7", "TCP", 443), ("198.51.100.8", "TCP", 443), ("192.0.2.53", "UDP", 53),
                      ("2001:db8::1", "TCP", 443)))
    first = recommend(observed(Target("shop"), tuple(found)))
    random.Random(7).shuffle(found)
    again = recommend(observed(Target("shop"), tuple(found)))
    assert [m.obj for m in first.manifests] == [m.obj for m in again.manifests]
    assert [m.comment for m in first.manifests] == [m.comment for m in again.manifests]


def test_nothing_observed_gives_no_manifest_and_a_bad_priority_is_refused() -> None:
    assert recommend(observed(Target("shop"), ())).manifests == ()
    with pytest.raises(ValueError, match="priority"):
        recommend(observed(Target("shop"), uses(("198.51.100.7", "TCP", 443))), priority=1001)


def test_check_reports_what_the_api_server_would_refuse() -> None:
    result = recommend(observed(Target("shop"), uses(("198.51.100.7", "TCP", 443))))
    broken = Manifest({**result.external_services[0].obj, "spec": {"addresses": []}})
    (problem,) = check([broken, *result.rules], validator())
    assert problem.startswith("ExternalService shop/shop-observed-tcp-443: ")
    assert "spec.addresses" in problem
