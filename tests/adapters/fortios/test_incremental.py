"""Incremental rendering equals rendering from scratch: the nesting kept up to date equals
`nested_sources`, and a `Renderer` fed random sequences of group (among them flips between one
member and more), union, rule, destination and known-piece changes returns what a fresh render of
each state returns. The steps keep unchanged objects the very same ones, as the compiler does (a
pod's member tuple, the rule list, destinations and port sets), so the renderer's shortcuts for
unchanged inputs are exercised; pod churn drops and adds single members (splitting and extending
address runs), gives two pods one address and gives a member's address to a new pod.
`PieceLedger.sync` parses only what it has not seen."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.fortios import known as known_module
from adapters.fortios.known import KnownPieces, Piece, PieceLedger, piece_of
from adapters.fortios.nesting import Nesting, nested_sources
from adapters.fortios.render import ADDRESS, ADDRGRP, ADDRGRP6, PolicySettings
from adapters.fortios.renderer import Renderer, render_state
from connector.model import (
    Action,
    CompiledRule,
    Destination,
    DeviceState,
    Identity,
    PortRange,
    PortSet,
    Protocol,
    RuleKind,
    SourceGroup,
)
from connector.planner.types import DeviceObject
from tests.adapters.fortios.scenarios import group, pods, rule, union

MARK = "fusion-connector:prod"
SETTINGS = PolicySettings(("port2",), ("port1",))
KEYS = ("ns/a", "ns/b", "svc/a/x", "svc/a/y", "svc/b/z", "pods/a/p")
POOL = [f"10.1.0.{i}" for i in range(1, 25)] + ["fd00::1", "fd00::2"]
POOL6 = [f"fd00::{i:x}" for i in range(16, 26)]  # IPv6 members a group gains beside its IPv4 ones


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KEYS), st.sets(st.integers(0, 14), max_size=8)), min_size=1,
                max_size=25))
def test_nesting_kept_up_to_date_equals_nested_sources(steps: list[tuple[str, set[int]]]) -> None:
    nesting = Nesting()
    hosts: dict[str, frozenset[int]] = {}
    rank = {key: (int(key.startswith("ns/")), key) for key in KEYS}
    for key, found in steps:
        if found:
            hosts[key] = frozenset(found)
            nesting.update({key: (hosts[key], rank[key])})
        elif key in hosts:
            del hosts[key]
            nesting.update({key: None})
        assert nesting.chosen == nested_sources(hosts, rank)


def _state(groups: dict[str, SourceGroup], destinations: dict[str, Destination], ports: dict[str, PortSet],
           active: list[str]) -> DeviceState:
    rules: list[CompiledRule] = []
    for key in active:
        target = "es/big" if key.startswith("cr/") else ("es/small" if key.startswith("svc/") else None)
        port = "es/web" if target else None
        rules.append(rule(f"r-{key}", key, target, port, Action.DENY if len(rules) % 3 == 0 else Action.ALLOW,
                          RuleKind.CLUSTER if key.startswith("cr/") else RuleKind.NAMESPACE, ""))
    return DeviceState("fgt", "prod", dict(groups), destinations, ports, tuple(rules))  # copied on write


def _hold(index: KnownPieces, held: set[Piece], objects: list[DeviceObject]) -> set[Piece]:
    """Make `index` hold the pieces of `objects` (what an apply leaves on the device)."""
    now = {piece for o in objects if o.kind == ADDRESS and (piece := piece_of(o.body)) is not None}
    for piece in held - now:
        index.discard(piece)
    for piece in now - held:
        index.add(piece)
    return now


@st.composite
def steps(draw: st.DrawFn) -> list[tuple[str, Any]]:
    actions = st.one_of(
        st.tuples(st.just("hosts"), st.tuples(st.sampled_from(KEYS),
                                              st.sets(st.sampled_from(POOL), max_size=10))),
        # one host or one run of hosts (one address: the group is referenced by it), or two apart
        st.tuples(st.just("run"), st.tuples(st.sampled_from(KEYS), st.integers(0, 20), st.integers(1, 3),
                                            st.booleans())),
        st.tuples(st.just("union"), st.tuples(st.sampled_from(("cr/u", "cr/v")),
                                              st.sets(st.sampled_from((*KEYS, "cr/u")), max_size=4),
                                              st.sets(st.sampled_from(POOL), max_size=2))),
        st.tuples(st.just("rules"), st.lists(st.sampled_from((*KEYS, "cr/u", "cr/v")), unique=True,
                                             max_size=8)),
        st.tuples(st.just("hosts6"), st.tuples(st.sampled_from(KEYS),
                                               st.sets(st.sampled_from(POOL6), max_size=8))),
        st.tuples(st.just("big"), st.integers(1, 12)),
        st.tuples(st.just("big6"), st.integers(0, 6)),
        st.tuples(st.just("known"), st.tuples(st.integers(0, 30), st.integers(0, 5))),
        # pod churn: one member leaves, one joins, a second pod gets a member's address, or a new
        # pod takes over a member's address
        st.tuples(st.just("drop"), st.tuples(st.sampled_from(KEYS), st.integers(0, 30))),
        st.tuples(st.just("replace"), st.tuples(st.sampled_from(KEYS), st.integers(0, 30))),
        st.tuples(st.just("add"), st.tuples(st.sampled_from(KEYS), st.integers(0, 23))),
        st.tuples(st.just("share"), st.tuples(st.sampled_from(KEYS), st.integers(0, 30))),
        st.tuples(st.just("apply"), st.none()))
    return draw(st.lists(actions, min_size=1, max_size=12))


def replay(actions: list[tuple[str, Any]], limit: int, cluster: str = "prod",
           ) -> Iterator[tuple[DeviceState, list[DeviceObject], list[DeviceObject]]]:
    """Feed `actions` to one `Renderer`: (state, its render, a fresh render of the state) per step."""
    groups: dict[str, SourceGroup] = {key: group(key, key.split("/")[1], POOL[i:i + 4])
                                      for i, key in enumerate(KEYS)}
    groups["cr/u"] = union("cr/u", ["ns/a"])
    groups["cr/v"] = union("cr/v", ["cr/u", "ns/b"])
    destinations = {"es/small": Destination("es/small", "ops", "small", ("192.0.2.1/32",), ("a.example",)),
                    "es/big": Destination("es/big", "ops", "big", ("198.51.100.0/24",))}
    ports = {"es/web": PortSet("es/web", "ops", "web", (PortRange(Protocol.TCP, 443, 443),))}
    active = ["cr/v", "cr/u", *KEYS]
    renderer = Renderer(mark=MARK, settings=SETTINGS, group_members=limit, direct_destinations=3)
    index = KnownPieces()
    held: set[Piece] = set()
    objects: list[DeviceObject] = []
    rules: tuple[CompiledRule, ...] = ()
    for action, value in [("apply", None), *actions]:
        if action in ("drop", "add", "share", "replace"):
            key, at = value
            members = list(groups[key].members)  # the other members stay the very same tuples
            if action == "drop" and members:
                del members[at % len(members)]
            elif action == "add" and POOL[at] not in groups[key].addresses:
                members.append(pods(groups[key].namespace, [POOL[at]])[0])
            elif action == "share" and members:
                address = members[at % len(members)][0]
                members.append((address, (Identity("Pod", groups[key].namespace, f"twin-{len(members)}"),)))
            elif action == "replace" and members:
                address = members[at % len(members)][0]
                members[at % len(members)] = (address, (Identity("Pod", groups[key].namespace, f"new-{at}"),))
            groups[key] = replace(groups[key], members=tuple(sorted(members, key=lambda m: m[0])))
        elif action == "hosts":
            key, found = value
            groups[key] = replace(groups[key], members=pods(groups[key].namespace, sorted(found)))
        elif action == "hosts6":
            key, found = value
            kept = [a for a in groups[key].addresses if ipaddress.ip_address(a).version == 4]
            groups[key] = replace(groups[key], members=pods(groups[key].namespace, sorted({*kept, *found})))
        elif action == "big6":
            networks = tuple(n for n in destinations["es/big"].networks if ":" not in n)
            networks += tuple(f"2001:db8:{i}::/48" for i in range(value))
            fqdns = ("b.example",) if value else ()
            destinations = {**destinations, "es/big": Destination("es/big", "ops", "big", networks, fqdns)}
        elif action == "run":
            key, start, length, apart = value
            end = start + length
            found = {*POOL[start:end], *(POOL[end + 1:end + 2] if apart else ())}
            groups[key] = replace(groups[key], members=pods(groups[key].namespace, sorted(found)))
        elif action == "union":
            key, includes, own = value
            groups[key] = union(key, sorted(includes - {key}), sorted(own))
        elif action == "rules":
            active = value
        elif action == "big":
            networks = tuple(f"198.51.{100 + i}.0/24" for i in range(value))
            destinations = {**destinations, "es/big": Destination("es/big", "ops", "big", networks)}
        elif action == "known":
            start = int(ipaddress.IPv4Address("10.1.0.0")) + value[0]
            if (start, start + value[1]) not in held:  # the index counts holders; `held` is a set
                index.add((start, start + value[1]))
                held.add((start, start + value[1]))
        else:
            held = _hold(index, held, objects)
        state = replace(_state(groups, destinations, ports, active), cluster=cluster)
        if state.rules == rules:  # the same rule list object while it is equal (copy on write)
            state = replace(state, rules=rules)
        rules = state.rules
        objects = renderer.render(state, index)
        yield state, objects, render_state(state, mark=MARK, settings=SETTINGS, known=set(held),
                                           group_members=limit, direct_destinations=3)


@settings(max_examples=80, deadline=None)
@given(steps(), st.integers(2, 6))
def test_incremental_render_equals_a_fresh_render(actions: list[tuple[str, Any]], limit: int) -> None:
    for _, objects, fresh in replay(actions, limit):
        assert objects == fresh
        named = {f"fc_prod_src_{key}" for key in (*KEYS, "cr/u", "cr/v")}  # one member: referenced by it
        assert all(len(o.body["member"]) > 1 for o in objects if o.kind == ADDRGRP and o.name in named)
        named6 = {f"fc_prod_src6_{key}" for key in (*KEYS, "cr/u", "cr/v")}
        assert all(len(o.body["member"]) > 1 for o in objects if o.kind == ADDRGRP6 and o.name in named6)


def test_ledger_parses_only_bodies_it_has_not_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = {f"h{i}": {"type": "ipmask", "subnet": f"10.0.0.{i}/32", "comment": MARK} for i in range(50)}
    parsed: list[str] = []
    original = known_module.piece_of

    def counting(body: Any) -> Piece | None:
        parsed.append(body["subnet"])
        return original(body)

    monkeypatch.setattr(known_module, "piece_of", counting)
    ledger = PieceLedger()
    ledger.sync(bodies.items())
    assert len(parsed) == 50 and len(ledger.pieces()) == 50
    parsed.clear()
    moved = {**bodies, "h0": {**bodies["h0"], "subnet": "10.0.1.0/32"}, "h50": bodies["h49"]}
    del moved["h1"]
    position = ledger.index.position()
    ledger.sync(moved.items())
    assert sorted(parsed) == ["10.0.0.49/32", "10.0.1.0/32"]
    base = int(ipaddress.IPv4Address("10.0.0.0"))
    assert ledger.index.changes_since(position) == {base, base + 1, base + 256}  # h49's piece: twice held
    assert ledger.index.longest_within(base + 49, base + 49) == base + 49
