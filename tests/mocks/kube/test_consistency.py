"""Property: replaying watch events (with or without a selector) rebuilds exactly what a list shows."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mocks.kube.api import Api
from mocks.kube.errors import ApiError
from mocks.kube.selectors import parse_label_selector
from mocks.kube.watch import event_type_for

NAMES = st.sampled_from(["a", "b", "c", "d"])
COLOURS = st.sampled_from(["red", "blue"])
OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["create", "patch", "delete"]), NAMES, COLOURS), min_size=1, max_size=25
)


def apply(api: Api, operations: list[tuple[str, str, str]]) -> None:
    cm = api.type_of(("", "configmaps"))
    for op, name, colour in operations:
        try:
            if op == "create":
                api.create(cm, "default", {"metadata": {"name": name, "labels": {"colour": colour}}})
            elif op == "patch":
                api.patch(
                    cm,
                    "default",
                    name,
                    "application/merge-patch+json",
                    {"metadata": {"labels": {"colour": colour}}, "data": {"v": colour}},
                )
            else:
                api.delete(cm, "default", name)
        except ApiError as exc:
            assert exc.code in (404, 409)


@settings(max_examples=40, deadline=None)
@given(OPERATIONS, st.sampled_from([None, "colour=red", "colour!=red"]))
def test_watch_replay_matches_list(operations: list[tuple[str, str, str]], selector: str | None) -> None:
    api = Api()
    key = ("", "configmaps")
    start = api.store.resource_version
    apply(api, operations)
    match = parse_label_selector(selector)
    backlog, watcher = api.store.watch(key, "default", start)
    api.store.unwatch(watcher)
    state: dict[str, dict[str, Any]] = {}
    last_rv = start
    for event in backlog:
        assert event.rv > last_rv
        last_rv = event.rv
        event_type = event_type_for(event, match)
        if event_type is None:
            continue
        name = event.obj["metadata"]["name"]
        if event_type == "DELETED":
            assert name in state
            del state[name]
        else:
            assert (name in state) == (event_type == "MODIFIED")
            state[name] = event.obj
    _, listed = api.store.snapshot(key, "default")
    expected = {o["metadata"]["name"]: o for o in listed if match is None or match(o)}
    assert state == expected
