"""Table sizes of the FortiGate mock: a create in a full table fails with FortiOS error -4, set at
start (`--table-size PATH=N`) or at run time (`/_mock/tables`); the 600-member addrgrp limit."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mocks.common.http import HttpServer
from mocks.fortigate import FortigateMock, add_arguments, create_app

TOKEN = "t0ken"
ADDR = "/api/v2/cmdb/firewall/address"
GRP = "/api/v2/cmdb/firewall/addrgrp"
SVC = "/api/v2/cmdb/firewall.service/custom"
POL = "/api/v2/cmdb/firewall/policy"


def policy(name: str) -> dict[str, Any]:
    return {"name": name, "srcintf": [{"name": "port2"}], "dstintf": [{"name": "port1"}],
            "srcaddr": [{"name": "all"}], "dstaddr": [{"name": "all"}], "service": [{"name": "ALL"}],
            "action": "accept", "schedule": "always"}


@pytest.fixture
def served() -> Iterator[tuple[FortigateMock, httpx.Client]]:
    # addresses: 2 predefined (all, none) + 3 of ours
    sizes = {"firewall/address": 5, "firewall/addrgrp": 1, "firewall.service/custom": 4, "firewall/policy": 2}
    app = FortigateMock(token=TOKEN, vdoms=("root", "dmz"), table_sizes=sizes)
    with HttpServer(app) as server, httpx.Client(base_url=server.url,
                                                 headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield app, client


def assert_table_full(response: httpx.Response, method: str, name: str) -> None:
    body = response.json()
    assert response.status_code == 500
    assert (body["status"], body["http_status"], body["error"]) == ("error", 500, -4)
    assert (body["http_method"], body["name"], body["revision_changed"]) == (method, name, False)
    assert "Maximum number of entries has been reached" in body["cli_error"]


def test_a_create_beyond_the_table_size_fails_with_minus_4(
        served: tuple[FortigateMock, httpx.Client]) -> None:
    _, api = served
    for i in range(3):
        assert api.post(ADDR, json={"name": f"a{i}", "subnet": f"10.0.0.{i}/32"}).status_code == 200
    assert_table_full(api.post(ADDR, json={"name": "a3", "subnet": "10.0.0.3/32"}), "POST", "address")
    assert api.get(f"{ADDR}/a3").status_code == 404, "nothing created"
    assert api.post(ADDR, json={"name": "a0", "subnet": "10.0.0.9/32"}).json()["error"] == -5, \
        "a duplicate is still a duplicate"
    assert api.put(f"{ADDR}/a0", json={"comment": "updates need no room"}).status_code == 200
    assert api.delete(f"{ADDR}/a0").status_code == 200
    assert api.post(ADDR, json={"name": "a3", "subnet": "10.0.0.3/32"}).status_code == 200, "room again"


def test_every_limited_table_refuses_its_own_creates(served: tuple[FortigateMock, httpx.Client]) -> None:
    _, api = served
    assert api.post(GRP, json={"name": "g1", "member": [{"name": "all"}]}).status_code == 200
    assert_table_full(api.post(GRP, json={"name": "g2", "member": [{"name": "all"}]}), "POST", "addrgrp")
    assert api.post(SVC, json={"name": "web", "tcp-portrange": "80"}).status_code == 200  # 3 predefined
    assert_table_full(api.post(SVC, json={"name": "dns2", "udp-portrange": "53"}), "POST", "custom")
    assert api.post(POL, json=policy("p1")).status_code == 200
    assert api.post(POL, json=policy("p2")).status_code == 200
    assert_table_full(api.post(POL, json=policy("p3")), "POST", "policy")
    assert [p["name"] for p in api.get(POL).json()["results"]] == ["p1", "p2"]
    assert api.post(ADDR, json={"name": "free", "subnet": "10.0.0.1/32"}).status_code == 200


def test_sizes_apply_per_vdom(served: tuple[FortigateMock, httpx.Client]) -> None:
    _, api = served
    assert api.post(GRP, json={"name": "g1", "member": [{"name": "all"}]}).status_code == 200
    in_dmz = api.post(GRP, params={"vdom": "dmz"}, json={"name": "g1", "member": [{"name": "all"}]})
    assert in_dmz.status_code == 200


def test_sizes_change_at_run_time_and_reset_restores_the_start_sizes(
        served: tuple[FortigateMock, httpx.Client]) -> None:
    _, api = served
    shown = api.get("/_mock/tables").json()
    assert shown["tables"]["firewall/addrgrp"] == 1
    assert shown["usage"]["root"]["firewall/address"] == 2 and shown["usage"]["dmz"]["firewall/policy"] == 0
    lowered = api.post("/_mock/tables", json={"firewall/address": 2, "firewall/addrgrp": None})
    assert lowered.status_code == 200
    assert_table_full(api.post(ADDR, json={"name": "a", "subnet": "10.0.0.1/32"}), "POST", "address")
    for name in ("g1", "g2"):
        assert api.post(GRP, json={"name": name, "member": [{"name": "all"}]}).status_code == 200
    assert "firewall/addrgrp" not in api.get("/_mock/tables").json()["tables"]
    for bad in ({"firewall/vip": 3}, {"firewall/address": -1}, {"firewall/address": "9"}, [1]):
        assert api.post("/_mock/tables", json=bad).status_code == 400
    api.post("/_mock/reset").raise_for_status()
    assert api.get("/_mock/tables").json()["tables"]["firewall/address"] == 5
    assert api.post(GRP, json={"name": "g1", "member": [{"name": "all"}]}).status_code == 200


def test_addrgrp_holds_at_most_600_members_also_through_the_member_table(
        served: tuple[FortigateMock, httpx.Client]) -> None:
    _, api = served
    api.post("/_mock/tables", json={"firewall/address": None}).raise_for_status()
    for i in range(601):
        assert api.post(ADDR, json={"name": f"h{i}", "subnet": "10.0.0.1/32"}).status_code == 200
    members = [{"name": f"h{i}"} for i in range(600)]
    assert api.post(GRP, json={"name": "g", "member": members}).status_code == 200
    grown = api.post(f"{GRP}/g/member", json={"name": "h600"})
    assert grown.status_code == 500 and grown.json()["error"] == -1
    assert len(api.get(f"{GRP}/g/member").json()["results"]) == 600


def test_command_line_flag_parses_and_rejects() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--table-size", "firewall/policy=3", "--table-size", "firewall/address=20000"])
    app = create_app(args)
    assert app.table_sizes == {"firewall/policy": 3, "firewall/address": 20000}
    for bad in ("firewall/vip=3", "firewall/policy", "firewall/policy=x", "firewall/policy=-2"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--table-size", bad])


def test_command_line_entry_point_enforces_the_size() -> None:
    process = subprocess.Popen([sys.executable, "-m", "mocks", "fortigate", "--port", "0", "--token", "abc",
                                "--table-size", "firewall/policy=1"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().split()[-1]
        with httpx.Client(base_url=url, headers={"Authorization": "Bearer abc"}) as api:
            assert api.post(POL, json=policy("p1")).status_code == 200
            assert_table_full(api.post(POL, json=policy("p2")), "POST", "policy")
    finally:
        process.terminate()
        process.wait(timeout=10)
