"""The fleet report (`report --all-clusters`): every cluster of a shared store with its devices."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from connector.cli import main
from connector.planner.types import DeviceObject
from connector.reports.fleet import build_fleet_report, render_fleet
from connector.store import Store, create_engine, migrate, session_factory
from connector.store.clusters import record_cluster_seen

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def seed(url: str) -> None:
    """east: fgt in sync with 2 objects, bigip out of sync; west: fgt with 1 object; idle: no device."""
    migrate(url)
    engine = create_engine(url)
    try:
        with session_factory(engine).begin() as session:
            for cluster, devices in (("east", {"fgt": 2, "bigip": 0}), ("west", {"fgt": 1}), ("idle", {})):
                record_cluster_seen(session, cluster, T0)
                store = Store(session, cluster)
                for name, count in devices.items():
                    kind = "fortios" if name == "fgt" else "f5-as3"
                    store.devices.register(name, kind, f"https://{name}", T0)
                    store.devices.record_sync(name, in_sync=name == "fgt",
                                              error=None if name == "fgt" else "declaration failed", at=T0)
                    store.objects.replace(name, [DeviceObject("policy", f"fc_{cluster}_{i}", {"i": i},
                                                              owner=f"fusion-connector:{cluster}")
                                                 for i in range(count)], T0)
    finally:
        engine.dispose()


def test_the_fleet_lists_every_cluster_and_its_devices(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    seed(url)
    engine = create_engine(url)
    try:
        with session_factory(engine).begin() as session:
            report = build_fleet_report(session, T0)
    finally:
        engine.dispose()
    body = json.loads(render_fleet(report, "json"))
    assert [c["name"] for c in body["clusters"]] == ["east", "idle", "west"]
    east = {d["name"]: d for d in body["clusters"][0]["devices"]}
    assert (east["fgt"]["inSync"], east["fgt"]["ownedObjects"]) == (True, 2)
    assert (east["bigip"]["inSync"], east["bigip"]["lastError"]) == (False, "declaration failed")
    assert body["clusters"][1]["devices"] == []
    assert [d["ownedObjects"] for d in body["clusters"][2]["devices"]] == [1]
    rows = list(csv.DictReader(io.StringIO(render_fleet(report, "csv").decode())))
    assert [(r["cluster"], r["device"]) for r in rows] == [("east", "bigip"), ("east", "fgt"), ("idle", ""),
                                                           ("west", "fgt")]


def test_the_cli_reads_the_store_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    seed(url)
    config = tmp_path / "config.yaml"
    # the Kubernetes API and the device are unreachable: the fleet report never contacts them
    config.write_text(f"cluster: east\ndatabase: {url}\nkubernetes: {{host: 'http://127.0.0.1:9'}}\n")
    out = tmp_path / "fleet.json"
    result = CliRunner().invoke(main, ["report", "--config", str(config), "--all-clusters",
                                       "--format", "json", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 clusters, 2/3 devices in sync" in result.output
    assert [c["name"] for c in json.loads(out.read_text())["clusters"]] == ["east", "idle", "west"]
    refused = CliRunner().invoke(main, ["report", "--config", str(config), "--all-clusters",
                                        "--format", "html", "--output", "-"])
    assert refused.exit_code == 2 and "json or csv" in refused.output
