"""Shared source addresses (connector/compiler/sharing.py): which addresses several namespaces
hold, and per cluster rule how many of their holders it selects."""

from __future__ import annotations

from connector.compiler.sharing import SharedAddresses


def test_an_address_held_twice_is_shared_and_flips_both_holders() -> None:
    sharing = SharedAddresses()
    assert sharing.move("a", (), {"10.0.0.1", "10.0.0.2"}, {}) == set()
    assert sharing.move("b", (), {"10.0.0.1"}, {}) == {"a", "b"}
    assert sharing.among(["10.0.0.1", "10.0.0.2"]) == ("10.0.0.1",)
    assert sharing.move("b", {"10.0.0.1"}, (), {}) == {"a"}
    assert sharing.among(["10.0.0.1"]) == ()


def test_a_cluster_rule_counts_the_holders_it_selects() -> None:
    sharing = SharedAddresses()
    sharing.move("a", (), {"10.0.0.1"}, {})
    sharing.move("b", (), {"10.0.0.1"}, {})
    sharing.select("r", ["10.0.0.1"], 1)  # r selects a only
    assert sharing.duplicates("r") == 0 and sharing.outside("r") == ["10.0.0.1"]
    sharing.select("r", ["10.0.0.1"], 1)  # and b
    assert sharing.duplicates("r") == 1 and sharing.outside("r") == []
    sharing.take_due()
    selecting = {"a": {"r"}, "b": {"r"}}
    sharing.move("c", (), {"10.0.0.1"}, selecting)  # a third holder, not selected by r
    assert sharing.take_due() == {"r"}
    assert sharing.outside("r") == ["10.0.0.1"]
    sharing.select("r", ["10.0.0.1"], -1)
    sharing.select("r", ["10.0.0.1"], -1)
    assert sharing.duplicates("r") == 0 and sharing.outside("r") == []
