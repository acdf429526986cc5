"""The review scenario: a small cluster (scenario/cluster.yaml) and a realistic change set
(scenario/pr: a new ServiceEgressRule, a widened ExternalService, an invalid manifest and a
ConfigMap; scenario/gone: a deleted NamespaceEgressRule)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from connector.cluster import StaticView
from connector.crds.validation import ManifestValidator
from connector.manifests import load_documents
from connector.review.snapshot import dump_snapshot, write_snapshot
from connector.sources.transform import transform

SCENARIO = Path(__file__).resolve().parent / "scenario"
EXPECTED = Path(__file__).resolve().parent / "expected"
TAKEN = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def cluster_view(path: Path = SCENARIO / "cluster.yaml") -> StaticView:
    """The scenario's objects as the API server stores them (custom resources pruned and
    defaulted) and the watch cache holds them."""
    view = StaticView()
    validator = ManifestValidator()
    for obj in load_documents([path]):
        stored = validator.check(obj).obj if validator.definition(obj) is not None else obj
        assert stored is not None, obj
        view.put(transform(StaticView.kind_of(stored), stored))
    return view


def write_scenario_snapshot(path: Path) -> Path:
    write_snapshot(path, dump_snapshot(cluster_view(), "t", TAKEN))
    return path
