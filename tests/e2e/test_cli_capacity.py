"""End to end: device capacity with `fusion-connector plan` and `apply` run as processes against the
mocks run as processes.

A configured capacity refuses a plan that would not fit as a whole, before anything is written:
`apply` exits 3 naming the table, the count and the limit, `--force` does not override it, `plan`
shows it, and the other devices are applied. Against a FortiGate whose policy table is really
that small (`--table-size`), the configured capacity refuses before the device's own limit is hit,
where without it the apply fails half-way.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import start_mock
from tests.e2e.scenario import BIGIP, FORTIGATE, REST, FortiGate, Lab, Obj, scenario_objects

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with contextlib.ExitStack() as stack:
        yield Lab.start(stack)


@pytest.fixture
def settled(lab: Lab) -> Lab:
    lab.reset()
    lab.kube.apply(scenario_objects())
    lab.kube.settle()
    return lab


def describe(result: subprocess.CompletedProcess[str]) -> str:
    return (f"exit {result.returncode}\n--- stdout\n{result.stdout[-4000:]}"
            f"\n--- stderr\n{result.stderr[-4000:]}")


def write_config(lab: Lab, directory: Path, fortigate: dict[str, Any]) -> Path:
    """The lab's configuration with the FortiGate device's entry updated by `fortigate`."""
    document = lab.config_document(directory)
    devices: list[Obj] = [dict(d, **fortigate) if d["name"] == FORTIGATE else d for d in document["devices"]]
    return lab.write_config(directory, devices=devices)


def run(lab: Lab, command: str, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return lab.cli(command, "--config", str(config), "--quiet", *args)


def desired_policies(lab: Lab, config: Path) -> int:
    planned = run(lab, "plan", config, "--output", "json")
    assert planned.returncode == 0, describe(planned)
    outcome = next(o for o in json.loads(planned.stdout)["devices"] if o["device"] == FORTIGATE)
    usage = {t["table"]: t["count"] for t in outcome["capacity"]["tables"]}
    return int(usage["policies"])


def test_a_plan_over_the_configured_capacity_is_refused_and_nothing_is_written(settled: Lab,
                                                                               tmp_path: Path) -> None:
    lab = settled
    config = write_config(lab, tmp_path, {"capacity": {"policies": 2}})
    policies = desired_policies(lab, config)
    assert policies > 2
    reason = f"CapacityExceeded: policies {policies} > limit 2"

    planned = run(lab, "plan", config)
    assert planned.returncode == 0, describe(planned)
    assert f"{FORTIGATE}: " in planned.stdout and reason in planned.stdout

    mark = lab.seqs()
    for args in ((), ("--force",)):
        applied = run(lab, "apply", config, *args)
        assert applied.returncode == 3, describe(applied)
        assert f"refused: {reason}; nothing was written" in applied.stdout
        assert "--force does not override it" in applied.stdout
        assert lab.fortigate.writes(mark[FORTIGATE]) == []
    writes = lab.writes(mark)
    assert writes[BIGIP] and writes[REST]  # the other devices are applied

    document = json.loads(run(lab, "apply", config, "--output", "json").stdout)
    outcome = next(o for o in document["devices"] if o["device"] == FORTIGATE)
    assert outcome["refused"] and outcome["refusal"] == "CapacityExceeded"
    assert outcome["capacity"]["exceeded"] == [{"table": "policies", "count": policies, "limit": 2}]


def test_the_configured_capacity_refuses_before_the_device_table_is_full(settled: Lab,
                                                                         tmp_path: Path) -> None:
    lab = settled
    policies = desired_policies(lab, write_config(lab, tmp_path, {}))
    size = policies - 1
    with start_mock("fortigate", "--table-size", f"firewall/policy={size}") as (url, _):
        small = FortiGate(url)
        try:
            fitted = write_config(lab, tmp_path, {"url": url, "capacity": {"policies": size}})
            refused = run(lab, "apply", fitted, "--device", FORTIGATE)
            assert refused.returncode == 3, describe(refused)
            assert f"CapacityExceeded: policies {policies} > limit {size}" in refused.stdout
            assert small.writes() == [] and small.table("firewall/policy") == []

            unbounded = write_config(lab, tmp_path, {"url": url})  # default capacity: 10000 policies
            failed = run(lab, "apply", unbounded, "--device", FORTIGATE)
            assert failed.returncode == 1, describe(failed)
            assert small.writes() and len(small.table("firewall/policy")) == size  # half-written
            assert re.search(r"-4|full", failed.stdout + failed.stderr), describe(failed)
        finally:
            small.close()
