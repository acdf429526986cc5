"""The simulated kubelet and EndpointSlice controller, and switching them off."""

from __future__ import annotations

import ipaddress
from typing import Any

from kubernetes import watch

from tests.mocks.kube.conftest import Cluster, pod


def add_nodes(cluster: Cluster, *names: str) -> None:
    for index, name in enumerate(names):
        cluster.core.create_node(
            {
                "metadata": {"name": name},
                "status": {"addresses": [{"type": "InternalIP", "address": f"192.168.0.{index + 1}"}]},
            }
        )


def slices(cluster: Cluster, service: str, namespace: str = "default") -> list[Any]:
    return cluster.discovery.list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service}"
    ).items


def endpoints(cluster: Cluster, service: str, family: str = "IPv4") -> dict[str, tuple[str, bool]]:
    """pod name -> (address, ready) over the service's slices of one family."""
    out = {}
    for item in slices(cluster, service):
        if item.address_type != family:
            continue
        for endpoint in item.endpoints or []:
            out[endpoint.target_ref.name] = (endpoint.addresses[0], endpoint.conditions.ready)
    return out


def test_kubelet_schedules_round_robin_and_assigns_ips(cluster: Cluster) -> None:
    add_nodes(cluster, "node-a", "node-b")
    for index in range(4):
        cluster.core.create_namespaced_pod("default", pod(f"p{index}"))
    pods = {p.metadata.name: p for p in cluster.core.list_namespaced_pod("default").items}
    assert [pods[f"p{i}"].spec.node_name for i in range(4)] == ["node-a", "node-b", "node-a", "node-b"]
    ips = {p.status.pod_ip for p in pods.values()}
    assert len(ips) == 4
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.244.0.0/14") for ip in ips)
    first = pods["p0"]
    assert first.status.phase == "Running" and first.status.host_ip == "192.168.0.1"
    assert {c.type: c.status for c in first.status.conditions}["Ready"] == "True"
    assert first.status.pod_ips[0].ip == first.status.pod_ip


def test_kubelet_update_is_one_modified_after_added(cluster: Cluster) -> None:
    start = cluster.core.list_namespaced_pod("default").metadata.resource_version
    cluster.core.create_namespaced_pod("default", pod("seq"))
    events = [
        (e["type"], e["raw_object"]["status"].get("phase"))
        for e in watch.Watch().stream(
            cluster.core.list_namespaced_pod, "default", resource_version=start, timeout_seconds=1
        )
    ]
    assert events == [("ADDED", "Pending"), ("MODIFIED", "Running")]


def test_annotations_choose_ip_family_phase_and_readiness(cluster: Cluster) -> None:
    annotated = {
        "dual": {"mock.fusion-connector.io/ipv6": "true"},
        "six": {"mock.fusion-connector.io/ipv6": "only"},
        "waiting": {"mock.fusion-connector.io/phase": "Pending"},
        "unready": {"mock.fusion-connector.io/ready": "false"},
    }
    for name, wanted in annotated.items():
        cluster.core.create_namespaced_pod("default", pod(name, metadata={"annotations": wanted}))
    read = {name: cluster.core.read_namespaced_pod(name, "default") for name in annotated}
    dual = [ip.ip for ip in read["dual"].status.pod_ips]
    assert [ipaddress.ip_address(ip).version for ip in dual] == [4, 6]
    assert ipaddress.ip_address(read["six"].status.pod_ip).version == 6
    assert read["waiting"].status.phase == "Pending" and read["waiting"].status.pod_ip is None
    unready = read["unready"]
    assert unready.status.phase == "Running"
    assert {c.type: c.status for c in unready.status.conditions}["Ready"] == "False"


def test_status_set_by_a_test_is_left_alone(cluster: Cluster) -> None:
    cluster.core.create_namespaced_pod("default", pod("manual"))
    cluster.core.patch_namespaced_pod_status("manual", "default", {"status": {"phase": "Failed"}})
    cluster.core.patch_namespaced_pod("manual", "default", {"metadata": {"labels": {"touched": "yes"}}})
    assert cluster.core.read_namespaced_pod("manual", "default").status.phase == "Failed"
    given = pod("given", status={"phase": "Running", "podIP": "10.9.9.9", "podIPs": [{"ip": "10.9.9.9"}]})
    cluster.core.create_namespaced_pod("default", given)
    assert cluster.core.read_namespaced_pod("given", "default").status.pod_ip == "10.9.9.9"


