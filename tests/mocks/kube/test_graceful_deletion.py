"""Graceful deletion: Terminating pods, their endpoints and addresses, namespace finalization."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from mocks.kube import KubeApp
from tests.mocks.kube.conftest import Cluster, namespace, pod, start

GRACE = 1


@pytest.fixture
def nodes_cluster() -> Iterator[Cluster]:
    """Two Nodes, so pods are scheduled and deletions graceful; no default grace configured."""
    yield from start(KubeApp(nodes=2, bookmark_interval=0.2))


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def exists(cluster: Cluster, name: str, ns: str = "default") -> bool:
    try:
        cluster.core.read_namespaced_pod(name, ns)
    except ApiException as exc:
        assert exc.status == 404
        return False
    return True


def test_a_scheduled_pod_is_terminating_for_its_grace_period(nodes_cluster: Cluster) -> None:
    core = nodes_cluster.core
    core.create_namespaced_pod("default", pod("web", {"app": "web"}))
    core.create_namespaced_service(
        "default",
        {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}},
    )
    address = core.read_namespaced_pod("web", "default").status.pod_ip
    answer = core.delete_namespaced_pod("web", "default", grace_period_seconds=GRACE)
    assert answer.metadata.deletion_grace_period_seconds == GRACE
    assert answer.metadata.deletion_timestamp is not None
    terminating = core.read_namespaced_pod("web", "default")
    assert terminating.metadata.deletion_timestamp is not None

    def endpoint() -> Any:
        slices = nodes_cluster.discovery.list_namespaced_endpoint_slice("default").items
        found = [e for s in slices for e in s.endpoints or [] if e.target_ref.name == "web"]
        return found[0] if found and found[0].conditions.terminating else None

    conditions = eventually(endpoint).conditions
    assert (conditions.terminating, conditions.serving, conditions.ready) == (True, True, False)
    # the address stays taken while the pod terminates
    core.create_namespaced_pod("default", pod("other"))
    assert core.read_namespaced_pod("other", "default").status.pod_ip != address
    assert eventually(lambda: not exists(nodes_cluster, "web"))
    kubelet = nodes_cluster.app.kubelet
    assert kubelet is not None and address not in {str(a) for a in kubelet.pool._used}


def test_default_grace_is_the_pods_own_or_the_mocks(nodes_cluster: Cluster) -> None:
    core = nodes_cluster.core
    core.create_namespaced_pod("default", pod("slow"))
    deleted = core.delete_namespaced_pod("slow", "default")
    assert deleted.metadata.deletion_grace_period_seconds == 30  # spec.terminationGracePeriodSeconds
    again = core.delete_namespaced_pod("slow", "default", grace_period_seconds=0)
    assert again.metadata.name == "slow"
    assert not exists(nodes_cluster, "slow")
    nodes_cluster.app.api.pod_grace_seconds = 0
    core.create_namespaced_pod("default", pod("fast"))
    core.delete_namespaced_pod("fast", "default")
    assert not exists(nodes_cluster, "fast")


def test_unscheduled_pods_go_at_once(cluster: Cluster) -> None:
    cluster.core.create_namespaced_pod("default", pod("nowhere"))
    cluster.core.delete_namespaced_pod("nowhere", "default")
    assert not exists(cluster, "nowhere")


def test_grace_period_query_parameter(nodes_cluster: Cluster) -> None:
    nodes_cluster.core.create_namespaced_pod("default", pod("q"))
    status, body = nodes_cluster.raw("/api/v1/namespaces/default/pods/q?gracePeriodSeconds=7", "DELETE")
    assert status == 200 and body["metadata"]["deletionGracePeriodSeconds"] == 7


def test_a_namespace_terminates_after_its_content(nodes_cluster: Cluster) -> None:
    nodes_cluster.app.api.pod_grace_seconds = GRACE
    core = nodes_cluster.core
    core.create_namespace(namespace("shop"))
    core.create_namespaced_pod("shop", pod("cart"))
    core.create_namespaced_config_map("shop", {"metadata": {"name": "settings"}})
    status, deleted = nodes_cluster.raw("/api/v1/namespaces/shop", "DELETE")
    assert status == 200
    assert deleted["status"]["phase"] == "Terminating" and deleted["spec"]["finalizers"] == ["kubernetes"]
    assert core.read_namespace("shop").metadata.deletion_timestamp is not None
    assert core.list_namespaced_config_map("shop").items == []
    assert core.read_namespaced_pod("cart", "shop").metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_config_map("shop", {"metadata": {"name": "late"}})
    assert refused.value.status == 403
    assert json.loads(refused.value.body)["message"] == (
        'configmaps "late" is forbidden: unable to create new content in namespace shop because it is '
        "being terminated"
    )

    def gone() -> bool:
        try:
            core.read_namespace("shop")
        except ApiException as exc:
            return exc.status == 404
        return False

    assert eventually(gone)
    assert not exists(nodes_cluster, "cart", "shop")


def test_an_empty_namespace_is_removed_at_once(cluster: Cluster) -> None:
    cluster.core.create_namespace(namespace("empty"))
    cluster.core.delete_namespace("empty")
    with pytest.raises(ApiException) as caught:
        cluster.core.read_namespace("empty")
    assert caught.value.status == 404
