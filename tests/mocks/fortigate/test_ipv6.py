"""IPv6 on the FortiGate mock: `firewall/address6` and `firewall/addrgrp6` with the fidelity of the
IPv4 tables (read-back forms, errors, limits, references), policies' `srcaddr6`/`dstaddr6` pairs
(FortiOS 6.4 consolidated policy) and IPv6 flows decided over them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest

from mocks.common.http import HttpServer
from mocks.fortigate import FortigateMock

TOKEN = "t0ken"
ADDR = "/api/v2/cmdb/firewall/address"
ADDR6 = "/api/v2/cmdb/firewall/address6"
GRP6 = "/api/v2/cmdb/firewall/addrgrp6"
POL = "/api/v2/cmdb/firewall/policy"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FortigateMock, str]]:
    app = FortigateMock(token=TOKEN)
    http = HttpServer(app).start()
    yield app, http.url
    http.stop()


@pytest.fixture
def api(server: tuple[FortigateMock, str]) -> Iterator[httpx.Client]:
    app, url = server
    app.reset()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


def names(items: list[str]) -> list[dict[str, str]]:
    return [{"name": n} for n in items]


def policy(name: str, *, src: Sequence[str] = (), dst: Sequence[str] = (), src6: Sequence[str] = (),
           dst6: Sequence[str] = (), action: str = "accept", **extra: Any) -> dict[str, Any]:
    return {"name": name, "srcintf": names(["any"]), "dstintf": names(["any"]), "srcaddr": names(list(src)),
            "dstaddr": names(list(dst)), "srcaddr6": names(list(src6)), "dstaddr6": names(list(dst6)),
            "service": names(["ALL"]), "action": action, "schedule": "always", **extra}


def error(response: httpx.Response) -> int:
    assert response.status_code == 500, response.text
    code: int = response.json()["error"]
    return code


def test_address6_forms_read_back_normalized(api: httpx.Client) -> None:
    assert api.post(ADDR6, json={"name": "net", "ip6": "2001:0DB8:0000::/64"}).status_code == 200
    assert api.post(ADDR6, json={"name": "host", "ip6": "fd00::0010"}).status_code == 200
    assert api.post(ADDR6, json={"name": "rng", "type": "iprange", "start-ip": "fd00:0::1",
                                 "end-ip": "fd00::00ff"}).status_code == 200
    fqdn = {"name": "name", "type": "fqdn", "fqdn": "api.example.com"}
    assert api.post(ADDR6, json=fqdn).status_code == 200
    got = {a["name"]: a for a in api.get(ADDR6).json()["results"]}
    assert got["net"]["type"] == "ipprefix" and got["net"]["ip6"] == "2001:db8::/64"
    assert got["host"]["ip6"] == "fd00::10/128"
    assert (got["rng"]["start-ip"], got["rng"]["end-ip"]) == ("fd00::1", "fd00::ff")
    assert got["name"]["fqdn"] == "api.example.com"
    # predefined: all (::/0) and none (::/128), beside the IPv4 ones of the same names
    assert (got["all"]["ip6"], got["none"]["ip6"]) == ("::/0", "::/128")
    assert {a["name"] for a in api.get(ADDR).json()["results"]} == {"all", "none"}


def test_address6_errors(api: httpx.Client) -> None:
    assert error(api.post(ADDR6, json={"name": "bad", "ip6": "10.0.0.1/32"})) == -8
    assert error(api.post(ADDR6, json={"name": "bad", "ip6": "fd00::/129"})) == -9
    assert error(api.post(ADDR6, json={"name": "bad", "type": "iprange", "start-ip": "fd00::9",
                                       "end-ip": "fd00::1"})) == -73
    assert error(api.post(ADDR6, json={"name": "x" * 80, "ip6": "fd00::1"})) == -1
    api.post(ADDR6, json={"name": "dup", "ip6": "fd00::1"})
    assert error(api.post(ADDR6, json={"name": "dup", "ip6": "fd00::2"})) == -5
    # an IPv6 address and an IPv6 group share one namespace; IPv4 names are apart
    assert error(api.post(GRP6, json={"name": "dup", "member": names(["all"])})) == -163
    assert api.post(ADDR, json={"name": "dup", "subnet": "10.0.0.1/32"}).status_code == 200


def test_addrgrp6_members_references_and_member_table(api: httpx.Client) -> None:
    api.post(ADDR6, json={"name": "a", "ip6": "fd00::1"})
    api.post(ADDR6, json={"name": "b", "ip6": "fd00::2"})
    api.post(ADDR, json={"name": "v4", "subnet": "10.0.0.1/32"})
    assert error(api.post(GRP6, json={"name": "g", "member": names(["v4"])})) == -3  # not an IPv6 address
    assert api.post(GRP6, json={"name": "g", "member": names(["a"])}).status_code == 200
    assert api.post(f"{GRP6}/g/member", json={"name": "b"}).status_code == 200
    assert [m["name"] for m in api.get(f"{GRP6}/g").json()["results"][0]["member"]] == ["a", "b"]
    assert error(api.delete(f"{ADDR6}/b")) == -23  # in use by the group
    assert api.delete(f"{GRP6}/g/member/b").status_code == 200
    assert api.delete(f"{ADDR6}/b").status_code == 200
    assert error(api.post(GRP6, json={"name": "g2", "member": names([f"m{i}" for i in range(601)])})) == -1
    # a delete of a collection purges only unreferenced entries and keeps the predefined ones
    api.post(ADDR6, json={"name": "free", "ip6": "fd00::9"})
    assert api.delete(ADDR6).status_code == 200
    assert sorted(a["name"] for a in api.get(ADDR6).json()["results"]) == ["a", "all", "none"]


def test_policy_pairs_by_family(api: httpx.Client) -> None:
    api.post(ADDR6, json={"name": "pods6", "ip6": "fd00::/64"})
    # IPv6 only: srcaddr/dstaddr empty
    created = api.post(POL, json=policy("six", src6=["pods6"], dst6=["all"]))
    assert created.status_code == 200, created.text
    held = api.get(f"{POL}/{created.json()['mkey']}").json()["results"][0]
    assert (held["srcaddr"], held["dstaddr"]) == ([], [])
    assert [a["name"] for a in held["srcaddr6"]] == ["pods6"]
    # both families in one policy; each family's lists go together; one pair at least
    assert api.post(POL, json=policy("both", src=["all"], dst=["all"], src6=["pods6"],
                                     dst6=["all"])).status_code == 200
    assert error(api.post(POL, json=policy("half6", src=["all"], dst=["all"], src6=["pods6"]))) == -20
    assert error(api.post(POL, json=policy("half4", src=["all"], src6=["pods6"], dst6=["all"]))) == -20
    assert error(api.post(POL, json=policy("none"))) == -20
    assert error(api.post(POL, json=policy("wrong", src6=["nope"], dst6=["all"]))) == -3
    # an IPv4 policy reads back with empty IPv6 lists; references hold
    v4 = api.post(POL, json=policy("four", src=["all"], dst=["all"])).json()["mkey"]
    assert api.get(f"{POL}/{v4}").json()["results"][0]["srcaddr6"] == []
    assert error(api.delete(f"{ADDR6}/pods6")) == -23


def test_address6_table_size(server: tuple[FortigateMock, str], api: httpx.Client) -> None:
    _, url = server
    assert httpx.post(f"{url}/_mock/tables", json={"firewall/address6": 3}).status_code == 200
    assert api.post(ADDR6, json={"name": "one", "ip6": "fd00::1"}).status_code == 200  # with all, none
    assert error(api.post(ADDR6, json={"name": "two", "ip6": "fd00::2"})) == -4
    usage = httpx.get(f"{url}/_mock/tables").json()["usage"]["root"]
    assert usage["firewall/address6"] == 3


def test_ipv6_flows_are_decided_over_the_ipv6_pairs(api: httpx.Client) -> None:
    api.post(ADDR6, json={"name": "pods", "type": "iprange", "start-ip": "fd00::10", "end-ip": "fd00::1f"})
    api.post(ADDR6, json={"name": "one", "ip6": "fd00::99"})
    api.post(GRP6, json={"name": "srcs", "member": names(["pods", "one"])})
    api.post(ADDR6, json={"name": "db", "ip6": "2001:db8::/64"})
    api.post(ADDR6, json={"name": "api", "type": "fqdn", "fqdn": "api.example.com"})
    api.post(ADDR, json={"name": "v4pods", "subnet": "10.0.0.0/24"})
    ids = [api.post(POL, json=body).json()["mkey"] for body in (
        policy("v4-any", src=["v4pods"], dst=["all"], action="deny"),  # IPv4 pair only
        policy("db", src6=["srcs"], dst6=["db"]),
        policy("api", src6=["srcs"], dst6=["api"]),
        policy("rest", src=["v4pods"], dst=["all"], src6=["srcs"], dst6=["all"], action="deny"))]

    def decide(src: str, dst: str, **extra: Any) -> tuple[str, int]:
        answer = api.post("/_mock/traffic", json={"src": src, "dst": dst, "protocol": "TCP", "srcPort": 40000,
                                                  "dstPort": 443, **extra}).json()
        return answer["action"], answer["rule"]

    assert decide("fd00::15", "2001:db8::7") == ("accept", ids[1])  # skips the IPv4-only policy
    assert decide("fd00::99", "2001:db8::7") == ("accept", ids[1])  # through the group
    assert decide("fd00::15", "2001:db8:1::7") == ("deny", ids[3])
    assert decide("fd00::15", "2001:db8:9::1", dstName="api.example.com") == ("accept", ids[2])
    assert decide("fd00::20", "2001:db8::7") == ("deny", 0)  # outside every source: implicit deny
    assert decide("10.0.0.5", "192.0.2.1") == ("deny", ids[0])
