"""The default tier: default actions grouped per device and action decide like the per-namespace
form (one rule per namespace, namespaces by name, after every tier), also when namespaces share
source addresses (node mode, a shared egress IP) with different default actions."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.cluster import StaticView
from connector.compiler import Compiler, CompileResult
from connector.evaluate import Probe, decide
from connector.model import (
    Action,
    CompiledRule,
    DeviceState,
    Protocol,
    RuleKind,
    RuleOrigin,
    SourceGroup,
    Tier,
)
from tests.connector.compiler import builders as b
from tests.connector.compiler.helpers import compile_objects, drawn_change, origin_of, verdict
from tests.connector.compiler.test_properties import (
    DESTINATIONS,
    DEVICES,
    PORTS,
    assert_same,
    config,
    default_action_variants,
)

P = "fusion-connector.io/"
N1, N2 = "192.168.0.1", "192.168.0.2"


def per_namespace(result: CompileResult, compiler: Compiler, device: str) -> DeviceState:
    """The device's state with its default section in the per-namespace form: one rule per
    namespace with a default action on the device and a source group, namespaces by name."""
    state = result.devices[device]
    groups = dict(state.groups)
    namespace_groups: dict[str, SourceGroup] = {}
    for other in result.devices.values():
        namespace_groups.update((k, g) for k, g in other.groups.items() if k == f"c1/{g.namespace}")
    rules = [r for r in state.rules if r.origin.kind is not RuleKind.DEFAULT]
    for ns, info in sorted(compiler.namespace_settings().items()):
        key = f"c1/{ns}"
        targets = info.managed and device in info.devices
        if targets and info.default_action != "None" and key in namespace_groups:
            groups[key] = namespace_groups[key]
            origin = RuleOrigin(RuleKind.DEFAULT, ns, "default", Tier.DEFAULT, 0)
            rules.append(CompiledRule(f"{key}/default", origin, key, None, None, Action(info.default_action)))
    return dataclasses.replace(state, groups=groups, rules=tuple(rules))


def node_cluster(a: str = "Allow", b_devices: str = "") -> list[dict[str, Any]]:
    """Node mode: a (`a`) and b (Deny) share node n1, b and c (Deny) share n2, d (None) is on n1."""
    node_mode = {P + "source-mode": "node"}
    b_annotations = {**node_mode, P + "default-action": "Deny"}
    if b_devices:
        b_annotations[P + "devices"] = b_devices
    return [
        b.namespace("fusion-system", managed=False),
        b.namespace("a", annotations={**node_mode, P + "default-action": a}),
        b.namespace("b", annotations=b_annotations),
        b.namespace("c", annotations={**node_mode, P + "default-action": "Deny"}),
        b.namespace("d", annotations={**node_mode, P + "default-action": "None"}),
        b.pod("a", "p", "10.0.0.1", node="n1"),
        b.pod("b", "p", "10.0.0.2", node="n1"),
        b.pod("b", "q", "10.0.0.3", node="n2"),
        b.pod("c", "p", "10.0.0.4", node="n2"),
        b.pod("d", "p", "10.0.0.5", node="n1"),
        b.node("n1", N1),
        b.node("n2", N2),
    ]


def test_a_shared_address_whose_holders_disagree_is_decided_by_its_first_holder() -> None:
    compiler = Compiler(b.settings())
    result = compiler.full(StaticView(node_cluster()))
    state = result.devices["fw1"]
    assert [r.key for r in state.rules] == [
        "c1/_cluster/shared/allow", "c1/_cluster/default/deny", "c1/_cluster/default/allow"]
    shared = state.groups["c1/_cluster/shared/allow"]
    assert shared.addresses == (N1,) and [i.name for i in shared.members[0][1]] == ["a", "b"]
    assert state.groups["c1/_cluster/default/deny"].includes == ("c1/b", "c1/c")
    assert state.groups["c1/_cluster/default/allow"].includes == ("c1/a",)
    assert verdict(result, "fw1", N1, "9.9.9.9", 443) == ("DefaultAction", "a", "default", "Allow")
    assert verdict(result, "fw1", N2, "9.9.9.9", 443) == ("DefaultAction", "b", "default", "Deny")
    for device in ("fw1", "fw2"):
        reference = per_namespace(result, compiler, device)
        assert decide(reference, Probe(N1, "9.9.9.9", 443)).action is Action.ALLOW  # type: ignore[union-attr]


def test_holders_that_agree_share_nothing_and_a_device_without_the_other_holder_neither() -> None:
    result = compile_objects(node_cluster(a="Deny"))
    assert [r.key for r in result.devices["fw1"].rules] == ["c1/_cluster/default/deny"]
    assert result.devices["fw1"].groups["c1/_cluster/default/deny"].includes == ("c1/a", "c1/b", "c1/c")
    # b only on fw2: on fw1, n1 is a's alone (d has no default action)
    result = compile_objects(node_cluster(b_devices="fw2"))
    assert [r.key for r in result.devices["fw1"].rules] == [
        "c1/_cluster/default/deny", "c1/_cluster/default/allow"]
    assert verdict(result, "fw1", N1, "9.9.9.9", 443) == ("DefaultAction", "a", "default", "Allow")
    assert verdict(result, "fw1", N2, "9.9.9.9", 443) == ("DefaultAction", "c", "default", "Deny")
    assert [r.key for r in result.devices["fw2"].rules] == [
        "c1/_cluster/shared/allow", "c1/_cluster/default/deny", "c1/_cluster/default/allow"]


def test_a_default_action_change_moves_one_union_member() -> None:
    objects = [b.namespace("fusion-system", managed=False)]
    for ns, action in (("a", "Deny"), ("b", "Allow"), ("c", "Deny")):
        objects += [b.namespace(ns, annotations={P + "default-action": action}),
                    b.pod(ns, "p", f"10.0.1.{ord(ns)}")]
    view = StaticView(objects)
    compiler = Compiler(b.settings())
    before = compiler.full(view).devices["fw1"]
    changed = b.namespace("a", annotations={P + "default-action": "Allow"})
    after = compiler.apply([c for c in [view.put(changed)] if c is not None]).devices["fw1"]
    assert [r.key for r in after.rules] == [r.key for r in before.rules]
    every = before.groups.keys() | after.groups.keys()
    differ = {k for k in every if before.groups.get(k) != after.groups.get(k)}
    assert differ == {"c1/_cluster/default/deny", "c1/_cluster/default/allow"}
    assert after.groups["c1/_cluster/default/allow"].includes == ("c1/a", "c1/b")
    # a pod change leaves the default tier's groups and rules the very same objects
    pod_change = view.put(b.pod("c", "q", "10.0.2.1"))
    assert pod_change is not None
    again = compiler.apply([pod_change]).devices["fw1"]
    assert again.groups["c1/_cluster/default/deny"] is after.groups["c1/_cluster/default/deny"]
    assert again.rules == after.rules


def test_none_and_unmanaged_namespaces_are_in_no_default_rule() -> None:
    objects = [*node_cluster(a="None"), b.namespace("e", managed=False),
               b.pod("e", "p", "10.0.0.9", node="n1")]
    state = compile_objects(objects).devices["fw1"]
    assert [r.key for r in state.rules] == ["c1/_cluster/default/deny"]
    assert "c1/a" not in state.groups["c1/_cluster/default/deny"].includes


@st.composite
def sharing_clusters(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Four managed namespaces in node or egress-ip mode sharing two nodes and two egress IPs, each
    with a default action (Deny, Allow, None or the configured one) and devices, a namespace rule
    or two, and with or without a ClusterEgressRule."""
    objects = [b.namespace("fusion-system", managed=False), b.node("n1", N1), b.node("n2", N2, "fd00:ff::2"),
               b.external_service("fusion-system", "e1", ["10.1.0.0/16"], [{"port": "443"}])]
    ip = 0
    for ns in ("a", "b", "c", "d"):
        mode = draw(st.sampled_from(("node", "node", "egress-ip", "pod")))
        annotations = {P + "source-mode": mode}
        if mode == "egress-ip":
            annotations[P + "egress-ips"] = draw(st.sampled_from(("198.18.0.1", "198.18.0.2")))
        action = draw(st.sampled_from(("Deny", "Allow", "Deny", "Allow", "None", "")))
        if action:
            annotations[P + "default-action"] = action
        devices = draw(st.sampled_from(("", "", "fw1", "fw2,fw3")))
        if devices:
            annotations[P + "devices"] = devices
        objects.append(b.namespace(ns, annotations=annotations))
        for index in range(draw(st.integers(0, 3))):
            ip += 1
            objects.append(b.pod(ns, f"p{index}", f"10.0.0.{ip}", node=draw(st.sampled_from(("n1", "n2")))))
        if draw(st.booleans()):
            objects.append(b.external_service(ns, "e1", ["10.1.2.3"], [{"port": "443"}]))
            objects.append(b.namespace_rule(ns, "r", draw(st.sampled_from(("Allow", "Deny"))),
                                            externalServices=["e1"]))
    if draw(st.booleans()):
        selector = draw(st.sampled_from((None, {"matchLabels": {"x": "y"}})))
        objects.append(b.cluster_rule("c", draw(st.sampled_from(("Allow", "Deny"))), tier="Baseline",
                                      externalServices=["e1"], namespaceSelector=selector))
    return objects


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sharing_clusters(), st.data())
def test_grouped_defaults_decide_like_the_per_namespace_form(
    objects: list[dict[str, Any]], data: st.DataObject
) -> None:
    compiler = Compiler(config())
    result = compiler.full(StaticView(objects))
    for device in DEVICES:
        state = result.devices[device]
        reference = per_namespace(result, compiler, device)
        assert sum(r.origin.kind is RuleKind.DEFAULT for r in state.rules) <= 4
        sources = sorted({a for g in state.groups.values() for a in g.addresses})
        for source in sources:
            destination = data.draw(st.sampled_from(DESTINATIONS))
            port = data.draw(st.sampled_from(PORTS))
            probe = Probe(source, destination, port, Protocol.TCP)
            got = origin_of(state, decide(state, probe), source)
            want = origin_of(reference, decide(reference, probe), source)
            assert got == want, (device, probe)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sharing_clusters(), sharing_clusters(), st.data())
def test_incremental_equals_full_with_shared_addresses(
    first: list[dict[str, Any]], second: list[dict[str, Any]], data: st.DataObject
) -> None:
    view = StaticView(first)
    compiler = Compiler(config())
    compiler.full(view)
    pool = first + second + [variant for obj in first for variant in default_action_variants(obj)]
    for _ in range(data.draw(st.integers(1, 10))):
        batch = []
        for obj in data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3)):
            change = drawn_change(data, view, obj)
            if change is not None:
                batch.append(change)
        assert_same(compiler.apply(batch), Compiler(config()).full(view))
