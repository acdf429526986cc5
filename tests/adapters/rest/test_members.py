"""`GroupMembers` keeps a group's canonical members and identities up to date per change: after
any sequence of member tuples (members kept the same objects across steps, as the compiler keeps
them, or new ones) it returns what `canonical_members` and the sorted identity texts of a fresh
build return, and a change parses only the members that changed. `member_delta` (the `members` op)
is the set difference in list order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.rest import members as members_module
from adapters.rest.members import GroupMembers, Member, canonical_members
from adapters.rest.objects import member_delta
from connector.model import Identity
from connector.planner.types import Change, Op

POOL = [f"10.0.{i // 256}.{i % 256}" for i in range(40)] + ["fd00::1", "fd00:0::2", "2001:db8::/64"]
PODS = ("a", "b", "c")


def _fresh(members: tuple[Member, ...]) -> tuple[list[str], tuple[str, ...]]:
    return (canonical_members(address for address, _ in members),
            tuple(sorted({str(i) for _, ids in members for i in ids})))


Step = tuple[str, dict[str, tuple[str, ...]], bool, bool]


@st.composite
def steps(draw: st.DrawFn) -> list[Step]:
    group = st.dictionaries(st.sampled_from(POOL), st.lists(st.sampled_from(PODS), min_size=1, max_size=2,
                                                            unique=True).map(tuple), max_size=30)
    return draw(st.lists(st.tuples(st.sampled_from(("g1", "g2")), group, st.booleans(),
                                   st.sampled_from((False, False, True))), min_size=1, max_size=12))


@settings(max_examples=150, deadline=None)
@given(steps())
def test_kept_up_to_date_equals_a_fresh_build(sequence: list[Step]) -> None:
    """Members the same objects or new ones, sorted by address as the compiler keeps them or not."""
    made = GroupMembers()
    kept: dict[tuple[str, tuple[str, ...]], Member] = {}
    for key, wanted, reuse, reverse in sequence:
        pairs = []
        for address, pods in sorted(wanted.items(), reverse=reverse):
            member = (address, tuple(Identity("Pod", "ns", pod) for pod in pods))
            pairs.append(kept.setdefault((address, pods), member) if reuse else member)
        group = tuple(pairs)
        assert made.of(key, group) == _fresh(group)
        assert made.of(key, group) == _fresh(group)  # the same tuple again
        made.retain({key})


def test_a_change_parses_only_the_members_that_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    members = tuple((f"10.1.{i // 256}.{i % 256}", (Identity("Pod", "ns", f"p{i}"),)) for i in range(1000))
    made = GroupMembers()
    made.of("g", members)
    parsed: list[str] = []
    original = members_module._address

    def counting(member: Member) -> tuple[tuple[int, int, int], str]:
        parsed.append(member[0])
        return original(member)

    monkeypatch.setattr(members_module, "_address", counting)
    joined = (*members[:500], ("10.2.0.1", (Identity("Pod", "ns", "new"),)), *members[501:])
    assert made.of("g", joined) == _fresh(joined)
    assert sorted(parsed) == ["10.1.1.244", "10.2.0.1"]  # the member that left, the one that joined


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(POOL), unique=True), st.lists(st.sampled_from(POOL), unique=True),
       st.booleans())
def test_member_delta_is_the_set_difference_in_list_order(old: list[str], new: list[str], canonical: bool
                                                          ) -> None:
    if canonical:
        old, new = canonical_members(old), canonical_members(new)
    change = Change(Op.UPDATE, "group", "g", {"members": old, "description": ""},
                    {"members": new, "description": ""})
    assert member_delta(change) == ([m for m in new if m not in old], [m for m in old if m not in new])
