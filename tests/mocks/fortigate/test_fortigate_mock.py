"""The FortiGate mock speaks FortiOS: envelope, error codes, limits, integrity, queries, move,
member child table, collection purge, auth, monitor status, and the `python -m mocks` entry point."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mocks.common.http import HttpServer
from mocks.fortigate import FortigateMock

TOKEN = "t0ken"
ADDR = "/api/v2/cmdb/firewall/address"
GRP = "/api/v2/cmdb/firewall/addrgrp"
SVC = "/api/v2/cmdb/firewall.service/custom"
POL = "/api/v2/cmdb/firewall/policy"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FortigateMock, str]]:
    app = FortigateMock(token=TOKEN, vdoms=("root", "dmz"))
    http = HttpServer(app).start()
    yield app, http.url
    http.stop()


@pytest.fixture
def api(server: tuple[FortigateMock, str]) -> Iterator[httpx.Client]:
    app, url = server
    app.reset()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


def policy(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "srcintf": [{"name": "port2"}], "dstintf": [{"name": "port1"}],
            "srcaddr": [{"name": "all"}], "dstaddr": [{"name": "all"}], "service": [{"name": "ALL"}],
            "action": "accept", "schedule": "always", **extra}


def test_create_envelope_and_subnet_read_back_in_mask_form(api: httpx.Client) -> None:
    created = api.post(ADDR, json={"name": "h1", "subnet": "10.192.0.0/255.255.0.0", "comment": "x"})
    body = created.json()
    assert created.status_code == 200
    for key in ("http_method", "revision", "old_revision", "revision_changed", "mkey", "status",
                "http_status", "vdom", "path", "name", "serial", "version", "build"):
        assert key in body, key
    assert (body["http_method"], body["mkey"], body["vdom"], body["path"], body["name"]) == \
        ("POST", "h1", "root", "firewall", "address")
    got = api.get(f"{ADDR}/h1").json()
    assert got["results"][0]["subnet"] == "10.192.0.0 255.255.0.0"
    api.post(ADDR, json={"name": "h2", "subnet": "10.0.0.7/32"})
    assert api.get(f"{ADDR}/h2").json()["results"][0]["subnet"] == "10.0.0.7 255.255.255.255"


def test_duplicate_is_error_minus_5(api: httpx.Client) -> None:
    api.post(ADDR, json={"name": "dup", "subnet": "10.0.0.1/32"})
    again = api.post(ADDR, json={"name": "dup", "subnet": "10.0.0.1/32"})
    assert again.status_code == 500
    assert again.json()["error"] == -5 and again.json()["status"] == "error"


def test_unknown_mkey_is_404(api: httpx.Client) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = api.request(method, f"{ADDR}/missing", json={} if method == "PUT" else None)
        assert response.status_code == 404 and response.json()["http_status"] == 404


def test_length_limits(api: httpx.Client) -> None:
    assert api.post(ADDR, json={"name": "n" * 79, "subnet": "10.0.0.1/32"}).status_code == 200
    too_long = api.post(ADDR, json={"name": "n" * 80, "subnet": "10.0.0.1/32"})
    assert too_long.status_code == 500 and too_long.json()["error"] == -1
    long_comment = {"name": "c", "subnet": "10.0.0.1/32", "comment": "c" * 256}
    assert api.post(ADDR, json=long_comment).json()["error"] == -1
    assert api.post(POL, json=policy("p" * 35)).status_code == 200
    assert api.post(POL, json=policy("q" * 36)).json()["error"] == -1
    members = [{"name": f"a{i}"} for i in range(601)]
    for member in members:
        api.post(ADDR, json={"name": member["name"], "subnet": "10.0.0.1/32"})
    assert api.post(GRP, json={"name": "big", "member": members}).json()["error"] == -1
    assert api.post(GRP, json={"name": "ok", "member": members[:600]}).status_code == 200


def test_referential_integrity_and_in_use(api: httpx.Client) -> None:
    missing = api.post(GRP, json={"name": "g", "member": [{"name": "nope"}]})
    assert missing.status_code == 500 and missing.json()["error"] == -3
    api.post(ADDR, json={"name": "a", "subnet": "10.0.0.1/32"})
    api.post(GRP, json={"name": "g", "member": [{"name": "a"}]})
    in_use = api.delete(f"{ADDR}/a")
    assert in_use.status_code == 500 and in_use.json()["error"] == -23
    assert api.post(POL, json=policy("p", dstaddr=[{"name": "nothere"}])).json()["error"] == -3
    assert api.post(POL, json=policy("p", srcintf=[{"name": "port99"}])).json()["error"] == -3
    api.post(POL, json=policy("p", dstaddr=[{"name": "g"}]))
    assert api.delete(f"{GRP}/g").json()["error"] == -23


def test_member_child_table(api: httpx.Client) -> None:
    for name in ("a", "b/1"):
        api.post(ADDR, json={"name": name, "subnet": "10.0.0.1/32"})
    api.post(GRP, json={"name": "g:x/y", "member": [{"name": "a"}]})
    group = "/api/v2/cmdb/firewall/addrgrp/g%3Ax%2Fy"
    assert api.post(f"{group}/member", json={"name": "b/1"}).status_code == 200
    assert api.post(f"{group}/member", json={"name": "b/1"}).json()["error"] == -5
    assert [m["name"] for m in api.get(f"{group}/member").json()["results"]] == ["a", "b/1"]
    assert api.delete(f"{group}/member/b%2F1").status_code == 200
    assert api.delete(f"{group}/member/b%2F1").status_code == 404
    assert api.delete(f"{group}/member/a").json()["error"] == -20  # a group is never left empty
    assert api.post("/api/v2/cmdb/firewall/addrgrp/nope/member", json={"name": "a"}).status_code == 404


def test_policies_keep_evaluation_order_and_move(api: httpx.Client) -> None:
    ids = [api.post(POL, json=policy(f"p{i}")).json()["mkey"] for i in range(4)]
    assert ids == [1, 2, 3, 4]
    moved = api.put(f"{POL}/4", params={"action": "move", "before": 2})
    assert moved.json()["action"] == "move" and moved.json()["mkey"] == 4
    api.put(f"{POL}/1", params={"action": "move", "after": 3})
    assert [p["policyid"] for p in api.get(POL).json()["results"]] == [4, 2, 3, 1]
    assert api.put(f"{POL}/1", params={"action": "move", "before": 99}).json()["error"] == -3
    assert api.post(POL, json=policy("p0")).json()["error"] == -5


def test_filter_format_start_count(api: httpx.Client) -> None:
    for i in range(5):
        api.post(ADDR, json={"name": f"x{i}", "subnet": f"10.0.0.{i}/32",
                             "comment": "fusion-connector:prod" if i % 2 else "corp"})
    ours = api.get(ADDR, params={"filter": "comment=@fusion-connector"}).json()["results"]
    assert [a["name"] for a in ours] == ["x1", "x3"]
    one = api.get(ADDR, params={"filter": "name==x2"}).json()
    assert [a["name"] for a in one["results"]] == ["x2"] and one["matched_count"] == 1
    either = api.get(ADDR, params=[("filter", "name==x2,name==x4"), ("filter", "comment!@fusion")]).json()
    assert [a["name"] for a in either["results"]] == ["x2", "x4"]
    projected = api.get(ADDR, params={"format": "name|subnet", "filter": "name==x0"}).json()["results"][0]
    assert projected == {"name": "x0", "subnet": "10.0.0.0 255.255.255.255", "q_origin_key": "x0"}
    page = api.get(ADDR, params={"start": 2, "count": 2, "filter": "name=@x"}).json()["results"]
    assert [a["name"] for a in page] == ["x2", "x3"]
    assert api.get(ADDR, params={"filter": "garbage"}).status_code == 400


def test_vdoms_are_separate_and_unknown_vdom_fails(api: httpx.Client) -> None:
    api.post(ADDR, params={"vdom": "dmz"}, json={"name": "only-dmz", "subnet": "10.0.0.1/32"})
    assert api.get(f"{ADDR}/only-dmz", params={"vdom": "dmz"}).status_code == 200
    assert api.get(f"{ADDR}/only-dmz").status_code == 404
    unknown = api.get(ADDR, params={"vdom": "nope"})
    assert unknown.status_code == 404 and "nope" in unknown.json()["cli_error"]


def test_collection_delete_purges_unreferenced_entries(api: httpx.Client) -> None:
    for name in ("used", "free1", "free2"):
        api.post(ADDR, json={"name": name, "subnet": "10.0.0.1/32"})
    api.post(GRP, json={"name": "g", "member": [{"name": "used"}]})
    assert api.delete(ADDR).status_code == 200
    # the predefined `all` and `none` stay, like the referenced entry
    assert sorted(a["name"] for a in api.get(ADDR).json()["results"]) == ["all", "none", "used"]


def test_services(api: httpx.Client) -> None:
    body = {"name": "web", "protocol": "TCP/UDP/SCTP", "tcp-portrange": "80 8000-8080", "udp-portrange": "53"}
    assert api.post(SVC, json=body).status_code == 200
    got = api.get(f"{SVC}/web").json()["results"][0]
    assert (got["tcp-portrange"], got["udp-portrange"], got["sctp-portrange"]) == ("80 8000-8080", "53", "")
    assert api.post(SVC, json={"name": "bad", "tcp-portrange": "70000"}).json()["error"] == -363


def test_auth_and_status(server: tuple[FortigateMock, str]) -> None:
    _, url = server
    with httpx.Client(base_url=url) as client:
        denied = client.get(ADDR, headers={"Authorization": "Bearer wrong"})
        assert denied.status_code == 401 and denied.headers["content-type"].startswith("text/html")
        status = client.get("/api/v2/monitor/system/status", headers={"Authorization": f"Bearer {TOKEN}"})
        assert status.json()["version"] == "v6.4.14" and status.json()["serial"]
        assert client.get(ADDR, params={"access_token": TOKEN}).status_code == 200


def test_mock_endpoints_faults_and_log(api: httpx.Client, server: tuple[FortigateMock, str]) -> None:
    _, url = server
    with httpx.Client(base_url=url) as plain:
        plain.post("/_mock/faults", json={"status": 503, "times": 1}).raise_for_status()
        assert api.get(ADDR).status_code == 503
        assert api.get(ADDR).status_code == 200
        log = plain.get("/_mock/requests").json()["requests"]
        assert [(e["method"], e["status"]) for e in log[-2:]] == [("GET", 503), ("GET", 200)]
        api.post(ADDR, json={"name": "gone", "subnet": "10.0.0.1/32"})
        plain.post("/_mock/reset").raise_for_status()
        assert api.get(f"{ADDR}/gone").status_code == 404


def test_command_line_entry_point() -> None:
    process = subprocess.Popen([sys.executable, "-m", "mocks", "fortigate", "--port", "0", "--token", "abc"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.split()[-1]
        response = httpx.get(f"{url}/api/v2/monitor/system/status", headers={"Authorization": "Bearer abc"})
        assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
