"""First-match evaluation of a whole destination at once (`evaluate_region`, the report's decision
matrix): its verdicts by hand, and, for generated rulebases, agreement with the per-probe walk
(`evaluate`) for every probe drawn from the region."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.evaluate import Names, Probe, Region, evaluate, evaluate_region
from connector.model import (
    Action,
    CompiledRule,
    Destination,
    DeviceState,
    PortRange,
    PortSet,
    Protocol,
    RuleKind,
    RuleOrigin,
    SourceGroup,
    Tier,
)
from connector.reports.egress import DeviceIndex, namespace_regions
from connector.reports.model import EgressSource

SOURCES = ("10.0.0.1", "10.0.0.2", "fd00::1")
SOME = ("10.0.0.2",)  # a podSelector's group: part of the namespace's addresses
TCP, UDP = Protocol.TCP, Protocol.UDP


def _ports(*spans: tuple[Protocol, int, int]) -> tuple[PortRange, ...]:
    return tuple(PortRange(p, a, b) for p, a, b in spans)


DESTINATIONS = {
    "stripe": (("198.51.100.0/24",), ("api.stripe.com",)),
    "stripe-all": ((), ("*.stripe.com",)),
    "bare": ((), ("stripe.com",)),
    "any-http": (("0.0.0.0/0", "::/0"), ()),
    "any-v4": (("0.0.0.0/0",), ()),
    "mirror": (("10.30.0.0/24",), ()),
    "wide": (("198.51.0.0/16", "2001:db8::/32"), ()),
}
PORT_SETS = {
    "https": _ports((TCP, 443, 443)),
    "web": _ports((TCP, 80, 80), (TCP, 8080, 8080)),
    "range": _ports((TCP, 400, 450)),
    "dns": _ports((UDP, 53, 53), (TCP, 53, 53)),
    "low": _ports((TCP, 1, 442), (TCP, 444, 500)),
}


def _state(rules: Sequence[tuple[str, str | None, str | None, bool]]) -> DeviceState:
    """A state whose rules are (action, destination, port set, for every source address)."""
    def group(key: str, addresses: Sequence[str]) -> SourceGroup:
        return SourceGroup(key, "c", "shop", tuple((a, ()) for a in addresses))
    compiled = tuple(
        CompiledRule(f"r{i}", RuleOrigin(RuleKind.NAMESPACE, "shop", f"r{i}", Tier.NAMESPACE, i),
                     "ns" if every else "some", destination, ports, Action(action))
        for i, (action, destination, ports, every) in enumerate(rules))
    return DeviceState(
        "fw", "c", groups={"ns": group("ns", SOURCES), "some": group("some", SOME)},
        destinations={k: Destination(k, "shop", k, n, f) for k, (n, f) in DESTINATIONS.items()},
        port_sets={k: PortSet(k, "shop", k, r) for k, r in PORT_SETS.items()}, rules=compiled)


def _region(name: str | None, ports: str | None = None) -> Region:
    if name is None:
        return Region(None)
    networks, fqdns = DESTINATIONS[name]
    return Region(("shop", name), networks, fqdns, PORT_SETS[ports] if ports else None)


def _verdict(rules: Sequence[tuple[str, str | None, str | None, bool]], region: Region) -> str:
    state = _state(rules)
    return evaluate_region(state, region, [(i, r[3]) for i, r in enumerate(rules)]).verdict


STRIPE = _region("stripe", "https")


def test_first_covering_rule_decides() -> None:
    rules = [("Allow", "stripe", "https", True), ("Deny", None, None, True)]
    found = evaluate_region(_state(rules), STRIPE, [(0, True), (1, True)])
    assert found.verdict == "allow" and found.decision is not None and found.decision[0] == 0
    assert _verdict(rules, Region(None)) == "deny"


def test_names_match_as_the_probe_walk_matches_them() -> None:
    """A wildcard covers a name it matches, never the bare domain; a region's wildcard is only
    partly decided by a rule naming one name in it."""
    rules = [("Deny", "stripe-all", None, True), ("Allow", None, None, True)]
    assert _verdict(rules, Region(("shop", "stripe"), (), ("api.stripe.com",))) == "deny"
    assert _verdict(rules, STRIPE) == "mixed"  # its addresses are not covered by the names
    assert _verdict(rules, _region("bare")) == "allow"
    rules = [("Deny", "stripe", None, True), ("Allow", None, None, True)]
    assert _verdict(rules, _region("stripe-all")) == "mixed"


def test_a_rule_on_some_ports_is_mixed_unless_the_actions_agree() -> None:
    row = _region("stripe", "web")
    assert _verdict([("Deny", "any-http", "https", True), ("Allow", "stripe", None, True)], _region(
        "stripe", "dns")) == "allow"  # disjoint ports: skipped
    both = Region(("shop", "stripe"), ("198.51.100.0/24",), (), _ports((TCP, 80, 80), (TCP, 443, 443)))
    assert _verdict([("Deny", "wide", "range", True), ("Allow", "stripe", None, True)], both) == "mixed"
    assert _verdict([("Allow", "wide", "range", True), ("Allow", "stripe", None, True)], row) == "allow"


def test_a_whole_address_space_covers_names_and_other_traffic() -> None:
    assert _verdict([("Deny", "any-http", None, True)], STRIPE) == "deny"
    assert _verdict([("Deny", "any-http", None, True)], Region(None)) == "deny"
    assert _verdict([("Deny", "any-v4", None, True)], Region(None)) == "mixed"  # IPv6 left to the device


def test_disjoint_rules_leave_the_device_rulebase() -> None:
    assert _verdict([("Allow", "mirror", None, True), ("Allow", "stripe", "dns", True)], STRIPE) == "none"


def test_some_sources_and_some_ports_do_not_decide() -> None:
    assert _verdict([("Deny", None, None, False)], STRIPE) == "mixed"
    assert _verdict([("Deny", None, None, False), ("Deny", None, None, True)], STRIPE) == "deny"
    assert _verdict([("Allow", "stripe", "https", True)], _region("stripe", "range")) == "mixed"


def test_port_ranges() -> None:
    assert _verdict([("Allow", "stripe", "range", True)], STRIPE) == "allow"
    assert _verdict([("Allow", "stripe", "low", True)], STRIPE) == "none"
    assert _verdict([("Allow", "stripe", "dns", True)], STRIPE) == "none"


# --- generated cases: the report's cells against the probe walk ----------------------------------
RULE = st.tuples(st.sampled_from(["Allow", "Deny"]), st.sampled_from([None, *DESTINATIONS]),
                 st.sampled_from([None, *PORT_SETS]), st.booleans())
OTHER_ADDRESSES = ("192.0.2.77", "2001:db9::5", "10.31.0.1")
ANY_PORTS = ((443, TCP), (53, UDP), (8080, TCP), (22, TCP))


def _probe_destinations(region: Region) -> list[str]:
    if region.service is None:
        return [*OTHER_ADDRESSES, "unknown.example.org"]
    out = [f.replace("*.", "a.b.") for f in region.fqdns]
    for text in region.networks:
        network = ipaddress.ip_network(text)
        out += [str(network.network_address), str(network.broadcast_address)]
    return out


def _probe_ports(region: Region) -> list[tuple[int, Protocol]]:
    if region.ports is None:
        return list(ANY_PORTS)
    return [(p, r.protocol) for r in region.ports for p in (r.start, r.end)]


@settings(max_examples=150, deadline=None)
@given(st.lists(RULE, max_size=6))
def test_cells_agree_with_the_probe_walk(rules: list[tuple[str, str | None, str | None, bool]]) -> None:
    """Built as the report builds them (`DeviceIndex`, `namespace_regions`): an allow or deny cell
    means `evaluate` gives that action for every probe of the region from every source address; a
    none cell means no rule decides any of them; a mixed cell is never one action everywhere."""
    state = _state(rules)
    index = DeviceIndex(state)
    egress = index.egress(SOURCES)
    regions = namespace_regions([EgressSource("Namespace", "shop", "", "pod", SOURCES, (egress,))],
                                {"fw": state})
    # "other destinations" is what no destination of these rules holds (but a whole family)
    named = [ipaddress.ip_network(n) for r in regions if r.service for n in r.networks if "/0" not in n]
    assert not any(ipaddress.ip_address(a) in n for a in OTHER_ADDRESSES for n in named
                   if n.version == ipaddress.ip_address(a).version)
    cells = index.decisions(egress, regions, [{} for _ in regions])
    for region, cell in zip(regions, cells, strict=True):
        actions = set()
        for source in SOURCES:
            for destination in _probe_destinations(region):
                for port, protocol in _probe_ports(region):
                    probe = Probe(source, destination, port, protocol)
                    found = evaluate(state, probe, Names.RESOLVED).decision
                    actions.add(found.action.value.lower() if found is not None else "none")
        if cell.decision in ("allow", "deny", "none"):
            assert actions == {cell.decision}, (region, cell, actions)
        else:
            assert cell.decision == "mixed" and len(actions) >= 1
