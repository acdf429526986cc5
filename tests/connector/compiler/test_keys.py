"""The key scheme (connector/compiler/keys.py): every kind of key has its documented shape, and a
compiled rule's key follows from its origin."""

from __future__ import annotations

import pytest

from connector.compiler import keys
from connector.model import RuleKind, RuleOrigin, Tier
from tests.connector.compiler.builders import cluster_rule, external_service, namespace, pod
from tests.connector.compiler.helpers import compile_objects

CNS = "fusion-system"


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        (RuleOrigin(RuleKind.CLUSTER, "", "no-tor", Tier.ADMIN, 10), "c1/_cluster/admin/no-tor/tor"),
        (RuleOrigin(RuleKind.CLUSTER, "", "late", Tier.BASELINE, 10), "c1/_cluster/baseline/late/tor"),
        (RuleOrigin(RuleKind.SERVICE, "shop", "out", Tier.NAMESPACE, 10), "c1/shop/svc/out/tor"),
        (RuleOrigin(RuleKind.NAMESPACE, "shop", "out", Tier.NAMESPACE, 10), "c1/shop/ns/out/tor"),
        (
            RuleOrigin(RuleKind.ANNOTATION, "shop", "annotation", Tier.NAMESPACE, 500),
            "c1/shop/annotation/annotation/tor",
        ),
    ],
)
def test_a_compiled_rule_key_follows_its_origin(origin: RuleOrigin, expected: str) -> None:
    assert keys.compiled_rule("c1", origin, "tor") == expected


def test_annotation_baseline_and_default_keys_in_a_compile() -> None:
    objects = [
        namespace(CNS, managed=False),
        namespace("shop", annotations={"fusion-connector.io/egress-allow": "api.github.com:443/TCP"}),
        pod("shop", "web-1", "10.0.0.1"),
        external_service(CNS, "tor", ["198.51.100.0/24"]),
        cluster_rule("late", "Allow", tier="Baseline", externalServices=["tor"]),
    ]
    state = compile_objects(objects).devices["fw1"]
    assert [r.key for r in state.rules] == [
        "c1/shop/annotation/annotation/443-TCP",
        "c1/_cluster/baseline/late/tor",
        "c1/_cluster/default/deny",
    ]
    assert set(state.destinations) == {"c1/shop/annotation/443-TCP", "c1/fusion-system/tor"}
    assert set(state.port_sets) == {"c1/shop/annotation/443-TCP"}
    assert set(state.groups) == {"c1/shop", "c1/_cluster/rule/late", "c1/_cluster/default/deny"}
    assert state.groups["c1/_cluster/default/deny"].includes == ("c1/shop",)
