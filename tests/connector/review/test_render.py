"""The Markdown comment: a summary on one screen, and never more than a comment holds."""

from __future__ import annotations

from connector.compiler import CompileSettings
from connector.model import Capabilities
from connector.review.manifests import read_change_set
from connector.review.render import to_markdown
from connector.review.review import Review, run_review
from tests.connector.review.scenario import SCENARIO, cluster_view


def _review() -> Review:
    settings = CompileSettings(cluster="t", devices=(("soc", Capabilities()),))
    changes = read_change_set([SCENARIO / "pr"], [SCENARIO / "gone"])
    return run_review(cluster_view(), settings, changes)


def test_the_summary_comes_first_and_fits_one_screen() -> None:
    text = to_markdown(_review())
    summary = text.split("<details>")[0].strip().splitlines()
    assert summary[0].startswith("### fusion-connector review: 4 decision changes in 2 namespaces")
    assert len(summary) <= 30
    assert text.count("<summary>namespace ") == 2


def test_sections_that_do_not_fit_are_counted_instead() -> None:
    review = _review()
    whole = to_markdown(review)
    limit = len(whole) - 50  # the last namespace's section (shop) no longer fits
    cut = to_markdown(review, limit=limit)
    assert len(cut) <= limit
    assert "<summary>namespace <code>payments</code>" in cut and "namespace <code>shop</code>" not in cut
    assert "… 1 more namespaces (1 changes) do not fit in a comment" in cut
    assert cut.rstrip().endswith("</details>")  # the capacity, refusals and flows sections stay
