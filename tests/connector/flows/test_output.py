"""The flow records' outputs: table, CSV with a header, one JSON array; the `flows` command's time
bounds and `--rule` parsing."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from connector.flows.output import (
    CSV_COLUMNS,
    csv_text,
    destination_text,
    identity_text,
    json_text,
    parse_moment,
    parse_rule,
    table_lines,
)
from connector.flows.record import FlowIdentity, FlowLine, FlowRecord, FlowRule

NOW = datetime(2026, 12, 6, 16, 20, tzinfo=UTC)
CHECKOUT = FlowIdentity("demo", "payments", "checkout-1", "uid-1", ("checkout",))
REPLACEMENT = FlowIdentity("demo", "payments", "checkout-2", "uid-2", ("checkout",))
STRIPE = FlowRule("ServiceEgressRule", "payments", "allow-stripe", "Application")


def _record(**changes: object) -> FlowRecord:
    line = FlowLine(time=NOW - timedelta(minutes=5), device="fgt-edge", action="Allow", src="10.244.1.5",
                    dst="203.0.113.7", protocol="TCP", src_port=40000, dst_port=443, device_rule="fc_demo_1",
                    count=3)
    values: dict[str, object] = {"line": line, "identity": CHECKOUT, "rule": STRIPE}
    values.update(changes)
    return FlowRecord(**values)  # type: ignore[arg-type]


def test_durations_count_back_from_now_and_times_are_rfc3339() -> None:
    assert parse_moment("1h", NOW) == NOW - timedelta(hours=1)
    assert parse_moment("7d", NOW) == NOW - timedelta(days=7)
    assert parse_moment("2026-12-06T17:00:00+01:00", NOW) == datetime(2026, 12, 6, 16, tzinfo=UTC)
    for bad in ("yesterday", "1y", "-1h", "2026-12-06T16:00:00", "99999999999w"):
        with pytest.raises(ValueError):
            parse_moment(bad, NOW)


def test_rule_names_kind_namespace_and_name() -> None:
    assert parse_rule("ServiceEgressRule/payments/allow-stripe") == ("ServiceEgressRule", "payments",
                                                                       "allow-stripe")
    assert parse_rule("ClusterEgressRule/allow-dns") == ("ClusterEgressRule", "", "allow-dns")
    assert parse_rule("clusteregressrule//allow-dns") == ("ClusterEgressRule", "", "allow-dns")
    with pytest.raises(ValueError, match="unknown rule kind 'Policy'"):
        parse_rule("Policy/payments/x")
    for bad in ("allow-stripe", "ServiceEgressRule/payments/", "ClusterEgressRule/ns/name", "a/b/c/d"):
        with pytest.raises(ValueError):
            parse_rule(bad)


def test_table_shows_who_sent_what_where_and_which_rule_decided() -> None:
    denied = _record(line=FlowLine(time=NOW, device="bigip-dc1", action="Deny", src="10.244.1.9",
                                   dst="2001:db8::7", protocol="UDP", dst_port=53, device_rule="fw_rule_9"),
                     identity=None, rule=None)
    ambiguous = _record(identity=None, ambiguous=True, candidates=(CHECKOUT, REPLACEMENT))
    lines = table_lines([_record(), denied, ambiguous])
    assert lines[0].split() == ["TIME", "(UTC)", "DEVICE", "ACTION", "SOURCE", "DESTINATION", "RULE", "COUNT"]
    assert "2026-12-06 16:15:00" in lines[1]
    assert "10.244.1.5 -> payments/checkout-1 (svc checkout)" in lines[1]
    assert "203.0.113.7:443/TCP" in lines[1]
    assert "ServiceEgressRule payments/allow-stripe" in lines[1] and lines[1].endswith("3")
    assert "10.244.1.9 -> no cluster identity" in lines[2]
    assert "[2001:db8::7]:53/UDP" in lines[2] and "device rule fw_rule_9, not ours" in lines[2]
    assert "ambiguous: payments/checkout-1 (svc checkout) | payments/checkout-2 (svc checkout)" in lines[3]
    column = lines[0].index("DEVICE")
    assert [line[column:column + 9] for line in lines[1:]] == ["fgt-edge ", "bigip-dc1", "fgt-edge "]


def test_identities_without_a_pod() -> None:
    node = FlowIdentity("demo", "analytics", node="worker-a", source_mode="node")
    shared_node = FlowIdentity("demo", "", node="worker-b", source_mode="node")
    egress = FlowIdentity("demo", "billing", source_mode="egress-ip")
    shared = FlowIdentity("demo", "", source_mode="egress-ip")
    assert [identity_text(i) for i in (node, shared_node, egress, shared)] == [
        "node worker-a (analytics)", "node worker-b", "billing (egress-ip)",
        "egress-ip shared by several namespaces"]


def test_destination_without_port() -> None:
    line = FlowLine(time=NOW, device="d", action="Deny", src="10.0.0.1", dst="198.51.100.1", protocol="ICMP")
    assert destination_text(_record(line=line)) == "198.51.100.1/ICMP"


def test_csv_has_a_header_and_a_flat_row_per_record() -> None:
    rows = list(csv.DictReader(io.StringIO(csv_text([_record(), _record(identity=None, rule=None)]))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["pod"] == "checkout-1" and rows[0]["services"] == "checkout"
    assert rows[0]["rule_name"] == "allow-stripe" and rows[0]["count"] == "3"
    assert rows[0]["time"] == "2026-12-06T16:15:00.000Z" and rows[0]["dst_port"] == "443"
    assert rows[1]["namespace"] == "" and rows[1]["rule_kind"] == "" and rows[1]["device_rule"] == "fc_demo_1"
    assert csv_text([]).strip() == ",".join(CSV_COLUMNS)


def test_json_is_one_array_of_the_records() -> None:
    records = [_record(), _record(identity=None, rule=None)]
    data = json.loads(json_text(records))
    assert data == [r.to_json() for r in records]
    assert FlowRecord.from_json(data[0]).identity == CHECKOUT
    assert json.loads(json_text([])) == []
