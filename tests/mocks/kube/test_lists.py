"""Lists: label and field selectors, limit/continue paging, resourceVersion, stale continue tokens."""

from __future__ import annotations

import pytest
from kubernetes.client.rest import ApiException

from tests.mocks.kube.conftest import Cluster, namespace, pod


@pytest.fixture
def populated(bare_cluster: Cluster) -> Cluster:
    core = bare_cluster.core
    core.create_namespace(namespace("blue"))
    core.create_namespace(namespace("green"))
    specs = [
        ("blue", "api-1", {"app": "api", "tier": "backend", "env": "prod"}, "node-1"),
        ("blue", "api-2", {"app": "api", "tier": "backend"}, "node-2"),
        ("blue", "web-1", {"app": "web", "tier": "frontend", "env": "dev"}, "node-1"),
        ("green", "db-1", {"app": "db", "env": "prod"}, "node-2"),
        ("green", "job-1", {"app": "job"}, None),
    ]
    for ns, name, labels, node in specs:
        body = pod(name, labels)
        if node:
            body["spec"]["nodeName"] = node
        core.create_namespaced_pod(ns, body)
    return bare_cluster


def names(items: list) -> list[str]:
    return sorted(item.metadata.name for item in items)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=api", ["api-1", "api-2"]),
        ("app==web", ["web-1"]),
        ("app!=api", ["db-1", "job-1", "web-1"]),
        ("app in (api,db)", ["api-1", "api-2", "db-1"]),
        ("app notin (api, db)", ["job-1", "web-1"]),
        ("env", ["api-1", "db-1", "web-1"]),
        ("!env", ["api-2", "job-1"]),
        ("tier=backend,env=prod", ["api-1"]),
        ("env in (prod),app!=db", ["api-1"]),
    ],
)
def test_label_selectors(populated: Cluster, selector: str, expected: list[str]) -> None:
    assert names(populated.core.list_pod_for_all_namespaces(label_selector=selector).items) == expected


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=api-1", ["api-1"]),
        ("metadata.namespace=green", ["db-1", "job-1"]),
        ("metadata.namespace!=green", ["api-1", "api-2", "web-1"]),
        ("spec.nodeName=node-1", ["api-1", "web-1"]),
        ("spec.nodeName=", ["job-1"]),
        ("status.phase=Pending,spec.nodeName==node-2", ["api-2", "db-1"]),
    ],
)
def test_field_selectors(populated: Cluster, selector: str, expected: list[str]) -> None:
    assert names(populated.core.list_pod_for_all_namespaces(field_selector=selector).items) == expected


def test_unknown_field_selector_is_400(populated: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        populated.core.list_namespaced_pod("blue", field_selector="spec.color=red")
    assert caught.value.status == 400
    assert "field label not supported: spec.color" in caught.value.body


def test_malformed_label_selector_is_400(populated: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        populated.core.list_namespaced_pod("blue", label_selector="app in (a,b")
    assert caught.value.status == 400


def test_namespaced_list_and_resource_versions(populated: Cluster) -> None:
    listing = populated.core.list_namespaced_pod("blue")
    assert names(listing.items) == ["api-1", "api-2", "web-1"]
    assert int(listing.metadata.resource_version) >= max(
        int(p.metadata.resource_version) for p in listing.items
    )
    assert all(p.metadata.resource_version for p in listing.items)


def test_paging_with_continue_visits_everything_once(populated: Cluster) -> None:
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = populated.core.list_pod_for_all_namespaces(limit=2, _continue=token)
        pages += 1
        assert len(page.items) <= 2
        seen.extend(f"{p.metadata.namespace}/{p.metadata.name}" for p in page.items)
        token = page.metadata._continue
        if not token:
            break
    assert pages == 3
    assert seen == ["blue/api-1", "blue/api-2", "blue/web-1", "green/db-1", "green/job-1"]


def test_paging_with_selector(populated: Cluster) -> None:
    first = populated.core.list_pod_for_all_namespaces(limit=1, label_selector="env")
    second = populated.core.list_pod_for_all_namespaces(
        limit=5, label_selector="env", _continue=first.metadata._continue
    )
    assert names(first.items) + names(second.items) == ["api-1", "db-1", "web-1"]
    assert not second.metadata._continue


def test_continue_after_compaction_is_410_expired(populated: Cluster) -> None:
    first = populated.core.list_pod_for_all_namespaces(limit=2)
    populated.core.create_namespaced_pod("blue", pod("late"))
    populated.mock("/_mock/compact")
    with pytest.raises(ApiException) as caught:
        populated.core.list_pod_for_all_namespaces(limit=2, _continue=first.metadata._continue)
    assert caught.value.status == 410
    assert '"reason":"Expired"' in caught.value.body


def test_garbage_continue_token_is_400(populated: Cluster) -> None:
    with pytest.raises(ApiException) as caught:
        populated.core.list_pod_for_all_namespaces(limit=2, _continue="%%%")
    assert caught.value.status == 400
