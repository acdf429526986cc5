"""Reading a change set: files and directories, multi-document YAML, refusals and ignored objects."""

from __future__ import annotations

from pathlib import Path

from connector.compiler import CompileSettings
from connector.model import Capabilities
from connector.review.manifests import read_change_set
from connector.review.render import to_text
from connector.review.review import run_review
from tests.connector.review.scenario import SCENARIO, cluster_view

FC = "fusion-connector.io/v1alpha1"


def test_a_directory_is_read_recursively_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.yml").write_text(f"apiVersion: {FC}\nkind: ExternalService\n"
                                            "metadata: {name: two, namespace: shop}\n"
                                            "spec: {addresses: [10.0.0.2]}\n")
    (tmp_path / "a.yaml").write_text(f"apiVersion: {FC}\nkind: ExternalService\n"
                                     "metadata: {name: one, namespace: shop}\n"
                                     "spec: {addresses: [10.0.0.1]}\n---\n"
                                     "apiVersion: v1\nkind: List\nitems:\n"
                                     f"- {{apiVersion: {FC}, kind: ExternalService, metadata: {{name: three, "
                                     "namespace: shop}, spec: {addresses: [10.0.0.3]}}\n")
    (tmp_path / "notes.txt").write_text("not a manifest")
    changes = read_change_set([tmp_path])
    assert [(e.source.replace(str(tmp_path), ""), e.name) for e in changes.entries] == [
        ("/a.yaml#1", "one"), ("/a.yaml#2", "three"), ("/b/two.yml#1", "two")]
    assert not changes.refused


def test_unparsable_files_and_namespaceless_objects_are_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("kind: [unclosed\n")
    (tmp_path / "scalar.yaml").write_text("just text\n")
    (tmp_path / "nons.yaml").write_text(f"apiVersion: {FC}\nkind: ExternalService\nmetadata: {{name: x}}\n"
                                        "spec: {addresses: [10.0.0.1]}\n")
    changes = read_change_set([tmp_path])
    found = {(r.source.replace(str(tmp_path), ""), r.reason, r.field) for r in changes.refused}
    assert found == {("/bad.yaml", "InvalidYAML", ""), ("/nons.yaml#1", "Invalid", "metadata.namespace"),
                     ("/scalar.yaml#1", "InvalidObject", "")}
    assert changes.entries == []


def test_applying_says_what_each_entry_did() -> None:
    changes = read_change_set([SCENARIO / "pr"], [SCENARIO / "gone", SCENARIO / "pr" / "api-to-stripe.yaml"])
    view = cluster_view()
    made = changes.apply(view)
    outcomes = {(e.operation, e.kind, e.name): e.outcome for e in changes.entries}
    assert outcomes == {("apply", "ServiceEgressRule", "api-to-stripe"): "created",
                        ("apply", "ExternalService", "bank"): "changed",
                        ("delete", "NamespaceEgressRule", "legacy-any"): "deleted",
                        ("delete", "ServiceEgressRule", "api-to-stripe"): "missing"}
    assert [c.type for c in made] == ["DELETED", "ADDED", "MODIFIED"]  # deletions first, then file order
    assert [i.split(" ", 1)[1] for i in changes.ignored] == [
        "ConfigMap notes: not a fusion-connector.io resource"]


def test_an_object_applied_as_it_is_is_unchanged() -> None:
    changes = read_change_set([SCENARIO / "cluster.yaml"])
    changes.apply(cluster_view())
    assert {e.outcome for e in changes.entries} == {"unchanged"}
    assert len(changes.ignored) == 8  # namespaces, pods, the Service and its EndpointSlice


def test_bad_metadata_is_refused_offline_as_the_api_server_refuses_it(tmp_path: Path) -> None:
    (tmp_path / "labels.yaml").write_text(f"apiVersion: {FC}\nkind: ExternalService\n"
                                          "metadata: {name: api, namespace: shop, labels: {app: has space}}\n"
                                          "spec: {addresses: [10.0.0.1]}\n---\n"
                                          f"apiVersion: {FC}\nkind: ExternalService\n"
                                          "metadata: {name: Api_2, namespace: shop}\n"
                                          "spec: {addresses: [10.0.0.2]}\n")
    changes = read_change_set([tmp_path])
    assert [(r.source.replace(str(tmp_path), ""), r.reason, r.field) for r in changes.refused] == [
        ("/labels.yaml#1", "Invalid", "metadata.labels"), ("/labels.yaml#2", "Invalid", "metadata.name")]
    assert changes.entries == []
    settings = CompileSettings(cluster="t", devices=(("soc", Capabilities()),))
    text = to_text(run_review(cluster_view(), settings, changes)).replace(str(tmp_path), "pr")
    (line,) = [t for t in text.splitlines() if t.startswith("refused: pr/labels.yaml#1 ")]
    documented = (Path(__file__).resolve().parents[3] / "docs" / "review.md").read_text()
    assert line in documented.splitlines()
