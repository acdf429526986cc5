"""A test sets pod addresses on the kube mock (flow attribution replays reused addresses): a pod
created with a status that has a phase and podIP/podIPs keeps them, the addresses are reserved in
the kubelet's pool while the pod exists, and return to it when the pod is deleted."""

from __future__ import annotations

from typing import Any

from tests.mocks.kube.conftest import Cluster

PODS = "/api/v1/namespaces/default/pods"


def pod(name: str, *ips: str) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                            "spec": {"containers": [{"name": "app", "image": "busybox"}]}}
    if ips:
        body["status"] = {"phase": "Running", "podIP": ips[0], "podIPs": [{"ip": ip} for ip in ips]}
    return body


def create(cluster: Cluster, body: dict[str, Any]) -> None:
    status, answer = cluster.raw(PODS, "POST", body)
    assert status == 201, answer


def read(cluster: Cluster, name: str) -> dict[str, Any]:
    status, answer = cluster.raw(f"{PODS}/{name}")
    assert status == 200, answer
    return dict(answer)


def addresses(cluster: Cluster, name: str) -> list[str]:
    return [entry["ip"] for entry in read(cluster, name)["status"].get("podIPs") or []]


def test_given_addresses_are_kept_and_reserved(cluster: Cluster) -> None:
    kubelet = cluster.app.kubelet
    assert kubelet is not None
    given = str(kubelet.pool.network.network_address + 1)  # the address the kubelet would hand out next
    create(cluster, pod("given", given, "fd00:10:244::1"))
    assert addresses(cluster, "given") == [given, "fd00:10:244::1"]
    create(cluster, pod("assigned"))
    assigned = addresses(cluster, "assigned")
    assert len(assigned) == 1 and assigned[0] != given, "the given address is reserved"


def test_an_address_is_reused_after_its_pod_is_deleted(cluster: Cluster) -> None:
    create(cluster, pod("old-owner", "10.244.7.7"))
    old_uid = read(cluster, "old-owner")["metadata"]["uid"]
    status, _ = cluster.raw(f"{PODS}/old-owner", "DELETE", {"gracePeriodSeconds": 0})
    assert status == 200
    create(cluster, pod("new-owner", "10.244.7.7"))
    new = read(cluster, "new-owner")
    assert new["status"]["podIP"] == "10.244.7.7" and new["metadata"]["uid"] != old_uid
