"""`fusion-connector recommend` with real flow records in the store (SQLite): the YAML it prints
is valid, allows the workload's observed egress, and `review` of it against the same store closes
no observed flow; the window and --min-count narrow it; bad input exits 2 naming the flag."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from connector.cli import main
from connector.flows.record import FlowLine, FlowRecord
from connector.review.snapshot import dump_snapshot, write_snapshot
from connector.store import create_engine, migrate, session_factory
from connector.store.bulk import utcnow
from connector.store.flow_records import FlowRecordRepository
from tests.connector.recommend.scenario import CLUSTER, CONFIG, cluster_view, observed_records


def _store(database: str, records: list[FlowRecord]) -> None:
    migrate(database)
    engine = create_engine(database)
    with session_factory(engine).begin() as session:
        FlowRecordRepository(session, CLUSTER).add(records)
    engine.dispose()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    database = f"sqlite:///{tmp_path / 'store.db'}"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "database": database}))
    now = utcnow()
    old = next(r for r in observed_records(now) if r.line.dst == "198.51.100.77")
    line = FlowLine(now - timedelta(days=3), "soc", "Deny", old.line.src, "198.51.100.78", "TCP", 40000, 5432,
                    count=4)
    three_days_ago = FlowRecord(line, old.identity, old.rule)
    _store(database, [*observed_records(now), three_days_ago])
    return path


def recommend(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["recommend", "--config", str(config), *args])


def documents(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return list(yaml.safe_load_all(result.stdout))


def test_a_service_gets_external_services_and_a_service_egress_rule(config: Path) -> None:
    result = recommend(config, "--namespace", "shop", "--service", "web", "--min-count", "2")
    objects = documents(result)
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("ExternalService", "web-observed-tcp-25"), ("ExternalService", "web-observed-tcp-80"),
        ("ExternalService", "web-observed-tcp-443"), ("ExternalService", "web-observed-udp-53"),
        ("ServiceEgressRule", "web-observed-egress")]
    assert {o["metadata"]["namespace"] for o in objects} == {"shop"}
    assert objects[2]["spec"] == {"addresses": ["93.184.216.34", "198.51.100.5"],
                                  "ports": [{"protocol": "TCP", "port": "443"}]}
    assert objects[-1]["spec"] == {"service": "web", "action": "Allow", "priority": 500,
                                   "externalServices": [o["metadata"]["name"] for o in objects[:-1]]}
    assert "203.0.113.9" not in yaml.safe_dump(objects)  # denied by the Admin rule
    assert "# ServiceEgressRule shop/web-observed-egress: allows the egress observed from Service shop/web " \
           "in the last 7d (" in result.stdout
    assert result.stderr == ("recommended 4 ExternalServices and 1 ServiceEgressRule for Service shop/web, "
                             "from 32 flows to 5 destination ports; 9 flows left out\n")


def test_a_namespace_gets_a_namespace_rule_and_the_window_decides_what_counts(config: Path) -> None:
    week = documents(recommend(config, "--namespace", "shop"))
    day = documents(recommend(config, "--namespace", "shop", "--since", "1d"))
    assert week[-1]["kind"] == day[-1]["kind"] == "NamespaceEgressRule"
    assert week[-1]["metadata"]["name"] == "shop-observed-egress"
    addresses = [{a for o in found[:-1] for a in o["spec"]["addresses"]} for found in (week, day)]
    assert addresses[0] - addresses[1] == {"198.51.100.78"}  # three days old
    assert "198.51.100.77" in addresses[1] and "198.51.100.6" in addresses[1]


def test_allowed_only_leaves_the_denied_attempts_out(config: Path) -> None:
    objects = documents(recommend(config, "--namespace", "shop", "--allowed-only"))
    assert [(o["kind"], o["spec"].get("addresses")) for o in objects[:-1]] == [
        ("ExternalService", ["198.51.100.5"])]


def test_review_of_the_output_against_the_same_store_closes_no_observed_flow(config: Path,
                                                                            tmp_path: Path) -> None:
    result = recommend(config, "--namespace", "shop", "--service", "web", "--min-count", "2")
    assert result.exit_code == 0, result.output
    (tmp_path / "recommended.yaml").write_text(result.stdout)
    write_snapshot(tmp_path / "snapshot.json", dump_snapshot(cluster_view(), CLUSTER))
    reviewed = CliRunner().invoke(main, ["review", "--config", str(config), "--snapshot",
                                         str(tmp_path / "snapshot.json"), "--manifests",
                                         str(tmp_path / "recommended.yaml"), "--output", "json"])
    assert reviewed.exit_code == 0, reviewed.output
    review = json.loads(reviewed.stdout)
    assert not review["refused"] and not review["notAccepted"]
    assert review["summary"]["closes"] == 0
    flows = review["flows"]
    assert flows["available"] and flows["changes"]
    assert {(f["before"]["action"], f["after"]["action"]) for f in flows["changes"]} == {("Deny", "Allow")}
    assert {(f["destination"], f["port"]) for f in flows["changes"]} == {
        ("93.184.216.34", "443/TCP"), ("93.184.216.34", "80/TCP"), ("192.0.2.25", "25/TCP"),
        ("2001:db8::53", "53/UDP")}


def test_nothing_observed_prints_only_the_header_and_exits_0(config: Path) -> None:
    result = recommend(config, "--namespace", "jobs")
    assert documents(result) == []
    assert all(line.startswith("# ") for line in result.stdout.splitlines())  # the header only
    assert result.stdout.startswith(
        "# fusion-connector recommend: rules allowing the egress of namespace jobs ")
    assert result.stderr.startswith("nothing to recommend: 0 flows of namespace jobs observed since ")


@pytest.mark.parametrize(("args", "named"), [
    (("--namespace", "shop", "--since", "soon"), "'--since'"),
    (("--namespace", "shop", "--since", "2999-01-01T00:00:00Z"), "'--since'"),
    (("--namespace", "Shop"), "'--namespace'"),
    (("--namespace", "shop", "--service", "Web"), "'--service'"),
    (("--namespace", "shop", "--min-count", "0"), "'--min-count'"),
    (("--namespace", "shop", "--min-count", "many"), "'--min-count'"),
    ((), "'--namespace'"),
])
def test_bad_input_exits_2_naming_the_flag(config: Path, args: tuple[str, ...], named: str) -> None:
    result = recommend(config, *args)
    assert result.exit_code == 2 and named in result.stderr, result.output
    assert result.stdout == ""


def test_bad_configuration_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "bogus": 1}))
    result = recommend(path, "--namespace", "shop")
    assert result.exit_code == 2 and "bogus" in result.stderr


def test_unreadable_store_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "database": f"sqlite:///{tmp_path / 'no' / 'store.db'}"}))
    result = recommend(path, "--namespace", "shop")
    assert result.exit_code == 1 and result.stderr.startswith("error:") and result.stdout == ""
