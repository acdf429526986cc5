"""Selector parsing on its own: syntax, errors and the map selectors of Services."""

from __future__ import annotations

import pytest

from mocks.kube.errors import ApiError
from mocks.kube.selectors import labels_match, parse_field_selector, parse_label_selector


def obj(labels: dict[str, str]) -> dict:
    return {"metadata": {"labels": labels}}


def test_numeric_comparisons_and_spacing() -> None:
    match = parse_label_selector(" rank > 2 , rank<10 ")
    assert match is not None
    assert match(obj({"rank": "5"})) and not match(obj({"rank": "1"})) and not match(obj({"rank": "x"}))


def test_empty_selector_selects_everything() -> None:
    assert parse_label_selector("") is None and parse_field_selector(None, ("", "pods")) is None


@pytest.mark.parametrize("selector", ["a in b", "=x", "a==b==c", "bad key=1", "a in (b", "a=" + "x" * 64])
def test_invalid_label_selectors(selector: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_label_selector(selector)
    assert caught.value.code == 400


def test_field_selector_support_depends_on_kind() -> None:
    assert parse_field_selector("spec.nodeName=n1", ("", "pods")) is not None
    with pytest.raises(ApiError):
        parse_field_selector("spec.nodeName=n1", ("", "services"))
    with pytest.raises(ApiError):
        parse_field_selector("nonsense", ("", "pods"))


def test_service_selector_matching() -> None:
    assert labels_match({"app": "a"}, {"app": "a", "x": "y"})
    assert not labels_match({"app": "a"}, {"app": "b"})
    assert labels_match({}, {"any": "thing"})
