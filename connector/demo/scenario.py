"""The demo's example cluster, read from package data so that it works from an installed wheel.

Contract: `scenario_objects()` is every object to load into the mock API server, CRDs first:
the chart's CRDs (`crds/`, a link to `helm/fusion-connector/crds`), the documented examples
(`examples/`, a link to `docs/examples`) and the demo cluster around them (`cluster.yaml`).
`probes()` lists the sample questions (`probes.yaml`) answered per device after the apply.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import yaml

from connector.cluster import Obj
from connector.manifests import expand

PACKAGE = "connector.demo"


def _root() -> Traversable:
    return resources.files(PACKAGE)


def _documents(files: list[Traversable]) -> list[Obj]:
    out: list[Obj] = []
    for item in sorted(files, key=lambda f: f.name):
        out.extend(expand(yaml.safe_load_all(item.read_text(encoding="utf-8"))))
    return out


def _yaml_files(directory: str) -> list[Traversable]:
    return [f for f in _root().joinpath(directory).iterdir() if f.name.endswith(".yaml")]


def crd_files() -> list[Traversable]:
    """The chart's CustomResourceDefinition files, as packaged."""
    return sorted(_yaml_files("crds"), key=lambda f: f.name)


def example_files() -> list[Traversable]:
    """The documented examples (security, platform and application teams), as packaged."""
    return sorted(_yaml_files("examples"), key=lambda f: f.name)


def scenario_objects() -> list[Obj]:
    """CRDs, then the documented examples, then the demo cluster around them."""
    cluster = _root().joinpath("cluster.yaml")
    return _documents(crd_files()) + _documents(example_files()) + _documents([cluster])


_KIND_ORDER = ("Namespace", "Node", "Pod", "Service", "ExternalService", "ClusterEgressRule",
               "NamespaceEgressRule", "ServiceEgressRule")


def describe(objects: list[Obj]) -> str:
    """`5 Namespaces, 3 Nodes, 13 Pods, ...` (CRDs left out)."""
    counts = Counter(str(o.get("kind")) for o in objects if o.get("kind") != "CustomResourceDefinition")
    kinds = sorted(counts, key=lambda k: (_KIND_ORDER.index(k) if k in _KIND_ORDER else len(_KIND_ORDER), k))
    return ", ".join(f"{counts[kind]} {kind}{'' if counts[kind] == 1 else 's'}" for kind in kinds)


@dataclass(frozen=True)
class ExplainQuery:
    """One `explain` question of the demo, as a user types it: a source (`NS/POD`, `NS/svc/NAME` or
    an IP) and a destination (`HOST[:PORT[/PROTO]]`); `connector.evaluate.Probe` is its resolved form."""

    source: str
    destination: str


def probes() -> list[ExplainQuery]:
    data = yaml.safe_load(_root().joinpath("probes.yaml").read_text(encoding="utf-8")) or []
    return [ExplainQuery(str(item["from"]), str(item["to"])) for item in data]
