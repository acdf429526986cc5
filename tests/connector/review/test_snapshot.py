"""The snapshot file: round trip, and refusals naming the place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from connector.cluster import Kind
from connector.compiler import CompileSettings, compile_cluster
from connector.model import Capabilities
from connector.review.snapshot import (
    SnapshotError,
    dump_snapshot,
    load_snapshot,
    read_snapshot,
    snapshot_schema,
    write_snapshot,
)
from tests.connector.review.scenario import TAKEN, cluster_view

SETTINGS = CompileSettings(cluster="t", devices=(("soc", Capabilities()), ("fgt", Capabilities(fqdn=False))))


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)


def test_a_written_snapshot_reads_back_to_the_same_view_and_desired_state(tmp_path: Path) -> None:
    view = cluster_view()
    path = tmp_path / "s.json"
    write_snapshot(path, dump_snapshot(view, "t", TAKEN))
    again, header = read_snapshot(path)
    assert header == {"kind": "FusionConnectorSnapshot", "version": 1, "cluster": "t",
                      "takenAt": "2026-12-01T09:30:00Z"}
    for kind in Kind:
        assert sorted(map(_canonical, again.list(kind))) == sorted(map(_canonical, view.list(kind)))
    assert ({d: s.to_json() for d, s in compile_cluster(again, SETTINGS).devices.items()}
            == {d: s.to_json() for d, s in compile_cluster(view, SETTINGS).devices.items()})


def _document() -> dict[str, Any]:
    return dump_snapshot(cluster_view(), "t", TAKEN)


@pytest.mark.parametrize("spoil, message", [
    (lambda d: d.update(version=2), "snapshot format version 2 is not supported"),
    (lambda d: d["objects"].pop("pods"), "objects: 'pods' is a required property"),
    (lambda d: d["objects"]["pods"][0]["metadata"].pop("name"),
     "objects/pods/0: metadata: 'name' is a required"),
    (lambda d: d["objects"]["pods"].append(d["objects"]["services"][0]),
     "objects/pods/3: kind 'Service' does not belong under pods"),
    (lambda d: d.update(extra=1),
     "(top level): Additional properties are not allowed ('extra' was unexpected)"),
])
def test_a_spoiled_snapshot_is_refused_naming_the_place(spoil: Any, message: str) -> None:
    document = _document()
    spoil(document)
    with pytest.raises(SnapshotError) as caught:
        load_snapshot(document, "s.json")
    assert str(caught.value).startswith("s.json: ")
    assert message in str(caught.value)


@pytest.mark.parametrize("obj", [
    "text", {"metadata": {"name": "x"}}, {"kind": "Pod"}, {"kind": "Pod", "metadata": {"name": ""}},
    {"kind": "Pod", "metadata": {"name": "x", "labels": {"a": 1}}}, {"kind": "Pod", "metadata": {"name": "x"},
                                                                     "spec": []},
    {"kind": "Pod", "metadata": {"name": "x", "namespace": 3}},
])
def test_objects_are_checked_as_the_schema_says(obj: Any) -> None:
    document = _document()
    document["objects"]["pods"] = [obj]
    assert list(jsonschema.Draft202012Validator(snapshot_schema()).iter_errors(document))
    with pytest.raises(SnapshotError, match=r"s\.json: objects/pods/0: "):
        load_snapshot(document, "s.json")


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text("{not json")
    with pytest.raises(SnapshotError, match="not JSON"):
        read_snapshot(tmp_path / "s.json")
