"""Where our FortiOS policy block goes when other clusters' blocks share the policy list
(docs/adapters.md, "Placement and other clusters").

Contract (`target_anchor`, `placement_moves`):
- A policy is *ours* (in `block`), *another cluster's* (its owner mark starts with
  `fusion-connector:` and is not ours) or *foreign* (anything else: the administrator's).
- The *anchor* is `before` (a policy id) or, for `top`, the first foreign policy (None: the end
  of the list). Our block must be one contiguous run, in `block` order, standing before the anchor
  with only other clusters' policies between its end and the anchor. With `top` that means above
  every foreign policy; other clusters' blocks may stand above or below ours.
- Our block never splits another cluster's run: it may end right before the anchor or right before
  the first policy of a run of another cluster inside that zone.
- Among those places the one needing the fewest moves is taken (ties: the one nearest the
  anchor), so a block already satisfying the constraint is never moved, and moving ours never
  moves other clusters' policies or changes their relative order. Two clusters that both want
  `top` therefore settle after one placement each and write nothing in the steady state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MARK_PREFIX = "fusion-connector:"


def is_cluster_mark(owner: str | None) -> bool:
    """True for an owner mark of any fusion-connector cluster."""
    return owner is not None and owner.startswith(MARK_PREFIX)


def candidate_anchors(table: Sequence[int], block: Sequence[int], owners: Mapping[int, str | None],
                      before: int | None) -> list[int | None]:
    """The places our block may end right before, nearest the anchor first (module contract).

    `table` is the policy list in evaluation order, `owners` the owner mark of its policies
    (missing: foreign), `before` the configured anchor (None: `top`)."""
    ours = set(block)
    others = [pid for pid in table if pid not in ours]
    if before is None:
        index = next((i for i, pid in enumerate(others) if not is_cluster_mark(owners.get(pid))), len(others))
    else:
        index = others.index(before)
    anchor = others[index] if index < len(others) else None
    candidates: list[int | None] = [anchor]
    position = index - 1
    while position >= 0 and is_cluster_mark(owners.get(others[position])):
        pid = others[position]
        if position == 0 or owners.get(others[position - 1]) != owners.get(pid):
            candidates.append(pid)  # the first policy of a run of another cluster
        position -= 1
    return candidates


def placement_moves(table: Sequence[int], block: Sequence[int],
                    anchor: int | None) -> list[tuple[int, str, int]]:
    """The `action=move` steps (policy, "before"|"after", target) that make `block` one contiguous
    run, in its order, ending right before `anchor` (or at the end when None). Policies already in
    place are not moved."""
    current = list(table)
    moves: list[tuple[int, str, int]] = []
    for pid in reversed(block):
        if anchor is None:
            if current[-1] != pid:
                moves.append((pid, "after", current[-1]))
                current.remove(pid)
                current.append(pid)
        else:
            index = current.index(anchor)
            if index == 0 or current[index - 1] != pid:
                moves.append((pid, "before", anchor))
                current.remove(pid)
                current.insert(current.index(anchor), pid)
        anchor = pid
    return moves


def block_moves(table: Sequence[int], block: Sequence[int], owners: Mapping[int, str | None],
                before: int | None) -> list[tuple[int, str, int]]:
    """The fewest moves placing `block` under the module contract ([] when it is in place).
    `before` must be a policy of `table` that is not in `block`."""
    if not block:
        return []
    candidates = candidate_anchors(table, block, owners, before)
    if _contiguous_before(table, block, candidates):
        return []  # in place: O(table), the steady state of every read
    best: list[tuple[int, str, int]] | None = None
    for anchor in candidates:
        moves = placement_moves(table, block, anchor)
        if best is None or len(moves) < len(best):
            best = moves
        if not best:
            break
    assert best is not None
    return best


def _contiguous_before(table: Sequence[int], block: Sequence[int], anchors: Sequence[int | None]) -> bool:
    """True when `block` is one run of `table`, in its order, ending right before one of `anchors`."""
    position = {pid: index for index, pid in enumerate(table)}
    start = position.get(block[0])
    if start is None or any(position.get(pid) != start + k for k, pid in enumerate(block)):
        return False
    end = start + len(block)
    follower = table[end] if end < len(table) else None
    return follower in anchors
