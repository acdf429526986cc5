"""The REST receiver mock: group references, the `members` change op, the `limits` capability, and a
receiver without the optional features (adapters/rest/openapi.yaml)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connector.evaluate import Probe
from connector.model import Protocol
from mocks.common.http import HttpServer
from mocks.rest import RestMock, add_arguments, create_app
from tests.adapters.rest import evaluator
from tests.adapters.rest.spec import conforms
from tests.mocks.rest.test_mock import OWNER, Client, create, error_of


@pytest.fixture
def client() -> Iterator[Client]:
    with HttpServer(RestMock(token="T")) as server:
        yield Client(server.url)


def group(name: str, members: list[str], groups: list[str] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"name": name, "members": members}
    if groups is not None:
        obj["groups"] = groups
    return create("group", **obj)


def members(name: str, add: list[str] | None = None, remove: list[str] | None = None) -> dict[str, Any]:
    change: dict[str, Any] = {"op": "members", "kind": "group", "name": name}
    if add is not None:
        change["add"] = add
    if remove is not None:
        change["remove"] = remove
    return change


def groups_of(client: Client) -> dict[str, dict[str, Any]]:
    return {g["name"]: g for g in client.state()["groups"]}


NESTED = [group("pods-a", ["10.0.0.1"]), group("pods-b", ["10.0.1.0/24"]),
          group("ns-a", [], ["pods-a"]), group("all", ["10.9.9.9"], ["ns-a", "pods-b"])]


def test_capabilities_announce_the_features_and_limits(client: Client) -> None:
    document = client.request("GET", "/").json()
    conforms("Capabilities", document)
    caps = document["capabilities"]
    assert (caps["groupReferences"], caps["memberChanges"]) == (True, True)
    assert caps["limits"] == {"groups": None, "rules": None}


def test_groups_name_groups_and_state_always_shows_groups(client: Client) -> None:
    assert client.changes(NESTED, "k").status_code == 200
    state = client.state()
    conforms("State", state)
    found = {g["name"]: (g["members"], g["groups"]) for g in state["groups"]}
    assert found == {"pods-a": (["10.0.0.1"], []), "pods-b": (["10.0.1.0/24"], []),
                     "ns-a": ([], ["pods-a"]), "all": (["10.9.9.9"], ["ns-a", "pods-b"])}
    update = {"op": "update", "kind": "group", "object": {"name": "all", "members": ["10.9.9.9"]}}
    assert client.changes([update], "k2").status_code == 200
    assert groups_of(client)["all"]["groups"] == [], "an update replaces the whole group"


def test_a_missing_referenced_group_is_a_missing_reference(client: Client) -> None:
    response = client.changes([group("pods-a", ["10.0.0.1"]), group("ns", [], ["pods-a", "nope"])], "k")
    assert response.status_code == 409
    error = error_of(response)
    assert (error["code"], error["index"], error["kind"], error["name"]) == \
        ("missing_reference", 1, "group", "ns")
    assert "'nope'" in error["message"]
    assert client.state()["groups"] == []


@pytest.mark.parametrize("changes", [
    [group("self", ["10.0.0.1"], ["self"])],
    [{"op": "update", "kind": "group", "object": {"name": "pods-a", "members": [], "groups": ["all"]}}],
    [group("x", [], ["ns-a"]),
     {"op": "update", "kind": "group", "object": {"name": "pods-a", "members": [], "groups": ["x"]}}],
])
def test_reference_loops_are_invalid(client: Client, changes: list[dict[str, Any]]) -> None:
    assert client.changes(NESTED, "base").status_code == 200
    before = client.state()
    response = client.changes(changes, "loop")
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid" and "loop" in error["message"]
    assert client.state() == before


def test_a_group_named_by_another_cannot_be_deleted(client: Client) -> None:
    assert client.changes(NESTED, "base").status_code == 200
    refused = client.changes([{"op": "delete", "kind": "group", "name": "pods-a"}], "k")
    assert refused.status_code == 409
    error = error_of(refused)
    assert error["code"] == "in_use" and "group ns-a" in error["message"]
    by_hand = httpx.post(f"{client.http.base_url}/_mock/delete", json={"kind": "group", "name": "ns-a"})
    assert by_hand.status_code == 409
    in_order = [{"op": "delete", "kind": "group", "name": n} for n in ("all", "ns-a", "pods-a")]
    assert client.changes(in_order, "k2").status_code == 200
    assert sorted(groups_of(client)) == ["pods-b"]


def test_member_changes_add_and_remove_in_canonical_form(client: Client) -> None:
    base = [group("g", ["10.0.0.1", "10.0.0.2", "192.0.2.0/24", "fd00::1"])]
    assert client.changes(base, "base").status_code == 200
    change = members("g", add=["10.0.0.3/32", "10.1.2.3/16", "fd00:0:0::2"],
                     remove=["10.0.0.1/32", "192.0.2.7/24", "fd00::1"])
    body = {"owner": OWNER, "changes": [change]}
    conforms("ChangeSet", body)
    response = client.changes([change], "m1")
    assert response.status_code == 200 and response.json()["applied"] == 1
    assert groups_of(client)["g"]["members"] == ["10.0.0.2", "10.0.0.3", "10.1.0.0/16", "fd00::2"]
    assert client.state()["revision"] == 2


def test_member_changes_are_idempotent(client: Client) -> None:
    assert client.changes([group("g", ["10.0.0.1"])], "base").status_code == 200
    change = members("g", add=["10.0.0.2"], remove=["10.0.0.1"])
    assert client.changes([change], "m1").status_code == 200
    assert client.changes([change], "m2").status_code == 200, "a retry under a new key is harmless"
    assert client.changes([members("g", add=["10.0.0.2/32"]), members("g", remove=["10.0.0.7"])],
                          "m3").json()["applied"] == 2
    assert client.changes([members("g")], "m4").status_code == 200
    assert groups_of(client)["g"]["members"] == ["10.0.0.2"]


@pytest.mark.parametrize(("change", "status", "code"), [
    (members("nope", add=["10.0.0.1"]), 409, "not_found"),
    (members("g", add=["10.0.0.9"], remove=["10.0.0.9/32"]), 422, "invalid"),
    (members("g", add=["10.0.0.300"]), 422, "invalid"),
    ({**members("g"), "add": "10.0.0.1"}, 422, "invalid"),
    ({"op": "members", "kind": "rule", "name": "r", "add": []}, 422, "invalid"),
    ({"op": "members", "kind": "group", "add": []}, 422, "invalid"),
])
def test_member_change_errors(client: Client, change: dict[str, Any], status: int, code: str) -> None:
    assert client.changes([group("g", ["10.0.0.1"])], "base").status_code == 200
    before = client.state()
    response = client.changes([members("g", add=["10.0.0.5"]), change], "bad")
    assert response.status_code == status
    error = error_of(response)
    assert (error["code"], error["index"]) == (code, 1)
    assert client.state() == before, "nothing applied"


def test_member_changes_respect_ownership(client: Client) -> None:
    assert client.changes([group("g", ["10.0.0.1"])], "base").status_code == 200
    response = client.changes([members("g", add=["10.0.0.2"])], "other", owner="someone-else")
    assert response.status_code == 409 and error_of(response)["code"] == "not_owner"


def test_limits_refuse_change_sets_that_hold_too_many_groups_or_rules() -> None:
    app = RestMock(token="T", limits={"groups": 2, "rules": 1})
    with HttpServer(app) as server:
        client = Client(server.url)
        assert client.request("GET", "/").json()["capabilities"]["limits"] == {"groups": 2, "rules": 1}
        base = [group("g1", ["10.0.0.1"]), group("g2", ["10.0.0.2"])]
        assert client.changes(base, "base").status_code == 200
        third = client.changes([group("g3", ["10.0.0.3"])], "g3")
        assert third.status_code == 422
        assert error_of(third) | {"message": ""} == {"code": "limit_exceeded", "message": "", "index": 0,
                                                     "kind": "group", "name": "g3"}
        swap = [{"op": "delete", "kind": "group", "name": "g2"}, group("g3", ["10.0.0.3"])]
        assert client.changes(swap, "swap").status_code == 200, "the limit holds after each change"
        rule = {"source": "g1", "destination": None, "service": None, "action": "allow", "log": False}
        too_many = client.changes([create("rule", name="r1", **rule), create("rule", name="r2", **rule)], "r")
        assert too_many.status_code == 422 and error_of(too_many)["index"] == 1
        assert client.state()["rules"] == []
        app.reset()
        assert client.changes([*base, group("g3", [])], "again").status_code == 422, "limits survive a reset"


def test_a_receiver_without_the_features_acts_as_an_older_one() -> None:
    with HttpServer(RestMock(token="T", features=())) as server:
        client = Client(server.url)
        caps = client.request("GET", "/").json()["capabilities"]
        assert (caps["groupReferences"], caps["memberChanges"]) == (False, False)
        nested = [group("a", ["10.0.0.1"]), group("b", [], ["a", "nope"])]
        assert client.changes(nested, "k").status_code == 200
        assert groups_of(client)["b"]["groups"] == [], "an unknown field is ignored"
        refused = client.changes([members("a", add=["10.0.0.2"])], "m")
        assert refused.status_code == 422 and error_of(refused)["code"] == "invalid"
    with pytest.raises(ValueError, match="unknown"):
        RestMock(features=("groupReferences", "time-travel"))
    with pytest.raises(ValueError, match="unknown"):
        RestMock(limits={"addresses": 3})


def test_command_line_flags() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    app = create_app(parser.parse_args(["--limits", "groups=5,rules=7", "--without", "memberChanges"]))
    assert app.limits == {"groups": 5, "rules": 7}
    assert app.features == frozenset({"groupReferences", "wildcardFqdn"})
    default = create_app(parser.parse_args([]))
    assert default.limits == {"groups": None, "rules": None} and len(default.features) == 3
    for bad in (["--limits", "groups=0"], ["--limits", "addresses=3"], ["--limits", "groups"],
                ["--without", "teleport"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_the_evaluator_resolves_nested_groups(client: Client) -> None:
    rules = [create("rule", name="from-all", source="all", destination=None, service=None, action="allow",
                    log=False),
             create("rule", name="from-ns-a", source="ns-a", destination=None, service=None, action="deny",
                    log=True)]
    assert client.changes([*NESTED, *rules], "k").status_code == 200
    state = client.state()

    def decided(source: str) -> str | None:
        rule = evaluator.decide(state, Probe(source, "203.0.113.1", 443, Protocol.TCP))
        return None if rule is None else str(rule["name"])

    assert [decided(s) for s in ("10.0.0.1", "10.0.1.77", "10.9.9.9", "10.0.0.2")] == \
        ["from-all", "from-all", "from-all", None]
    reordered = {"op": "order", "kind": "rule", "names": ["from-ns-a", "from-all"]}
    assert client.changes([reordered], "o").status_code == 200
    state = client.state()
    assert [decided(s) for s in ("10.0.0.1", "10.0.1.77")] == ["from-ns-a", "from-all"]
    assert sorted(evaluator.group_members({g["name"]: g for g in state["groups"]}, "all")) == \
        ["10.0.0.1", "10.0.1.0/24", "10.9.9.9"]
