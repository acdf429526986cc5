"""Placement of our policy block among other clusters' blocks (adapters.fortios.placement): the
pure rule, then two clusters' adapters taking turns on one FortiGate mock."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest

from adapters.fortios.placement import block_moves, candidate_anchors, placement_moves
from connector.model import DeviceState
from tests.adapters.fortios.conftest import AdapterFactory, Device, sync
from tests.adapters.fortios.scenarios import payments_state
from tests.adapters.fortios.test_apply import seed_foreign, writes

A, B, C = "fusion-connector:a", "fusion-connector:b", "fusion-connector:c"


def apply_moves(table: list[int], moves: list[tuple[int, str, int]]) -> list[int]:
    current = list(table)
    for pid, where, target in moves:
        current.remove(pid)
        index = current.index(target)
        current.insert(index if where == "before" else index + 1, pid)
    return current


def satisfied(table: list[int], block: list[int], owners: dict[int, str | None], before: int | None) -> bool:
    """The contract, checked directly: contiguous, in order, before the anchor with only other
    clusters' policies in between, no other cluster's run split."""
    if not block:
        return True
    start = table.index(block[0])
    if table[start:start + len(block)] != block:
        return False
    after = table[start + len(block):]
    anchor_at = next((i for i, pid in enumerate(after)
                      if (pid == before if before is not None
                          else not (owners.get(pid) or "").startswith("fusion-connector:"))), len(after))
    if before is not None and anchor_at == len(after):
        return False
    if not all((owners.get(pid) or "").startswith("fusion-connector:") for pid in after[:anchor_at]):
        return False
    above = table[start - 1] if start else None
    below = after[0] if after else None
    return not (above is not None and below is not None and owners.get(above) == owners.get(below)
                and owners.get(above) is not None)


def test_top_with_another_cluster_on_top_moves_nothing() -> None:
    owners: dict[int, str | None] = {1: B, 2: B, 3: A, 4: A, 5: None}
    assert block_moves([1, 2, 3, 4, 5], [3, 4], owners, None) == []
    assert block_moves([3, 4, 1, 2, 5], [3, 4], owners, None) == []
    # and from the other cluster's side
    assert block_moves([1, 2, 3, 4, 5], [1, 2], owners, None) == []


def test_top_goes_above_foreign_policies_but_not_into_another_block() -> None:
    owners: dict[int, str | None] = {1: B, 2: B, 3: None, 4: A, 5: A}
    table = [1, 2, 3, 4, 5]  # our new policies were appended below the administrator's
    moves = block_moves(table, [4, 5], owners, None)
    placed = apply_moves(table, moves)
    assert placed in ([1, 2, 4, 5, 3], [4, 5, 1, 2, 3])
    assert satisfied(placed, [4, 5], owners, None)
    assert block_moves(placed, [1, 2], owners, None) == []  # the other cluster stays put


def test_before_lets_other_blocks_stand_between() -> None:
    owners: dict[int, str | None] = {1: None, 2: A, 3: B, 4: B, 9: None}
    assert block_moves([1, 2, 3, 4, 9], [2], owners, 9) == []
    assert block_moves([1, 3, 4, 2, 9], [2], owners, 9) == []
    moves = block_moves([2, 1, 3, 4, 9], [2], owners, 9)
    assert len(moves) == 1 and satisfied(apply_moves([2, 1, 3, 4, 9], moves), [2], owners, 9)


def test_candidates_are_the_anchor_and_run_starts() -> None:
    owners: dict[int, str | None] = {1: B, 2: B, 3: C, 4: B, 5: None, 6: A}
    assert candidate_anchors([1, 2, 3, 4, 5, 6], [6], owners, None) == [5, 4, 3, 1]


@pytest.mark.parametrize("seed", range(40))
def test_placement_settles_and_never_trades_places(seed: int) -> None:
    """Any table: one placement satisfies the contract and leaves every other cluster satisfied
    if it was, without changing their order; a second placement moves nothing."""
    import random
    rng = random.Random(seed)
    owners: dict[int, str | None] = {}
    pid = itertools.count(1)
    for owner in rng.sample([A, B, C, None, None], 5):
        for _ in range(rng.randint(1, 3)):
            owners[next(pid)] = owner
    table = list(owners)
    rng.shuffle(table)
    before = None if rng.random() < 0.5 else rng.choice([p for p in table if owners[p] is None])
    block = sorted(p for p in table if owners[p] == A)
    placed = apply_moves(table, block_moves(table, block, owners, before))
    assert satisfied(placed, block, owners, before), (table, placed)
    assert block_moves(placed, block, owners, before) == []
    others = [p for p in table if p not in block]
    assert [p for p in placed if p not in block] == others
    for cluster in (B, C):
        theirs = sorted(p for p in table if owners[p] == cluster)
        if satisfied(table, theirs, owners, before):
            assert satisfied(placed, theirs, owners, before), (cluster, table, placed)


def test_placement_moves_alone_still_ends_right_before_the_anchor() -> None:
    assert apply_moves([1, 2, 3], placement_moves([1, 2, 3], [3], 1)) == [3, 1, 2]
    assert placement_moves([3, 1, 2], [3], 1) == []


# --- two clusters on one FortiGate -----------------------------------------------------------------
def cluster_state(cluster: str) -> DeviceState:
    state = payments_state()
    groups = {key: dataclasses.replace(group, cluster=cluster) for key, group in state.groups.items()}
    return dataclasses.replace(state, cluster=cluster, groups=groups)


def policies(device: Device) -> list[tuple[str, str]]:
    return [(p["name"], p["comments"].split()[0]) for p in device.table("firewall/policy")]


def runs(order: list[tuple[str, str]]) -> list[str]:
    return [owner for owner, _ in itertools.groupby(owner for _, owner in order)]


@pytest.mark.parametrize("placement", [{"top": True}, "before"])
def test_two_clusters_take_turns_without_trading_places(device: Device, make_adapter: AdapterFactory,
                                                        placement: Any) -> None:
    seed_foreign(device)
    if placement == "before":
        placement = {"before": int(device.table("firewall/policy")[1]["policyid"])}  # corp-2
    prod, stage = make_adapter(placement=placement), make_adapter(placement=placement, cluster="stage")
    for adapter, state in ((prod, cluster_state("prod")), (stage, cluster_state("stage"))):
        _, result = sync(adapter, state)
        assert result.ok, result.error
    order = policies(device)
    blocks = runs(order)
    assert blocks.count("fusion-connector:prod") == 1 and blocks.count("fusion-connector:stage") == 1
    if "top" in placement:
        assert blocks[:2] in (["fusion-connector:prod", "fusion-connector:stage"],
                              ["fusion-connector:stage", "fusion-connector:prod"])
    else:
        names = [name for name, _ in order]
        assert names.index("corp-1") < min(i for i, (_, o) in enumerate(order) if o != "corp")
        assert set(o for _, o in order[names.index("corp-1") + 1:names.index("corp-2")]) == {
            "fusion-connector:prod", "fusion-connector:stage"}

    # nothing changed: re-applying either cluster, in any order, writes nothing
    mark = device.last_seq()
    for adapter, state in ((prod, cluster_state("prod")), (stage, cluster_state("stage")),
                           (prod, cluster_state("prod"))):
        plan, result = sync(adapter, state)
        assert result.ok and not plan.changes, plan.changes
    assert writes(device, mark) == []
    assert policies(device) == order
