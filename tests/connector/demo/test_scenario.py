"""The demo's example is package data: the chart's CRDs and the documented examples are the very
files of the repository (links, not copies), and the demo cluster names only what exists."""

from __future__ import annotations

from pathlib import Path

from connector.demo.scenario import crd_files, describe, example_files, probes, scenario_objects
from connector.explain import parse_destination, parse_source
from connector.manifests import collection_path

REPO = Path(__file__).resolve().parents[3]


def test_packaged_crds_are_the_charts_crds_byte_for_byte() -> None:
    chart = sorted((REPO / "helm" / "fusion-connector" / "crds").glob("*.yaml"))
    assert [f.name for f in crd_files()] == [p.name for p in chart]
    assert all(f.read_bytes() == p.read_bytes() for f, p in zip(crd_files(), chart, strict=True))


def test_packaged_examples_are_the_documented_examples_byte_for_byte() -> None:
    docs = sorted((REPO / "docs" / "examples").glob("*.yaml"))
    assert [f.name for f in example_files()] == [p.name for p in docs]
    assert all(f.read_bytes() == p.read_bytes() for f, p in zip(example_files(), docs, strict=True))


def test_scenario_has_every_resource_kind_and_a_collection_for_each_object() -> None:
    objects = scenario_objects()
    kinds = {str(o["kind"]) for o in objects}
    assert {"ExternalService", "ClusterEgressRule", "NamespaceEgressRule", "ServiceEgressRule",
            "Namespace", "Node", "Pod", "Service", "CustomResourceDefinition"} <= kinds
    assert [o["kind"] for o in objects[:4]] == ["CustomResourceDefinition"] * 4
    for obj in objects:
        assert collection_path(obj)
    names = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects]
    assert len(names) == len(set(names)), "an object is defined twice"
    assert describe(objects).startswith("5 Namespaces, 3 Nodes, 13 Pods, 5 Services, 9 ExternalServices")


def test_probes_parse_and_name_objects_of_the_scenario() -> None:
    objects = scenario_objects()
    pods = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in objects if o["kind"] == "Pod"}
    services = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in objects
                if o["kind"] == "Service"}
    assert len(probes()) >= 5
    for probe in probes():
        source = parse_source(probe.source)
        parse_destination(probe.destination)
        if source.pod:
            assert (source.namespace, source.pod) in pods
        if source.service:
            assert (source.namespace, source.service) in services
