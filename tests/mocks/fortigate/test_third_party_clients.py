"""Clients nobody here wrote drive the FortiGate mock as they drive a FortiGate: fortiosapi (token
login through `cmdb/system/status?global=1`, `set()` through `?action=schema`, move) and
fortigate-api (token login through `monitor/system/status`, CRUD, filters, move)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import fortigate_api
import fortiosapi  # type: ignore[import-untyped]
import pytest

from mocks.common.http import HttpServer
from mocks.fortigate import FortigateMock

TOKEN = "third-party-token"


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FortigateMock, str]]:
    app = FortigateMock(token=TOKEN, vdoms=("root", "dmz"))
    http = HttpServer(app).start()
    yield app, http.url.removeprefix("http://").rstrip("/")
    http.stop()


@pytest.fixture
def mock(server: tuple[FortigateMock, str]) -> tuple[FortigateMock, str]:
    server[0].reset()
    return server


def _policy(name: str) -> dict[str, object]:
    return {"name": name, "srcintf": [{"name": "port2"}], "dstintf": [{"name": "port1"}],
            "srcaddr": [{"name": "all"}], "dstaddr": [{"name": "all"}], "service": [{"name": "ALL"}],
            "action": "accept", "schedule": "always"}


def _fortiosapi(host: str) -> Any:
    client = fortiosapi.FortiOSAPI()
    client.https("off")
    assert client.tokenlogin(host, TOKEN, verify=False) is True  # vdom "global": GET ...?global=1
    return client


def test_fortiosapi_token_login_reads_the_version(mock: tuple[FortigateMock, str]) -> None:
    client = _fortiosapi(mock[1])
    assert client.get_version() == "v6.4.14"
    wrong = fortiosapi.FortiOSAPI()
    wrong.https("off")
    with pytest.raises(Exception):  # noqa: B017 - fortiosapi raises NotLogged or a TypeError
        wrong.tokenlogin(mock[1], "not-the-token", verify=False)


def test_fortiosapi_crud_set_filter_and_move(mock: tuple[FortigateMock, str]) -> None:
    app, host = mock
    client = _fortiosapi(host)
    created = client.post("firewall", "address", vdom="root",
                          data={"name": "k8s-a", "subnet": "10.244.1.7/32", "comment": "fusion:x"})
    assert created["status"] == "success" and created["mkey"] == "k8s-a"
    duplicate = client.post("firewall", "address", vdom="root",
                            data={"name": "k8s-a", "subnet": "10.0.0.1/32"})
    assert (duplicate["http_status"], duplicate["error"]) == (500, -5)
    # set() asks the schema for the mkey name, PUTs, and POSTs when the PUT answers 404
    assert client.get_mkeyname("firewall", "address", vdom="root") == "name"
    assert client.set("firewall", "address", vdom="root",
                      data={"name": "k8s-b", "subnet": "10.244.1.8 255.255.255.255"})["status"] == "success"
    assert client.set("firewall", "address", vdom="root",
                      data={"name": "k8s-a", "comment": "fusion:y"})["http_method"] == "PUT"
    got = client.get("firewall", "address", vdom="root", mkey="k8s-a")["results"][0]
    assert (got["subnet"], got["comment"]) == ("10.244.1.7 255.255.255.255", "fusion:y")
    found = client.get("firewall", "address", vdom="root", parameters={"filter": "comment=@FUSION"})
    assert [a["name"] for a in found["results"]] == ["k8s-a"]
    for name in ("first", "second"):
        assert client.post("firewall", "policy", vdom="root", data=_policy(name))["status"] == "success"
    moved = client.move("firewall", "policy", vdom="root", mkey=2, where="before", reference_key=1,
                        parameters={})
    assert moved["status"] == "success"
    assert [p["policyid"] for p in client.get("firewall", "policy", vdom="root")["results"]] == [2, 1]
    assert client.delete("firewall", "address", vdom="root", mkey="k8s-b")["status"] == "success"
    assert {a["name"] for a in app.snapshot()["firewall/address"]} == {"all", "none", "k8s-a"}
    # vdom "global" reads the list of per-VDOM envelopes and keeps the first
    assert [a["name"] for a in client.get("firewall", "addrgrp", vdom="global")["results"]] == []


def test_fortigate_api_login_crud_filter_and_move(mock: tuple[FortigateMock, str]) -> None:
    app, host = mock
    address, port = host.rsplit(":", 1)
    api = fortigate_api.FortiGateAPI(host=address, port=int(port), scheme="http", token=TOKEN, vdom="root")
    with api:
        addresses = api.cmdb.firewall.address
        assert addresses.create({"name": "k8s-a", "subnet": "10.244.1.7/32", "comment": "fusion:x"}).ok
        assert addresses.create({"name": "k8s-b", "subnet": "10.244.1.8/32"}).ok
        assert addresses.create({"name": "k8s-a", "subnet": "10.244.1.7/32"}).status_code == 500
        assert addresses.is_exist("k8s-a") and not addresses.is_exist("nope")
        assert addresses.update({"name": "k8s-b", "comment": "fusion:y"}).ok
        fusion = addresses.get(filter="comment=@fusion:")
        assert sorted(a["name"] for a in fusion) == ["k8s-a", "k8s-b"]
        assert [a["name"] for a in addresses.get(filter=["comment=@fusion:", "name==K8S-B"])] == ["k8s-b"]
        groups = api.cmdb.firewall.addrgrp
        assert groups.create({"name": "g", "member": [{"name": "k8s-a"}]}).ok
        assert addresses.delete("k8s-a").status_code == 500  # still a member of g (-23)
        policies = api.cmdb.firewall.policy
        for name in ("first", "second", "third"):
            assert policies.create(_policy(name)).ok
        assert policies.move(policyid=3, position="before", neighbor=1).ok
        assert [p["policyid"] for p in policies.get()] == [3, 1, 2]
        assert [p["name"] for p in policies.get(filter="name==second")] == ["second"]
        assert addresses.delete(filter="name==k8s-b").ok
    names = {a["name"] for a in app.snapshot()["firewall/address"]}
    assert "k8s-b" not in names and "k8s-a" in names


def test_fortigate_api_with_a_wrong_token_fails_at_login(mock: tuple[FortigateMock, str]) -> None:
    address, port = mock[1].rsplit(":", 1)
    api = fortigate_api.FortiGateAPI(host=address, port=int(port), scheme="http", token="wrong")
    with pytest.raises(Exception, match="401"):
        api.fortigate.login()
