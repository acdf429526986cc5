from __future__ import annotations

import copy
import sys
from datetime import UTC, datetime

from connector.cluster import Kind, StaticView
from connector.compiler.addresses import STARTED, pod_started, read_pod
from connector.sources.transform import LAST_APPLIED, transform

POD = {
    "metadata": {
        "name": "web-1", "namespace": "shop", "uid": "u1", "resourceVersion": "42",
        "labels": {"app": "web"}, "generateName": "web-",
        "annotations": {LAST_APPLIED: "{...}", "team": "a"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "r1",
                             "controller": True, "blockOwnerDeletion": True}],
        "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z",
        "deletionTimestamp": "2026-01-02T00:00:00Z",
        "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
    },
    "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx", "env": [{"name": "A"}]}],
             "volumes": [{"name": "v"}]},
    "status": {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}],
               "hostIP": "192.0.2.1", "containerStatuses": [{"name": "c", "ready": True}],
               "conditions": [{"type": "Ready", "status": "True"}]},
}


def test_pod_keeps_identity_placement_and_addresses_only() -> None:
    original = copy.deepcopy(POD)
    pruned = transform(Kind.POD, POD)
    assert original == POD  # the input is never mutated
    assert pruned == {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1", "resourceVersion": "42",
                     "labels": {"app": "web"}, "annotations": {"team": "a"},
                     "ownerReferences": [{"kind": "ReplicaSet", "name": "web", "uid": "r1",
                                          "controller": True}],
                     "deletionTimestamp": "2026-01-02T00:00:00Z",
                     STARTED: int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())},
        "spec": {"nodeName": "n1"},
        "status": {"phase": "Running", "podIP": "10.0.0.5",
                   "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}], "hostIP": "192.0.2.1"},
    }


def test_annotations_vanish_when_only_last_applied_was_there() -> None:
    obj = {"metadata": {"name": "ns1", "annotations": {LAST_APPLIED: "{}"}}, "status": {"phase": "Active"}}
    assert transform(Kind.NAMESPACE, obj) == {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": "ns1"}, "status": {"phase": "Active"}}


def test_node_keeps_addresses_and_pod_cidrs() -> None:
    node = {"metadata": {"name": "n1", "managedFields": [{}]},
            "spec": {"podCIDR": "10.0.1.0/24", "podCIDRs": ["10.0.1.0/24"], "taints": []},
            "status": {"addresses": [{"type": "InternalIP", "address": "192.0.2.1"}],
                       "images": [{"names": ["x"]}] * 50, "capacity": {"cpu": "4"}}}
    assert transform(Kind.NODE, node) == {
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
        "spec": {"podCIDR": "10.0.1.0/24", "podCIDRs": ["10.0.1.0/24"]},
        "status": {"addresses": [{"type": "InternalIP", "address": "192.0.2.1"}]}}


def test_endpoint_slice_keeps_endpoints_ports_and_target_refs() -> None:
    eps = {"metadata": {"name": "web-abc", "namespace": "shop",
                        "labels": {"kubernetes.io/service-name": "web"}},
           "addressType": "IPv4",
           "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": False}, "nodeName": "n1",
                          "zone": "a", "hints": {},
                          "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "shop", "uid": "u1",
                                        "resourceVersion": "9"}}],
           "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    pruned = transform(Kind.ENDPOINT_SLICE, eps)
    assert pruned["apiVersion"] == "discovery.k8s.io/v1" and pruned["kind"] == "EndpointSlice"
    assert pruned["addressType"] == "IPv4" and pruned["ports"] == eps["ports"]
    assert pruned["endpoints"] == [{"addresses": ["10.0.0.5"], "conditions": {"ready": False},
                                    "nodeName": "n1",
                                    "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "shop",
                                                  "uid": "u1"}}]


