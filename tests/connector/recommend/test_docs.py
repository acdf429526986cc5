"""docs/review.md, "Rules from observed traffic: recommend": the commands run as printed against
a store holding the scenario's flows, and the example output is an excerpt of the real one."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from connector.cli import main
from connector.review.snapshot import dump_snapshot, write_snapshot
from connector.store import create_engine, migrate, session_factory
from connector.store.bulk import utcnow
from connector.store.flow_records import FlowRecordRepository
from tests.connector.recommend.scenario import CLUSTER, CONFIG, cluster_view, observed_records

ROOT = Path(__file__).resolve().parents[3]
EXPECTED = Path(__file__).resolve().parent / "expected" / "web.yaml"
SECTION = (ROOT / "docs" / "review.md").read_text().split("## Rules from observed traffic: recommend\n")[1]
BLOCKS = re.findall(r"^```\n(.*?)^```", SECTION, re.S | re.M)


def test_the_example_is_an_excerpt_of_the_real_output_in_order() -> None:
    example = next(b for b in BLOCKS if b.startswith("# fusion-connector recommend:"))
    real = EXPECTED.read_text().splitlines()
    at = 0
    for line in example.splitlines():
        if line == "...":
            continue
        assert line in real[at:], f"not in the real output (in order): {line}"
        at = real.index(line, at) + 1


def test_the_commands_run_as_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (commands,) = [b for b in BLOCKS if b.startswith("fusion-connector recommend ")]
    monkeypatch.chdir(tmp_path)
    database = "sqlite:///store.db"
    Path("fusion-connector.yaml").write_text(yaml.safe_dump({**CONFIG, "database": database}))
    write_snapshot("snapshot.json", dump_snapshot(cluster_view(), CLUSTER))
    migrate(database)
    engine = create_engine(database)
    with session_factory(engine).begin() as session:
        FlowRecordRepository(session, CLUSTER).add(observed_records(utcnow()))
    engine.dispose()
    outputs = []
    for command in commands.splitlines():
        args, _, target = command.partition(" > ")
        words = shlex.split(args)
        assert words[0] == "fusion-connector"
        result = CliRunner().invoke(main, words[1:])
        assert result.exit_code == 0, (command, result.output)
        if target:
            Path(target).write_text(result.stdout)
        outputs.append(result.stdout)
    assert [d["kind"] for d in yaml.safe_load_all(outputs[0])][-1] == "ServiceEgressRule"
    assert ("Service web → 93.184.216.34 port 443/TCP (ExternalService shop/web-observed-tcp-443): "
            "Deny by the default action of namespace shop → "
            "Allow by ServiceEgressRule shop/web-observed-egress" in outputs[1])
