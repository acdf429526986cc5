"""The FortiGate mock where clients depend on FortiOS's exact behaviour: JSON 404 envelopes for unknown
API paths, one envelope per VDOM for `vdom=*`/`global=1`, `?action=schema` (checked against the
FortiOS swagger when ../shared/vendor is present), predefined entries surviving a purge, and the
FortiOS error table's codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mocks.common.http import HttpServer
from mocks.fortigate import FortigateMock
from mocks.fortigate.schema import table_schema
from mocks.fortigate.store import TABLES

TOKEN = "t0ken"
CMDB = "/api/v2/cmdb"
ADDR = f"{CMDB}/firewall/address"
GRP = f"{CMDB}/firewall/addrgrp"
SWAGGER = (Path(__file__).resolve().parents[4] / "shared" / "vendor" / "fortios"
           / "fortios-6.4.14-cmdb-firewall-subset.json")


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


@pytest.mark.parametrize(("path", "where"), [
    (f"{CMDB}/system/interface", ("system", "interface")),
    (f"{CMDB}/nosuchtable", ("nosuchtable", None)),
    ("/api/v2/monitor/router/bgp/clear-soft-in", ("router", "bgp")),
])
def test_unknown_api_paths_answer_the_json_404_envelope(api: httpx.Client, path: str,
                                                        where: tuple[str, str | None]) -> None:
    answer = api.get(path)
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert (body["status"], body["http_status"], body["version"]) == ("error", 404, "v6.4.14")
    assert (body.get("path"), body.get("name")) == where
    assert api.get("/no/api/here").headers["content-type"].startswith("text/html")


def test_several_vdoms_answer_one_envelope_each(api: httpx.Client) -> None:
    api.post(ADDR, params={"vdom": "dmz"}, json={"name": "only-dmz", "subnet": "10.1.0.0/16"})
    for params in ({"vdom": "*"}, {"global": "1"}, {"vdom": "root,dmz"}):
        answer = api.get(ADDR, params=params)
        assert answer.status_code == 200
        envelopes = answer.json()
        assert [e["vdom"] for e in envelopes] == ["root", "dmz"]
        assert ["only-dmz" in {a["name"] for a in e["results"]} for e in envelopes] == [False, True]
    mixed = api.get(ADDR, params={"vdom": "root,nope"})
    assert mixed.status_code == 404 and [e["http_status"] for e in mixed.json()] == [200, 404]
    assert isinstance(api.get(ADDR, params={"vdom": "dmz"}).json(), dict)


def test_status_probes_of_client_logins(api: httpx.Client) -> None:
    listed = api.get(f"{CMDB}/system/status", params={"global": "1"}).json()
    assert [e["version"] for e in listed] == ["v6.4.14", "v6.4.14"]
    assert api.get("/api/v2/monitor/system/status").json()["version"] == "v6.4.14"
    assert api.get(f"{CMDB}/system/status", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_action_schema_for_a_table_and_the_tree(api: httpx.Client) -> None:
    body = api.get(ADDR, params={"vdom": "root", "action": "schema"}).json()
    assert (body["action"], body["status"]) == ("schema", "success")
    schema = body["results"]
    assert (schema["mkey"], schema["mkey_type"], schema["children"]["name"]["size"]) == ("name", "string", 79)
    policy = api.get(f"{CMDB}/firewall/policy", params={"action": "schema"}).json()["results"]
    assert (policy["mkey"], policy["mkey_type"]) == ("policyid", "integer")
    tree = api.get(CMDB, params={"action": "schema"}).json()["results"]
    assert sorted(f"{t['path']}/{t['name']}" for t in tree) == sorted(TABLES)


@pytest.mark.skipif(not SWAGGER.is_file(), reason="the FortiOS swagger is not in ../shared/vendor")
def test_schema_matches_the_fortios_swagger() -> None:
    paths = json.loads(SWAGGER.read_text())["paths"]
    for table in TABLES:
        if f"/{table}" not in paths:  # address6/addrgrp6 are not in the swagger subset at hand
            continue
        properties: dict[str, Any] = paths[f"/{table}"]["post"]["parameters"][0]["schema"]["properties"]
        for field, child in table_schema(table)["children"].items():
            spec = properties[field]
            assert child.get("size") == spec.get("maxLength"), (table, field)
            if "options" in child:
                assert [o["name"] for o in child["options"]] == spec["enum"], (table, field)
            if child["type"] == "integer":
                assert (child["min-value"], child["max-value"]) == (spec["minimum"], spec["maximum"])
            if child["category"] == "table":
                assert child.get("max-entries") == spec.get("maxItems"), (table, field)


def test_purge_keeps_predefined_entries_and_item_delete_of_a_used_one_fails(api: httpx.Client) -> None:
    api.post(ADDR, json={"name": "free", "subnet": "10.0.0.1/32"})
    assert api.delete(ADDR).status_code == 200
    assert sorted(a["name"] for a in api.get(ADDR).json()["results"]) == ["all", "none"]
    services = api.get(f"{CMDB}/firewall.service/custom")
    assert api.delete(f"{CMDB}/firewall.service/custom").status_code == 200
    assert api.get(f"{CMDB}/firewall.service/custom").json()["results"] == services.json()["results"]


def test_error_table_codes(api: httpx.Client) -> None:
    api.post(ADDR, json={"name": "a", "subnet": "10.0.0.1/32"})
    api.post(GRP, json={"name": "g", "member": [{"name": "a"}]})
    clash = api.post(GRP, json={"name": "a", "member": [{"name": "all"}]}).json()
    assert (clash["http_status"], clash["error"]) == (500, -163)
    assert api.post(ADDR, json={"name": "g", "subnet": "10.0.0.2/32"}).json()["error"] == -163
    assert api.post(ADDR, json={"name": "a", "subnet": "10.0.0.2/32"}).json()["error"] == -5
    assert api.post(ADDR, json={"name": "m", "subnet": "10.0.0.0 255.0.255.0"}).json()["error"] == -9
    assert api.post(ADDR, json={"name": "ip", "subnet": "10.0.0.300/32"}).json()["error"] == -8
    backwards = {"name": "r", "type": "iprange", "start-ip": "10.0.0.9", "end-ip": "10.0.0.1"}
    assert api.post(ADDR, json=backwards).json()["error"] == -73
    assert api.delete(f"{ADDR}/a").json()["error"] == -23
    assert api.get(f"{ADDR}/a").json()["results"][0]["name"] == "a"


def test_filters_are_case_insensitive_as_documented(api: httpx.Client) -> None:
    api.post(ADDR, json={"name": "Web-1", "subnet": "10.0.0.1/32", "comment": "Fusion:prod"})
    assert [a["name"] for a in api.get(ADDR, params={"filter": "name==web-1"}).json()["results"]] == ["Web-1"]
    hits = api.get(ADDR, params={"filter": "comment=@fusion:"}).json()["results"]
    assert [a["name"] for a in hits] == ["Web-1"]
    misses = api.get(ADDR, params={"filter": "comment!@FUSION"}).json()["results"]
    assert "Web-1" not in {a["name"] for a in misses}
