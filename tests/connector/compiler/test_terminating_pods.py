"""A terminating pod (deletionTimestamp set, its endpoints `terminating`, not `ready`) still sends
traffic until it is gone: its address stays in every group it belongs to, and rules keep deciding
for it, until the pod is deleted."""

from __future__ import annotations

from typing import Any

from connector.cluster import Kind
from connector.compiler import CompileResult
from connector.sources.transform import transform
from tests.connector.compiler.builders import (
    endpoint_slice,
    namespace,
    namespace_rule,
    pod,
    service,
    service_rule,
)
from tests.connector.compiler.helpers import compile_objects, verdict

TERMINATING_IP = "10.0.0.1"


def terminating(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = {
        **obj["metadata"],
        "deletionTimestamp": "2030-01-01T00:00:30Z",
        "deletionGracePeriodSeconds": 30,
    }
    return {**obj, "metadata": metadata}


def draining_slice() -> dict[str, Any]:
    body = endpoint_slice("shop", "web", [TERMINATING_IP, "10.0.0.2"])
    body["endpoints"][0]["conditions"] = {"ready": False, "serving": True, "terminating": True}
    return body


def shop(web_1: dict[str, Any] | None, slice_: dict[str, Any]) -> list[dict[str, Any]]:
    objects = [
        namespace("shop"),
        pod("shop", "web-2", "10.0.0.2", labels={"app": "web"}),
        service("shop", "web"),
        slice_,
        service_rule("shop", "web-out", "Allow", "web"),
        namespace_rule("shop", "rest", "Deny"),
    ]
    return objects + ([web_1] if web_1 is not None else [])


def addresses(result: CompileResult) -> set[str]:
    return {a for group in result.devices["fw1"].groups.values() for a in group.addresses}


def test_a_terminating_pod_keeps_its_address_until_it_is_deleted() -> None:
    web_1 = pod("shop", "web-1", TERMINATING_IP, labels={"app": "web"})
    running = compile_objects(shop(web_1, endpoint_slice("shop", "web", [TERMINATING_IP, "10.0.0.2"])))
    draining = compile_objects(shop(terminating(web_1), draining_slice()))
    assert TERMINATING_IP in addresses(draining)
    assert {n: g.addresses for n, g in draining.devices["fw1"].groups.items()} == {
        n: g.addresses for n, g in running.devices["fw1"].groups.items()
    }
    decided = verdict(draining, "fw1", TERMINATING_IP, "203.0.113.5", 443)
    assert decided == verdict(running, "fw1", TERMINATING_IP, "203.0.113.5", 443) and decided is not None
    gone = compile_objects(shop(None, endpoint_slice("shop", "web", ["10.0.0.2"])))
    assert TERMINATING_IP not in addresses(gone)
    assert verdict(gone, "fw1", TERMINATING_IP, "203.0.113.5", 443) is None


def test_the_watch_transform_keeps_the_deletion_mark_and_the_addresses() -> None:
    kept = transform(Kind.POD, terminating(pod("shop", "web-1", TERMINATING_IP)))
    assert kept["metadata"]["deletionTimestamp"] == "2030-01-01T00:00:30Z"
    assert kept["status"]["podIPs"] == [{"ip": TERMINATING_IP}]