def test_custom_resources_keep_spec_and_status_and_fit_a_static_view() -> None:
    rule = {"metadata": {"name": "r", "namespace": "shop", "generation": 3, "managedFields": []},
            "spec": {"priority": 10, "action": "Deny"}, "status": {"observedGeneration": 2}}
    pruned = transform(Kind.NAMESPACE_EGRESS_RULE, rule)
    assert pruned == {"apiVersion": "fusion-connector.io/v1alpha1", "kind": "NamespaceEgressRule",
                      "metadata": {"name": "r", "namespace": "shop", "generation": 3},
                      "spec": {"priority": 10, "action": "Deny"}, "status": {"observedGeneration": 2}}
    egress_ip = transform(Kind.EGRESS_IP, {"metadata": {"name": "e"}, "spec": {"egressIPs": ["192.0.2.9"]}})
    view = StaticView([pruned, egress_ip])
    assert view.get(Kind.EGRESS_IP, "", "e") == egress_ip
    assert view.list(Kind.NAMESPACE_EGRESS_RULE, "shop") == [pruned]


def test_malformed_objects_do_not_crash_the_transform() -> None:
    assert transform(Kind.POD, {"metadata": {"name": "x"}, "spec": None, "status": "weird"}) == {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {}, "status": {}}


def test_host_network_flag_survives_the_transform_and_reaches_the_compiler() -> None:
    obj = copy.deepcopy(POD)
    obj["spec"]["hostNetwork"] = True
    obj["status"].update(podIP="192.0.2.1", podIPs=[{"ip": "192.0.2.1"}])
    pruned = transform(Kind.POD, obj)
    assert pruned["spec"] == {"nodeName": "n1", "hostNetwork": True}
    info = read_pod(pruned)
    assert info.host_network and info.ips == ("192.0.2.1",) and info.members == ()
    assert not read_pod(transform(Kind.POD, POD)).host_network


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def test_a_pod_keeps_when_it_may_first_have_held_its_addresses_as_one_int() -> None:
    obj = copy.deepcopy(POD)
    obj["metadata"]["creationTimestamp"] = "2026-12-06T11:50:00Z"
    obj["status"]["startTime"] = "2026-12-06T11:50:03Z"  # the kubelet started it: the later bound
    pruned = transform(Kind.POD, obj)
    assert pruned["metadata"][STARTED] == epoch("2026-12-06T11:50:03+00:00")
    assert "startTime" not in pruned["status"] and "creationTimestamp" not in pruned["metadata"]
    assert type(pruned["metadata"][STARTED]) is int  # small: no time strings kept per pod
    assert read_pod(pruned).started == read_pod(obj).started == epoch("2026-12-06T11:50:03+00:00")
    # a node clock running late: the API server's creation stamp bounds it
    obj["status"]["startTime"] = "2026-12-06T11:49:00Z"
    assert transform(Kind.POD, obj)["metadata"][STARTED] == epoch("2026-12-06T11:50:00+00:00")
    # not started yet: the creation time alone
    del obj["status"]["startTime"]
    assert pod_started(transform(Kind.POD, obj)) == epoch("2026-12-06T11:50:00+00:00")
    # transforming the cache's own copy again keeps it (snapshots are read back as they are)
    assert transform(Kind.POD, transform(Kind.POD, obj)) == transform(Kind.POD, obj)


def test_a_pod_without_a_readable_time_has_no_start() -> None:
    for bad in (None, "", "yesterday", "2026-12-06T11:50:00", 1765021800):  # naive or not a string
        obj = copy.deepcopy(POD)
        obj["metadata"]["creationTimestamp"] = bad
        pruned = transform(Kind.POD, obj)
        assert STARTED not in pruned["metadata"], bad
        assert read_pod(pruned).started == 0


def test_the_start_adds_little_to_a_cached_pod() -> None:
    without = copy.deepcopy(POD)
    del without["metadata"]["creationTimestamp"]
    pruned, bare = transform(Kind.POD, POD), transform(Kind.POD, without)
    # the metadata dict keeps its size; the int is the only new object
    assert sys.getsizeof(pruned["metadata"]) == sys.getsizeof(bare["metadata"])
    assert sys.getsizeof(pruned["metadata"][STARTED]) <= 32
