"""The mock's indexes (policies by id and name, reference counts) follow every write: in-use
checks, name uniqueness, lookups and policyid assignment answer as a scan of the tables would."""

from __future__ import annotations

from typing import Any

import pytest

from mocks.fortigate.store import (
    ADDRESS,
    ADDRGRP,
    DEFAULT_INTERFACES,
    E_DUPLICATE,
    E_IN_USE,
    POLICY,
    SERVICE,
    CmdbError,
    Vdom,
)


def names(*items: str) -> list[dict[str, str]]:
    return [{"name": item} for item in items]


def policy(name: str, src: str, dst: str = "all", service: str = "ALL", **extra: Any) -> dict[str, Any]:
    return {"name": name, "srcintf": names("any"), "dstintf": names("any"), "srcaddr": names(src),
            "dstaddr": names(dst), "service": names(service), "schedule": "always", **extra}


@pytest.fixture
def vdom() -> Vdom:
    v = Vdom("root", frozenset(DEFAULT_INTERFACES))
    for host in ("a", "b", "c"):
        v.create(ADDRESS, {"name": host, "subnet": f"10.0.0.{ord(host)}/32"})
    v.create(SERVICE, {"name": "tcp-1", "tcp-portrange": "1"})
    return v


def in_use(vdom: Vdom, table: str, name: str) -> str:
    with pytest.raises(CmdbError) as failed:
        vdom.delete(table, name)
    assert failed.value.code == E_IN_USE
    return failed.value.message


def test_references_follow_policy_updates_and_deletes(vdom: Vdom) -> None:
    pid = vdom.create(POLICY, policy("p1", "a", "b", "tcp-1"))
    assert "policy 1" in in_use(vdom, ADDRESS, "a")
    assert "policy 1" in in_use(vdom, SERVICE, "tcp-1")
    vdom.update(POLICY, str(pid), {"srcaddr": names("c"), "service": names("ALL")})
    vdom.delete(ADDRESS, "a")
    vdom.delete(SERVICE, "tcp-1")
    assert "policy 1" in in_use(vdom, ADDRESS, "c")
    vdom.delete(POLICY, str(pid))
    vdom.delete(ADDRESS, "c")
    vdom.delete(ADDRESS, "b")


def test_references_follow_group_members_and_purge(vdom: Vdom) -> None:
    vdom.create(ADDRGRP, {"name": "g", "member": names("a", "b")})
    assert in_use(vdom, ADDRESS, "a").endswith("addrgrp g")
    vdom.delete_member("g", "a")
    vdom.delete(ADDRESS, "a")
    vdom.add_member("g", {"name": "c"})
    vdom.update(ADDRGRP, "g", {"member": names("c")})
    vdom.delete(ADDRESS, "b")
    vdom.create(POLICY, policy("p1", "g"))
    assert in_use(vdom, ADDRGRP, "g") == "The entry is used by other 1 entries: policy 1"
    assert vdom.purge(POLICY) == 1
    assert vdom.purge(ADDRGRP) == 1
    assert vdom.purge(ADDRESS) == 1  # c; all and none stay
    assert sorted(vdom.tables[ADDRESS]) == ["all", "none"]


def test_policy_names_ids_and_new_ids_follow_writes(vdom: Vdom) -> None:
    first = vdom.create(POLICY, policy("p1", "a"))
    second = vdom.create(POLICY, policy("p2", "a"))
    assert (first, second) == (1, 2)
    vdom.update(POLICY, "2", {"name": "renamed"})
    assert vdom.create(POLICY, policy("p2", "b")) == 3  # the old name is free again
    with pytest.raises(CmdbError) as failed:
        vdom.create(POLICY, policy("renamed", "b"))
    assert failed.value.code == E_DUPLICATE
    vdom.move("3", before="1", after=None)
    assert [p["policyid"] for p in vdom.policies] == [3, 1, 2]
    assert vdom.get(POLICY, "2") is vdom.policies[2]
    assert vdom.get(POLICY, "2")["name"] == "renamed"  # type: ignore[index]
    vdom.delete(POLICY, "3")
    assert vdom.get(POLICY, "3") is None
    assert vdom.create(POLICY, policy("p4", "a")) == 3  # the highest id in use is 2
    assert vdom.create(POLICY, policy("p5", "a", policyid=10)) == 10
    assert vdom.create(POLICY, policy("p6", "a")) == 11