def test_endpoint_slices_follow_pods_and_services(cluster: Cluster) -> None:
    add_nodes(cluster, "node-a")
    cluster.core.create_namespaced_pod("default", pod("web-1", {"app": "web"}))
    cluster.core.create_namespaced_pod(
        "default",
        pod("web-2", {"app": "web"}, metadata={"annotations": {"mock.fusion-connector.io/ready": "false"}}),
    )
    cluster.core.create_namespaced_pod("default", pod("other", {"app": "other"}))
    cluster.core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
        },
    )
    items = slices(cluster, "web")
    assert len(items) == 1
    item = items[0]
    assert item.address_type == "IPv4"
    assert item.metadata.labels["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert item.metadata.owner_references[0].kind == "Service"
    assert [(p.name, p.port, p.protocol) for p in item.ports] == [("http", 8080, "TCP")]
    by_pod = {e.target_ref.name: e for e in item.endpoints}
    assert set(by_pod) == {"web-1", "web-2"}
    assert by_pod["web-1"].conditions.ready is True and by_pod["web-2"].conditions.ready is False
    assert by_pod["web-1"].node_name == "node-a" and by_pod["web-1"].target_ref.kind == "Pod"

    cluster.core.create_namespaced_pod("default", pod("web-3", {"app": "web"}))
    cluster.core.patch_namespaced_pod("other", "default", {"metadata": {"labels": {"app": "web"}}})
    cluster.core.delete_namespaced_pod("web-1", "default", grace_period_seconds=0)
    assert set(endpoints(cluster, "web")) == {"web-2", "web-3", "other"}
    cluster.core.patch_namespaced_pod_status(
        "web-2", "default", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    )
    assert endpoints(cluster, "web")["web-2"][1] is True

    cluster.core.delete_namespaced_service("web", "default")
    assert slices(cluster, "web") == []


def test_service_without_selector_gets_no_slices_and_empty_selection_gets_empty_slice(
    cluster: Cluster,
) -> None:
    cluster.core.create_namespaced_service(
        "default", {"metadata": {"name": "manual"}, "spec": {"ports": [{"port": 80}]}}
    )
    cluster.core.create_namespaced_service(
        "default",
        {"metadata": {"name": "nobody"}, "spec": {"selector": {"app": "none"}, "ports": [{"port": 80}]}},
    )
    assert slices(cluster, "manual") == []
    empty = slices(cluster, "nobody")
    assert len(empty) == 1 and not empty[0].endpoints


def test_dual_stack_service_gets_a_slice_per_family(cluster: Cluster) -> None:
    cluster.core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": "ds"},
            "spec": {
                "selector": {"app": "ds"},
                "ipFamilies": ["IPv4", "IPv6"],
                "ipFamilyPolicy": "RequireDualStack",
                "ports": [{"port": 443}],
            },
        },
    )
    cluster.core.create_namespaced_pod(
        "default",
        pod("ds-1", {"app": "ds"}, metadata={"annotations": {"mock.fusion-connector.io/ipv6": "true"}}),
    )
    cluster.core.create_namespaced_pod("default", pod("v4-only", {"app": "ds"}))
    service = cluster.core.read_namespaced_service("ds", "default")
    assert [ipaddress.ip_address(ip).version for ip in service.spec.cluster_ips] == [4, 6]
    assert set(endpoints(cluster, "ds", "IPv4")) == {"ds-1", "v4-only"}
    six = endpoints(cluster, "ds", "IPv6")
    assert set(six) == {"ds-1"} and ipaddress.ip_address(six["ds-1"][0]).version == 6


def test_large_services_are_split_into_slices_of_100(cluster: Cluster) -> None:
    cluster.core.create_namespaced_service(
        "default",
        {"metadata": {"name": "big"}, "spec": {"selector": {"app": "big"}, "ports": [{"port": 80}]}},
    )
    items = [pod(f"big-{i:03d}", {"app": "big"}) for i in range(150)]
    for item in items:
        item["metadata"]["namespace"] = "default"
    cluster.mock("/_mock/load", {"items": items})
    sizes = sorted(len(s.endpoints) for s in slices(cluster, "big"))
    assert sizes == [50, 100]
    assert len(endpoints(cluster, "big")) == 150


