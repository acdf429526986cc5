"""Plan.kept_for: each owned object kept for a foreign reference names the foreign object."""

from __future__ import annotations

from connector.planner.types import KeptFor
from tests.connector.planner.test_planner import make_plan, obj


def test_each_kept_object_names_the_foreign_object_that_references_it() -> None:
    actual = [obj("address", "a1", net="x"), obj("address", "a2", net="y"),
              obj("group", "g1", members=["a2"]), obj("group", "admin-group", owner="netops", members=["a1"]),
              obj("rule", "audit", owner=None, group="g1")]
    p = make_plan([], actual)
    assert p.empty and p.kept == (("address", "a1"), ("address", "a2"), ("group", "g1"))
    assert p.kept_for == (
        KeptFor("address", "a1", "group", "admin-group", "netops"),
        KeptFor("address", "a2", "rule", "audit", None),  # through our kept group g1
        KeptFor("group", "g1", "rule", "audit", None))
    assert p.kept_for[0].referrer == "group 'admin-group' (owner netops)"
    assert p.kept_for[1].referrer == "rule 'audit' (owner none)"


def test_a_referrer_is_chosen_deterministically() -> None:
    actual = [obj("address", "a1", net="x"), obj("group", "z", owner=None, members=["a1"]),
              obj("group", "b", owner=None, members=["a1"])]
    for order in (actual, list(reversed(actual))):
        assert make_plan([], order).kept_for == (KeptFor("address", "a1", "group", "b", None),)
