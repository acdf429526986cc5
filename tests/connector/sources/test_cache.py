from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.cluster import Kind
from connector.sources.cache import ObjectCache


def pod(namespace: str, name: str, version: str) -> dict:
    return {"kind": "Pod", "metadata": {"namespace": namespace, "name": name, "resourceVersion": version}}


def test_apply_event_adds_modifies_and_deletes_with_old_and_new() -> None:
    cache = ObjectCache()
    added = cache.apply_event(Kind.POD, "ADDED", pod("a", "p", "1"))
    assert added is not None and added.type == "ADDED" and added.new == pod("a", "p", "1")
    modified = cache.apply_event(Kind.POD, "MODIFIED", pod("a", "p", "2"))
    assert modified is not None and modified.type == "MODIFIED"
    assert modified.old == pod("a", "p", "1") and modified.new == pod("a", "p", "2")
    deleted = cache.apply_event(Kind.POD, "DELETED", pod("a", "p", "3"))
    assert deleted is not None and deleted.type == "DELETED" and deleted.old == pod("a", "p", "2")
    assert cache.get(Kind.POD, "a", "p") is None
    assert cache.list(Kind.POD) == [] and cache.namespaces(Kind.POD) == []


def test_repeated_event_and_unknown_delete_change_nothing() -> None:
    cache = ObjectCache()
    cache.apply_event(Kind.POD, "ADDED", pod("a", "p", "1"))
    assert cache.apply_event(Kind.POD, "MODIFIED", pod("a", "p", "1")) is None
    assert cache.apply_event(Kind.POD, "ADDED", pod("a", "p", "1")) is None
    assert cache.apply_event(Kind.POD, "DELETED", pod("a", "q", "5")) is None
    assert cache.count(Kind.POD) == 1


def test_list_by_namespace_uses_the_index() -> None:
    cache = ObjectCache()
    for namespace, name in [("a", "1"), ("a", "2"), ("b", "1")]:
        cache.apply_event(Kind.POD, "ADDED", pod(namespace, name, "1"))
    assert sorted(o["metadata"]["name"] for o in cache.list(Kind.POD, "a")) == ["1", "2"]
    assert cache.count(Kind.POD, "b") == 1 and cache.count(Kind.POD, "zzz") == 0
    assert sorted(cache.namespaces(Kind.POD)) == ["a", "b"]
    assert cache.list(Kind.SERVICE) == []


def test_replace_synthesizes_deletes_and_diffs_by_resource_version() -> None:
    cache = ObjectCache()
    for name, version in [("keep", "1"), ("change", "1"), ("gone", "1")]:
        cache.apply_event(Kind.POD, "ADDED", pod("a", name, version))
    kept = cache.get(Kind.POD, "a", "keep")
    changes = cache.replace(Kind.POD, [pod("a", "keep", "1"), pod("a", "change", "2"), pod("b", "new", "3")])
    summary = sorted((change.type, change.name) for change in changes)
    assert summary == [("ADDED", "new"), ("DELETED", "gone"), ("MODIFIED", "change")]
    deleted = next(change for change in changes if change.type == "DELETED")
    assert deleted.old == pod("a", "gone", "1")
    assert cache.get(Kind.POD, "a", "keep") is kept  # unchanged objects keep their identity
    assert sorted(cache.namespaces(Kind.POD)) == ["a", "b"]
    assert cache.keys(Kind.POD) == {("a", "keep"), ("a", "change"), ("b", "new")}


def test_cluster_scoped_objects_live_in_the_empty_namespace() -> None:
    cache = ObjectCache()
    node = {"kind": "Node", "metadata": {"name": "n1", "resourceVersion": "1"}}
    cache.apply_event(Kind.NODE, "ADDED", node)
    assert cache.get(Kind.NODE, "", "n1") is not None
    assert cache.list(Kind.NODE, "") == cache.list(Kind.NODE)


operations = st.lists(st.tuples(st.sampled_from(["ADDED", "MODIFIED", "DELETED"]),
                                st.sampled_from(["a", "b"]), st.sampled_from(["p", "q", "r"]),
                                st.integers(1, 4)), max_size=30)


@settings(max_examples=60, deadline=None)
@given(operations, st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["p", "q"]),
                                      st.integers(1, 4)), max_size=6))
def test_index_and_changes_agree_with_a_plain_dict(ops: list, relist: list) -> None:
    cache = ObjectCache()
    model: dict[tuple[str, str], dict] = {}
    for event, namespace, name, version in ops:
        obj = pod(namespace, name, str(version))
        change = cache.apply_event(Kind.POD, event, obj)
        before = model.get((namespace, name))
        if event == "DELETED":
            model.pop((namespace, name), None)
            assert (change is None) == (before is None)
        else:
            same = before is not None and before["metadata"]["resourceVersion"] == str(version)
            if not same:
                model[(namespace, name)] = obj
            assert (change is None) == same
    listed = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in cache.list(Kind.POD)}
    assert listed == model
    for namespace in ("a", "b"):
        assert {o["metadata"]["name"] for o in cache.list(Kind.POD, namespace)} == {
            name for ns, name in model if ns == namespace}
    target = {(ns, name): pod(ns, name, str(v)) for ns, name, v in relist}
    applied = dict(model)
    for change in cache.replace(Kind.POD, list(target.values())):
        if change.new is None:
            assert change.old is applied.pop((change.namespace, change.name))
        else:
            applied[(change.namespace, change.name)] = change.new
    assert applied == target == {(o["metadata"]["namespace"], o["metadata"]["name"]): o
                                 for o in cache.list(Kind.POD)}


def test_concurrent_writers_and_readers_keep_the_index_consistent() -> None:
    cache = ObjectCache()
    errors: list[BaseException] = []

    def writer(namespace: str) -> None:
        for i in range(300):
            cache.apply_event(Kind.POD, "ADDED", pod(namespace, f"p{i}", "1"))
            if i % 3 == 0:
                cache.apply_event(Kind.POD, "DELETED", pod(namespace, f"p{i}", "2"))

    def reader() -> None:
        try:
            for _ in range(300):
                for namespace in cache.namespaces(Kind.POD):
                    cache.list(Kind.POD, namespace)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(ns,)) for ns in "abc"]
    threads.append(threading.Thread(target=reader))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert cache.count(Kind.POD) == 3 * 200
    assert sum(cache.count(Kind.POD, ns) for ns in "abc") == 600
