"""`fusion-connector flows`: the store's attributed records filtered by time, identity, rule,
action and device, as a table, CSV or one JSON array; bad input exits 2 naming the flag."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from connector.cli import main
from connector.flows.record import FlowIdentity, FlowLine, FlowRecord, FlowRule
from connector.store import create_engine, migrate, session_factory
from connector.store.bulk import utcnow
from connector.store.flow_records import FlowRecordRepository

WEB = FlowIdentity("c1", "shop", "web-1", "uid-1", ("web",))
WEB_AGAIN = FlowIdentity("c1", "shop", "web-2", "uid-2", ("web",))
BATCH = FlowIdentity("c1", "jobs", "batch-1", "uid-3")
PAY = FlowRule("ServiceEgressRule", "shop", "to-stripe", "Application")
DNS = FlowRule("ClusterEgressRule", "", "allow-dns", "Platform")


def _line(minutes: float, action: str, dst: str, port: int, device: str = "fw1") -> FlowLine:
    return FlowLine(time=utcnow() - timedelta(minutes=minutes), device=device, action=action,  # type: ignore[arg-type]
                    src="10.244.0.9", dst=dst, protocol="TCP" if port != 53 else "UDP", src_port=40001,
                    dst_port=port, device_rule="fc_c1_7", count=2)


RECORDS = [
    FlowRecord(_line(200, "Allow", "198.51.100.7", 443), WEB, PAY),           # 3h20 ago
    FlowRecord(_line(30, "Allow", "198.51.100.7", 443), WEB_AGAIN, PAY),      # same address, new pod
    FlowRecord(_line(20, "Deny", "203.0.113.9", 22, device="fw2"), WEB_AGAIN, None),
    FlowRecord(_line(10, "Allow", "192.0.2.53", 53), BATCH, DNS),
    FlowRecord(_line(5, "Deny", "203.0.113.9", 443), None, None),
]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    database = f"sqlite:///{tmp_path / 'store.db'}"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({
        "cluster": "c1", "database": database,
        "kubernetes": {"host": "http://127.0.0.1:9"},
        "devices": [{"name": name, "type": "rest", "url": "http://127.0.0.1:9", "auth": {"tokenEnv": "T"}}
                    for name in ("fw1", "fw2")]}))
    migrate(database)
    engine = create_engine(database)
    with session_factory(engine).begin() as session:
        FlowRecordRepository(session, "c1").add(RECORDS)
    engine.dispose()
    return path


def flows(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["flows", "--config", str(config), *args])


def as_json(result: Result) -> list[dict[str, object]]:
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return data


def test_json_is_one_array_of_records_newest_first_within_the_last_hour(config: Path) -> None:
    data = as_json(flows(config, "--output", "json"))
    assert [(r["dst"], r["dstPort"]) for r in data] == [("203.0.113.9", 443), ("192.0.2.53", 53),
                                                        ("203.0.113.9", 22), ("198.51.100.7", 443)]
    assert data[3]["identity"]["pod"] == "web-2" and data[3]["rule"]["name"] == "to-stripe"
    assert set(data[0]) == {"time", "device", "action", "src", "srcPort", "dst", "dstPort", "protocol",
                            "identity", "ambiguous", "candidates", "rule", "deviceRule", "count"}
    assert data[0]["identity"] is None and data[0]["count"] == 2


def test_since_until_accept_durations_and_rfc3339(config: Path) -> None:
    older = as_json(flows(config, "--since", "4h", "--until", "1h", "--output", "json"))
    assert [r["identity"]["pod"] for r in older] == ["web-1"]  # type: ignore[index]
    start = (utcnow() - timedelta(minutes=25)).isoformat().replace("+00:00", "Z")
    recent = as_json(flows(config, "--since", start, "--output", "json"))
    assert [r["dstPort"] for r in recent] == [443, 53, 22]


@pytest.mark.parametrize(("args", "expected"), [
    (("--namespace", "shop"), [22, 443]),
    (("--pod", "web-2"), [22, 443]),
    (("--service", "web", "--since", "7d"), [22, 443, 443]),
    (("--rule", "ClusterEgressRule/allow-dns"), [53]),
    (("--rule", "ServiceEgressRule/shop/to-stripe", "--since", "1d"), [443, 443]),
    (("--action", "deny"), [443, 22]),
    (("--device", "fw2"), [22]),
    (("--namespace", "shop", "--action", "Allow"), [443]),
])
def test_filters(config: Path, args: tuple[str, ...], expected: list[int]) -> None:
    assert [r["dstPort"] for r in as_json(flows(config, *args, "--output", "json"))] == expected


def test_table_for_people(config: Path) -> None:
    result = flows(config)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["TIME", "(UTC)", "DEVICE"] and len(lines) == 5
    assert "10.244.0.9 -> jobs/batch-1" in lines[2] and "192.0.2.53:53/UDP" in lines[2]
    assert "ClusterEgressRule allow-dns" in lines[2]
    assert "10.244.0.9 -> shop/web-2 (svc web)" in lines[3] and "device rule fc_c1_7, not ours" in lines[3]
    assert "no cluster identity" in lines[1]
    empty = flows(config, "--namespace", "nowhere")
    assert empty.exit_code == 0 and empty.stdout == "" and "no flow record matches" in empty.stderr


def test_csv_with_a_header(config: Path) -> None:
    result = flows(config, "--output", "csv", "--pod", "web-2")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["pod"], r["dst_port"], r["action"], r["rule_name"]) for r in rows] == [
        ("web-2", "22", "Deny", ""), ("web-2", "443", "Allow", "to-stripe")]


@pytest.mark.parametrize(("args", "named"), [
    (("--since", "yesterday"), "--since"),
    (("--until", "2026-12-06T10:00:00"), "--until"),
    (("--rule", "Policy/x/y"), "--rule"),
    (("--action", "Drop"), "--action"),
    (("--output", "yaml"), "--output"),
    (("--since", "1h", "--until", "2h"), "--since"),
    (("--device", "fw9"), "fw9"),
])
def test_bad_input_exits_2_naming_the_flag(config: Path, args: tuple[str, ...], named: str) -> None:
    result = flows(config, *args)
    assert result.exit_code == 2, result.output
    assert named in result.stderr


def test_bad_configuration_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("cluster: c1\nbogus: 1\n")
    result = flows(path)
    assert result.exit_code == 2 and "bogus" in result.stderr


def test_unreadable_store_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"cluster": "c1", "database": f"sqlite:///{tmp_path / 'no' / 'store.db'}",
                                    "kubernetes": {"host": "http://127.0.0.1:9"}, "devices": []}))
    result = flows(path)
    assert result.exit_code == 1 and result.stderr.startswith("error:")