def test_no_controllers(bare_cluster: Cluster) -> None:
    bare_cluster.core.create_namespaced_pod("default", pod("idle", {"app": "x"}))
    bare_cluster.core.create_namespaced_service(
        "default", {"metadata": {"name": "x"}, "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}]}}
    )
    assert bare_cluster.core.read_namespaced_pod("idle", "default").status.phase == "Pending"
    assert slices(bare_cluster, "x") == []


def test_slices_converge_under_concurrent_pod_changes(cluster: Cluster) -> None:
    import threading

    cluster.core.create_namespaced_service(
        "default",
        {"metadata": {"name": "busy"}, "spec": {"selector": {"app": "busy"}, "ports": [{"port": 80}]}},
    )

    def work(worker: int) -> None:
        for index in range(15):
            name = f"w{worker}-{index}"
            cluster.core.create_namespaced_pod("default", pod(name, {"app": "busy"}))
            if index % 3 == 0:
                cluster.core.delete_namespaced_pod(name, "default")
            elif index % 3 == 1:
                cluster.core.patch_namespaced_pod(name, "default", {"metadata": {"labels": {"app": "idle"}}})

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    selected = {
        p.metadata.name: p.status.pod_ip
        for p in cluster.core.list_namespaced_pod("default", label_selector="app=busy").items
    }
    assert len(selected) == 30
    assert {name: address for name, (address, _) in endpoints(cluster, "busy").items()} == selected


def egress_ip(name: str, *ips: str) -> dict[str, Any]:
    return {
        "apiVersion": "k8s.ovn.org/v1",
        "kind": "EgressIP",
        "metadata": {"name": name},
        "spec": {"egressIPs": list(ips), "namespaceSelector": {"matchLabels": {"env": "prod"}}},
    }


def test_egress_ips_are_assigned_to_assignable_nodes(cluster: Cluster) -> None:
    custom = cluster.custom
    custom.create_cluster_custom_object("k8s.ovn.org", "v1", "egressips", egress_ip("early", "192.0.2.1"))
    assert "status" not in custom.get_cluster_custom_object("k8s.ovn.org", "v1", "egressips", "early")
    for name in ("egress-a", "egress-b"):
        cluster.core.create_node(
            {"metadata": {"name": name, "labels": {"k8s.ovn.org/egress-assignable": ""}}}
        )
    cluster.core.create_node({"metadata": {"name": "worker"}})
    early = custom.get_cluster_custom_object("k8s.ovn.org", "v1", "egressips", "early")
    assert early["status"]["items"] == [{"egressIP": "192.0.2.1", "node": "egress-a"}]
    custom.create_cluster_custom_object(
        "k8s.ovn.org", "v1", "egressips", egress_ip("pair", "192.0.2.2", "192.0.2.3")
    )
    pair = custom.get_cluster_custom_object("k8s.ovn.org", "v1", "egressips", "pair")
    assert pair["status"]["items"] == [
        {"egressIP": "192.0.2.2", "node": "egress-a"},
        {"egressIP": "192.0.2.3", "node": "egress-b"},
    ]


def test_egress_ip_status_set_by_a_test_stays_without_assignable_nodes(cluster: Cluster) -> None:
    custom = cluster.custom
    custom.create_cluster_custom_object("k8s.ovn.org", "v1", "egressips", egress_ip("manual", "192.0.2.9"))
    status = {"status": {"items": [{"egressIP": "192.0.2.9", "node": "somewhere"}]}}
    custom.patch_cluster_custom_object_status("k8s.ovn.org", "v1", "egressips", "manual", status)
    cluster.core.create_node({"metadata": {"name": "plain"}})
    assert (
        custom.get_cluster_custom_object("k8s.ovn.org", "v1", "egressips", "manual")["status"]
        == status["status"]
    )


def test_app_with_nodes_schedules_onto_them_and_recreates_them_on_reset() -> None:
    from mocks.kube import KubeApp
    from tests.mocks.kube.conftest import start

    for cluster in start(KubeApp(nodes=3)):
        assert [n.metadata.name for n in cluster.core.list_node().items] == ["node-1", "node-2", "node-3"]
        cluster.core.create_namespaced_pod("default", pod("placed"))
        placed = cluster.core.read_namespaced_pod("placed", "default")
        assert placed.spec.node_name == "node-1" and placed.status.host_ip == "192.168.0.1"
        cluster.mock("/_mock/reset")
        assert len(cluster.core.list_node().items) == 3
        assert cluster.core.list_namespaced_pod("default").items == []


def test_host_network_pods_get_the_node_address(cluster: Cluster) -> None:
    add_nodes(cluster, "node-a")
    body = pod("host")
    body["spec"]["hostNetwork"] = True
    cluster.core.create_namespaced_pod("default", body)
    assert cluster.core.read_namespaced_pod("host", "default").status.pod_ip == "192.168.0.1"
