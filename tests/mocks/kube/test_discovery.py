"""Discovery documents as the client reads them, and the plain endpoints."""

from __future__ import annotations

from kubernetes import client

from tests.mocks.kube.conftest import Cluster


def test_version(cluster: Cluster) -> None:
    info = client.VersionApi(cluster.api_client).get_code()
    assert info.major == "1" and info.git_version.startswith("v1.")


def test_core_group_and_resources(cluster: Cluster) -> None:
    versions = client.CoreApi(cluster.api_client).get_api_versions()
    assert versions.versions == ["v1"]
    resources = cluster.core.get_api_resources()
    by_name = {r.name: r for r in resources.resources}
    assert {"namespaces", "pods", "services", "nodes", "events", "pods/status"} <= set(by_name)
    assert by_name["pods"].namespaced and not by_name["nodes"].namespaced
    assert "watch" in by_name["pods"].verbs and by_name["pods"].short_names == ["po"]


def test_group_list_and_group_versions(cluster: Cluster) -> None:
    groups = {g.name: g for g in client.ApisApi(cluster.api_client).get_api_versions().groups}
    for name in (
        "discovery.k8s.io",
        "coordination.k8s.io",
        "events.k8s.io",
        "apiextensions.k8s.io",
        "k8s.ovn.org",
    ):
        assert groups[name].preferred_version.group_version == f"{name}/v1"
    assert {r.name for r in cluster.discovery.get_api_resources().resources} == {"endpointslices"}
    assert {r.name for r in cluster.coordination.get_api_resources().resources} == {"leases"}
    group = client.DiscoveryApi(cluster.api_client).get_api_group()
    assert group.name == "discovery.k8s.io"


def test_trailing_slashes_and_missing_documents(cluster: Cluster) -> None:
    for path in ("/api/", "/apis/", "/api/v1/", "/apis/discovery.k8s.io/v1/", "/version/"):
        status, body = cluster.raw(path)
        assert status == 200, path
        assert body
    assert cluster.raw("/apis/nothing.example/v1")[0] == 404
    assert cluster.raw("/openapi/v3/apis/nothing.example/v1")[0] == 404


def test_health_endpoints(cluster: Cluster) -> None:
    import urllib.request

    for path in ("/healthz", "/readyz", "/livez"):
        with urllib.request.urlopen(cluster.url + path, timeout=5) as response:
            assert response.read() == b"ok"


def test_dynamic_client_discovers_builtin_and_crd_kinds(cluster: Cluster) -> None:
    from kubernetes import dynamic

    from tests.mocks.kube.test_custom_resources import GROUP, widget, widget_crd

    dyn = dynamic.DynamicClient(cluster.api_client)
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    crds.create(body=widget_crd())
    assert dyn.resources.get(api_version="v1", kind="Pod").namespaced
    assert not dyn.resources.get(api_version="k8s.ovn.org/v1", kind="EgressIP").namespaced
    widgets = dyn.resources.get(api_version=f"{GROUP}/v1", kind="Widget")
    created = widgets.create(body=widget("dyn"), namespace="default")
    assert created.spec.priority == 500


def test_pods_and_services_are_in_the_all_category(cluster: Cluster) -> None:
    resources = {r["name"]: r for r in cluster.raw("/api/v1")[1]["resources"]}
    assert resources["pods"]["categories"] == ["all"] and resources["services"]["categories"] == ["all"]
    assert "categories" not in resources["configmaps"]
    token = resources["serviceaccounts/token"]
    assert (token["group"], token["kind"], token["verbs"]) == (
        "authentication.k8s.io",
        "TokenRequest",
        ["create"],
    )
