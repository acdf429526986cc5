"""A flow decided by the grouped default-action rule (stored without a namespace) is attributed to
the default action of its source's namespace."""

from __future__ import annotations

from connector.flows.attribute import _standing_for
from connector.flows.record import FlowIdentity, FlowRule

GROUPED = FlowRule("DefaultAction", "", "default", "Default")


def test_the_grouped_default_stands_for_the_source_namespace() -> None:
    identity = FlowIdentity("c1", "shop", pod="web-1")
    assert _standing_for(GROUPED, identity) == FlowRule("DefaultAction", "shop", "default", "Default")


def test_without_an_identity_or_for_another_rule_nothing_changes() -> None:
    assert _standing_for(GROUPED, None) is GROUPED
    cluster_rule = FlowRule("ClusterEgressRule", "", "block-tor", "Admin")
    assert _standing_for(cluster_rule, FlowIdentity("c1", "shop")) is cluster_rule
