"""Observed flows in a review: the records of the window whose decision the change flips, most
frequent first, read from the store."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.flows.record import FlowIdentity, FlowLine, FlowRecord
from connector.store import create_engine, session_factory
from connector.store.flow_records import FlowRecordRepository
from connector.store.schema import migrate
from tests.connector.review.scenario import SCENARIO, write_scenario_snapshot


def _record(src: str, namespace: str, pod: str, dst: str, port: int | None, count: int,
            protocol: str = "TCP", age: timedelta = timedelta(hours=1)) -> FlowRecord:
    line = FlowLine(time=datetime.now(UTC) - age, device="soc", action="Deny", src=src, dst=dst,
                    protocol=protocol, src_port=40000, dst_port=port, count=count)
    return FlowRecord(line, FlowIdentity("t", namespace, pod=pod, pod_uid=f"uid-{pod}"), None)


RECORDS = [
    _record("10.0.1.1", "payments", "api-1", "198.51.100.200", 443, 5),  # the widened bank: Deny → Allow
    _record("10.0.2.1", "shop", "shop-1", "93.184.216.34", 80, 12),  # legacy-any deleted: Allow → Deny
    _record("10.0.1.2", "payments", "web-1", "198.51.100.5", 443, 3),  # allowed before and after
    _record("10.0.2.1", "shop", "shop-1", "93.184.216.34", None, 2, protocol="ICMP"),  # not evaluated
    _record("10.0.2.1", "shop", "shop-1", "93.184.216.34", 80, 40, age=timedelta(days=30)),  # outside 7d
]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("pr", "gone"):
        shutil.copytree(SCENARIO / name, tmp_path / name)
    config = (SCENARIO / "config.yaml").read_text().replace("sqlite:///no-store-here.db", "sqlite:///store.db")
    (tmp_path / "config.yaml").write_text(config)
    write_scenario_snapshot(tmp_path / "snapshot.json")
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate(url)
    engine = create_engine(url)
    with session_factory(engine).begin() as session:
        FlowRecordRepository(session, "t").add(RECORDS)
    engine.dispose()
    return tmp_path


def test_the_flows_whose_decision_changes_are_listed_most_frequent_first(workdir: Path) -> None:
    result = CliRunner().invoke(main, ["review", "--config", "config.yaml", "--snapshot", "snapshot.json",
                                       "--manifests", "pr/api-to-stripe.yaml", "pr/bank.yaml",
                                       "--delete", "gone", "--output", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    schema = json.loads((Path(__file__).resolve().parents[3] / "docs" / "review.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(document)
    flows = document["flows"]
    assert flows["available"] and flows["window"] == "7d"
    assert (flows["examined"], flows["skipped"]) == (4, 1)
    assert [(f["count"], f["namespace"], f["source"], f["destination"], f["port"], f["before"]["action"],
             f["after"]["action"], f["after"]["rule"]) for f in flows["changes"]] == [
        (12, "shop", "Pod shop-1", "93.184.216.34", "80/TCP", "Allow", "Deny",
         "the default action of namespace shop"),
        (5, "payments", "Pod api-1", "198.51.100.200", "443/TCP", "Deny", "Allow",
         "NamespaceEgressRule payments/allow-bank"),
    ]


def test_a_wider_window_takes_older_records_too(workdir: Path) -> None:
    result = CliRunner().invoke(main, ["review", "--config", "config.yaml", "--snapshot", "snapshot.json",
                                       "--manifests", "pr/bank.yaml", "--delete", "gone", "--window", "60d"])
    assert result.exit_code == 0, result.output
    assert ("observed flows (last 60d): 2 flows would change decision, of 5 record(s) examined"
            in result.stdout)
    assert "  52x shop Pod shop-1 → 93.184.216.34 port 80/TCP: Allow by NamespaceEgressRule shop/legacy-any" \
        in result.stdout
