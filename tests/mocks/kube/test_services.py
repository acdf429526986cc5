"""Details clients print: node ports are allocated; ExternalName Services get no slices; empty
metadata maps and lists are not stored (ObjectMeta omits them)."""

from __future__ import annotations

from tests.mocks.kube.conftest import Cluster, pod


def test_node_ports_are_allocated_from_the_default_range(cluster: Cluster) -> None:
    created = cluster.core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": "np"},
            "spec": {
                "type": "NodePort",
                "selector": {"app": "x"},
                "ports": [{"port": 80}, {"port": 443, "nodePort": 31000}],
            },
        },
    )
    first, second = created.spec.ports
    assert 30000 <= first.node_port <= 32767 and second.node_port == 31000
    plain = cluster.core.create_namespaced_service(
        "default", {"metadata": {"name": "ip"}, "spec": {"ports": [{"port": 80}]}}
    )
    assert plain.spec.ports[0].node_port is None


def test_external_name_services_get_no_endpoint_slices(cluster: Cluster) -> None:
    cluster.core.create_namespaced_pod("default", pod("web", {"app": "web"}))
    cluster.core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": "ext"},
            "spec": {"type": "ExternalName", "externalName": "example.com", "selector": {"app": "web"}},
        },
    )
    cluster.core.create_namespaced_service(
        "default",
        {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}},
    )
    owners = {
        s.metadata.labels["kubernetes.io/service-name"]
        for s in cluster.discovery.list_namespaced_endpoint_slice("default").items
    }
    assert owners == {"web"}


def test_empty_metadata_maps_are_not_stored(cluster: Cluster) -> None:
    status, created = cluster.raw(
        "/api/v1/namespaces/default/configmaps",
        "POST",
        {"metadata": {"name": "c", "annotations": {}, "finalizers": []}},
    )
    assert status == 201
    assert "annotations" not in created["metadata"] and "finalizers" not in created["metadata"]
