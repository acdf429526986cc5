"""recommend benchmark: the time from a namespace's flow records to validated manifests.

    python benchmarks/bench_recommend.py [--records 100000] [--destinations 5000] [--ports 20]
                                         [--store]

Generates `--records` attributed records of one namespace (pods of a Service `web` and others) to
`--destinations` addresses on up to `--ports` ports each (a third of them denied by the default
action, a few by an Admin rule), then prints the CPU seconds spent in each step of `recommend`:
`observe` (records -> uses), `recommend` (grouping, names, comments), `check` (offline CRD
validation, the validator's loading apart), `to_yaml`, and the size of the output. With `--store`,
also the records written to a temporary SQLite store and the `recommend` command run on it (its
query included). Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import yaml
from click.testing import CliRunner

from connector.cli import main
from connector.crds.validation import ManifestValidator
from connector.flows.record import FlowIdentity, FlowLine, FlowRecord, FlowRule
from connector.recommend import Target, check, observe, recommend, to_yaml
from connector.store import create_engine, migrate, session_factory
from connector.store.bulk import utcnow
from connector.store.flow_records import FlowRecordRepository

DEFAULT = FlowRule("DefaultAction", "shop", "default", "Default")
ALLOW = FlowRule("NamespaceEgressRule", "shop", "allow-partners", "Namespace")
ADMIN = FlowRule("ClusterEgressRule", "", "block-tor", "Admin")


def records(count: int, destinations: int, ports: int, seed: int = 7) -> list[FlowRecord]:
    rng = random.Random(seed)
    now = utcnow()
    pods = [FlowIdentity("bench", "shop", f"web-{n}", f"uid-{n}", ("web",)) for n in range(20)]
    pods += [FlowIdentity("bench", "shop", f"job-{n}", f"uid-job-{n}") for n in range(5)]
    addresses = [f"198.{18 + n // 65536}.{n // 256 % 256}.{n % 256}" for n in range(destinations)]
    common = [443, 80, 53, 8443, 5432, 6379, 9092, 25, 22, 3306]
    port_choices = [*common, *range(10000, 10000 + ports)][:max(1, ports)]
    used = {a: rng.sample(port_choices, rng.randint(1, min(3, len(port_choices)))) for a in addresses}
    out = []
    for _ in range(count):
        address = rng.choice(addresses)
        port = rng.choice(used[address])
        draw = rng.random()
        action, rule = ("Allow", ALLOW) if draw < 0.65 else ("Deny", DEFAULT if draw < 0.99 else ADMIN)
        source = f"10.0.{rng.randint(0, 3)}.{rng.randint(1, 250)}"
        line = FlowLine(now - timedelta(seconds=rng.randint(0, 6 * 86400)), rng.choice(["fgt", "bigip"]),
                        action, source, address, "UDP" if port == 53 else "TCP",  # type: ignore[arg-type]
                        rng.randint(30000, 60000), port, count=rng.randint(1, 5))
        out.append(FlowRecord(line, rng.choice(pods), rule))
    return out


def timed(label: str, started: float) -> float:
    now = time.process_time()
    print(f"  {label:<34} {now - started:8.3f} s")
    return now


def main_(args: argparse.Namespace) -> None:
    print(f"recommend: {args.records:,} records, {args.destinations:,} destinations, "
          f"up to {args.ports} ports (CPU seconds of this process)")
    found = records(args.records, args.destinations, args.ports)
    validator = ManifestValidator()
    for target in (Target("shop"), Target("shop", "web")):
        print(f"{target.label}:")
        t = time.process_time()
        observed = observe(found, target, min_count=2)
        t = timed("observe", t)
        result = recommend(observed, window="the last 7d")
        t = timed("recommend", t)
        problems = check(result.manifests, validator)
        t = timed("check (CRD validation)", t)
        text = to_yaml(result, "bench")
        timed("to_yaml", t)
        print(f"  {len(observed.uses):,} destination ports, {len(result.external_services):,} "
              f"ExternalServices, {len(result.rules)} rule(s), {len(text) / 1024:,.0f} KiB of YAML, "
              f"problems: {len(problems)}")
    if not args.store:
        return
    with tempfile.TemporaryDirectory() as directory:
        database = f"sqlite:///{Path(directory) / 'store.db'}"
        config = Path(directory) / "config.yaml"
        config.write_text(yaml.safe_dump({"cluster": "bench", "database": database,
                                          "kubernetes": {"host": "http://127.0.0.1:9"}, "devices": []}))
        migrate(database)
        engine = create_engine(database)
        t = time.process_time()
        with session_factory(engine).begin() as session:
            FlowRecordRepository(session, "bench").add(found)
        engine.dispose()
        t = timed("store (SQLite) written", t)
        result = CliRunner().invoke(main, ["recommend", "--config", str(config), "--namespace", "shop",
                                           "--service", "web", "--min-count", "2"])
        timed("recommend command (query included)", t)
        print(f"  exit {result.exit_code}: {result.stderr.strip()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--destinations", type=int, default=5_000)
    parser.add_argument("--ports", type=int, default=20)
    parser.add_argument("--store", action="store_true")
    main_(parser.parse_args())
