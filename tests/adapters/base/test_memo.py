"""RenderMemo: reuse while the inputs are the same (or equal), rebuild otherwise, forget unused."""

from __future__ import annotations

from adapters.base.memo import RenderMemo


class Built:
    def __init__(self, *inputs: object) -> None:
        self.inputs = inputs


def test_reuses_for_the_same_or_equal_inputs_and_rebuilds_for_others() -> None:
    memo = RenderMemo()
    model = ("10.0.0.1",)
    first = memo.get("g", Built, model, "c1")
    memo.done()
    assert memo.get("g", Built, model, "c1") is first
    memo.done()
    assert memo.get("g", Built, ("10.0.0.1",), "c1") is first  # equal, not identical: same output
    memo.done()
    changed = memo.get("g", Built, ("10.0.0.2",), "c1")
    assert changed is not first and changed.inputs == (("10.0.0.2",), "c1")


def test_forgets_what_the_latest_render_did_not_use() -> None:
    memo = RenderMemo()
    first = memo.get("a", Built, 1)
    memo.done()
    memo.get("b", Built, 2)
    memo.done()
    assert memo.get("a", Built, 1) is not first
