from __future__ import annotations

from connector.cluster import Kind
from connector.sources.listing import list_all
from tests.connector.sources.fake_api import FakeApi


def test_list_all_reads_every_served_kind_transformed_and_skips_absent_ones() -> None:
    api = FakeApi()
    api.served_kinds.discard(Kind.EGRESS_IP)
    for i in range(5):
        api.put(Kind.POD, f"ns{i % 2}", f"p{i}", metadata={"managedFields": [{}]}, spec={"nodeName": "n1"})
    api.put(Kind.NAMESPACE, "", "ns0", metadata={"labels": {"fusion-connector.io/managed": "true"}})
    api.put(Kind.CLUSTER_EGRESS_RULE, "", "deny-all", spec={"action": "Deny"})
    view = list_all(api, page_size=2)
    assert {o["metadata"]["name"] for o in view.list(Kind.POD)} == {f"p{i}" for i in range(5)}
    assert {o["metadata"]["name"] for o in view.list(Kind.POD, "ns1")} == {"p1", "p3"}
    pod = view.get(Kind.POD, "ns0", "p0")
    assert pod is not None and pod["kind"] == "Pod" and "managedFields" not in pod["metadata"]
    rule = view.get(Kind.CLUSTER_EGRESS_RULE, "", "deny-all")
    assert rule is not None and rule["spec"] == {"action": "Deny"}
    assert view.list(Kind.EGRESS_IP) == []
    assert not any(call[0] is Kind.EGRESS_IP for call in api.list_calls)
    assert len([call for call in api.list_calls if call[0] is Kind.POD]) == 3
