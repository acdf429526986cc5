"""End to end: two clusters (two kube mocks, two connectors) sharing one FortiGate, one BIG-IP, one
REST receiver and one PostgreSQL store (docs/multi-cluster.md), with pod churn in both.

Judged by what the mocks hold, through each device's own evaluator: for every pod of each cluster,
the device decides like that cluster's oracle (the FortiGate evaluator over the whole policy list,
both blocks and the administrator's policy; on BIG-IP the tenant whose forwarding virtual takes
the pod's traffic; the REST rulebase as a whole). Also: no connector's write ever names the other
cluster's objects (each connector reaches the FortiGate and the REST receiver through a recording
proxy of its own; the BIG-IP, shared by URL so that the store's device lock serializes both, is
checked by tenant), the BIG-IP never answered 503, nothing is written once both are in sync (no
block trading places), and `report --all-clusters` lists both clusters.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from adapters.families import adapter_class
from connector.evaluate import Probe
from connector.store import migrate
from tests.adapters.f5.afm_evaluator import Declaration, verdict
from tests.adapters.fortios.policy_evaluator import FortiGateEvaluator, fetch_tables
from tests.adapters.rest import evaluator as rest_evaluator
from tests.connector.compiler.oracle import Oracle
from tests.connector.controller.harness import (
    CONNECTOR_NS,
    DESTINATIONS,
    DEVICE_TYPES,
    ENV,
    TOKEN,
    Cluster,
    Connector,
    baseline,
    eventually,
    namespace,
    pod,
    pod_ipv4,
)
from tests.connector.store.postgres import PostgresDatabases, postgres_databases
from tests.e2e.conftest import REPO_ROOT, start_mock

__all__ = ["postgres_databases"]

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(300)]

CLUSTERS = {"east": ("10.244.0.0/16", "fd00:10:244::/64"), "west": ("10.248.0.0/16", "fd00:10:248::/64")}
CHURN_SECONDS = 30.0
QUIET_SECONDS = 8.0  # several periodic reconciles (interval 2s) of each connector
CORP_POLICY = "corp-dns"


# --- a recording proxy per connector --------------------------------------------------------------
class Recorder:
    """An HTTP proxy to `target` that records every request's method, path, query and body."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.requests: list[dict[str, Any]] = []
        self.client = httpx.Client(base_url=target, timeout=30)
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection", "accept-encoding")}
                recorder.requests.append({"method": self.command, "path": self.path,
                                          "body": body.decode("utf-8", "replace")})
                answer = recorder.client.request(self.command, self.path, content=body, headers=headers)
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection",
                                           "content-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in list(self.requests) if r["method"] in ("POST", "PUT", "PATCH", "DELETE")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()


# --- the world ------------------------------------------------------------------------------------
class World:
    def __init__(self, stack: contextlib.ExitStack, database: str, directory: Path) -> None:
        self.bigip, _ = stack.enter_context(start_mock("bigip", "--processing-ms", "30"))
        self.fgt, _ = stack.enter_context(start_mock("fortigate"))
        self.soc, _ = stack.enter_context(start_mock("rest"))
        self.clusters: dict[str, Cluster] = {}
        self.proxies: dict[str, dict[str, Recorder]] = {}
        self.configs: dict[str, Path] = {}
        for name, (v4, v6) in CLUSTERS.items():
            kube, _ = stack.enter_context(start_mock("kube", "--bookmark-interval", "1", "--pod-cidr", v4,
                                                     "--pod-cidr-v6", v6))
            cluster = Cluster(kube)
            stack.callback(cluster.close)
            cluster.install_crds()
            cluster.apply(namespace(CONNECTOR_NS, managed=False))
            self.clusters[name] = cluster
            self.proxies[name] = {"fgt": Recorder(self.fgt), "soc": Recorder(self.soc)}
            for proxy in self.proxies[name].values():
                stack.callback(proxy.close)
            self.configs[name] = self._config(directory, name, kube, database, [v4, v6])

    def _config(self, directory: Path, name: str, kube: str, database: str, sources: list[str]) -> Path:
        proxies = self.proxies[name]
        config = {
            "cluster": name, "database": database,
            "kubernetes": {"host": kube, "connectorNamespace": CONNECTOR_NS},
            "reconcile": {"interval": "2s", "debounce": "200ms"},
            "safety": {"maxDeletePercent": 100, "maxUpdatePercent": 100, "minExisting": 0},
            "devices": [
                {"name": "bigip", "type": "f5-as3", "url": self.bigip, "timeout": "10s",
                 "auth": {"username": "admin", "passwordEnv": "BIGIP_PASSWORD"},
                 "attach": {"virtualServer": {"sourceAddresses": sources}}},
                {"name": "fgt", "type": "fortios", "url": proxies["fgt"].url, "timeout": "10s",
                 "auth": {"tokenEnv": "FGT_TOKEN"}, "srcintf": ["port2"], "dstintf": ["port1"]},
                {"name": "soc", "type": "rest", "url": proxies["soc"].url, "timeout": "10s",
                 "auth": {"tokenEnv": "SOC_TOKEN"}},
            ],
        }
        path = directory / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    def seed_corp_policy(self) -> None:
        """An administrator's policy that matches none of the probes: the `top` anchor."""
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=self.fgt, headers=headers, params={"vdom": "root"}, timeout=10) as client:
            client.post("/api/v2/cmdb/firewall/address",
                        json={"name": "corp-dns-server", "subnet": "192.0.2.53/32"}).raise_for_status()
            client.post("/api/v2/cmdb/firewall/policy", json={
                "name": CORP_POLICY, "srcintf": [{"name": "port2"}], "dstintf": [{"name": "port1"}],
                "srcaddr": [{"name": "corp-dns-server"}], "dstaddr": [{"name": "all"}],
                "service": [{"name": "ALL"}], "action": "accept", "schedule": "always",
                "comments": "corp policy"}).raise_for_status()

    def device_requests(self, url: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = httpx.get(f"{url}/_mock/requests", timeout=10).json()["requests"]
        return entries

    def device_writes(self) -> int:
        return sum(1 for url in (self.bigip, self.fgt, self.soc) for r in self.device_requests(url)
                   if r["method"] in ("POST", "PUT", "PATCH", "DELETE") and not r["path"].startswith("/_mock")
                   and "authn/login" not in r["path"] and "authz/tokens" not in r["path"])

    def policies(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.fgt}/api/v2/cmdb/firewall/policy", params={"vdom": "root"},
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        response.raise_for_status()
        policies: list[dict[str, Any]] = response.json()["results"]
        return policies


@pytest.fixture
def world(postgres_databases: PostgresDatabases) -> Iterator[World]:
    database = postgres_databases.create()
    migrate(database)
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        yield World(stack, database, Path(tmp))


# --- judging --------------------------------------------------------------------------------------
def _bigip_decider(world: World) -> Callable[[Probe], str | None]:
    """The tenant whose forwarding virtual takes the probe's source decides (most specific source)."""
    response = httpx.get(f"{world.bigip}/mgmt/shared/appsvcs/declare", auth=("admin", "admin"), timeout=10)
    held = {} if response.status_code == 204 else response.json()
    tenants = {name: body for name, body in held.items()
               if isinstance(body, dict) and body.get("class") == "Tenant"}

    def decide(probe: Probe) -> str | None:
        source = ipaddress.ip_address(probe.source)
        best: tuple[int, str] | None = None
        for name, body in tenants.items():
            for item in (body.get("Shared") or {}).values():
                if not isinstance(item, dict) or item.get("class") != "Service_L4":
                    continue
                for entry in item.get("virtualAddresses", []):
                    scope = ipaddress.ip_network(entry[1] if isinstance(entry, list) else
                                                 ("0.0.0.0/0" if source.version == 4 else "::/0"))
                    if scope.version == source.version and source in scope and \
                            (best is None or scope.prefixlen > best[0]):
                        best = (scope.prefixlen, name)
        if best is None:
            return None
        return verdict(Declaration(best[1], tenants[best[1]]).decide(probe))

    return decide


def deciders(world: World) -> dict[str, Callable[[Probe], str | None]]:
    forti = FortiGateEvaluator(fetch_tables(world.fgt, TOKEN))
    response = httpx.get(f"{world.soc}/state", timeout=10, headers={
        "Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.fusion-connector.v1+json"})
    response.raise_for_status()
    state = response.json()

    def soc(probe: Probe) -> str | None:
        decided = rest_evaluator.decide(state, probe)
        return None if decided is None else str(decided["action"]).capitalize()

    return {"bigip": _bigip_decider(world),
            "fgt": lambda probe: {"accept": "Allow", "deny": "Deny", None: None}[forti.decide(probe).action],
            "soc": soc}


def judge(world: World) -> list[str]:
    """Disagreements between the devices and each cluster's oracle, over every pod of both."""
    devices = ("bigip", "fgt", "soc")
    decide = deciders(world)
    fqdn = {name: adapter_class(DEVICE_TYPES[name]).capabilities.fqdn for name in devices}
    problems: list[str] = []
    for cluster_name, cluster in world.clusters.items():
        objects = cluster.objects()
        oracle = Oracle(objects, devices=devices, fqdn_capable=fqdn, connector_namespace=CONNECTOR_NS)
        for obj in objects:
            ip = pod_ipv4(obj) if obj["kind"] == "Pod" else None
            if ip is None:
                continue
            ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
            for device in devices:
                for destination, port in DESTINATIONS:
                    expected = oracle.decide(ns, name, device, destination, port)
                    want = expected.action if expected else None
                    got = decide[device](Probe(ip, destination, port))
                    if got != want:
                        problems.append(f"{cluster_name} {device}: {ns}/{name} ({ip}) -> {destination}:"
                                        f"{port}: device {got}, oracle {want}")
    return problems


def converged(world: World, timeout: float) -> None:
    def check() -> bool:
        problems = judge(world)
        assert not problems, "\n".join(problems[:10])
        return True

    eventually(check, timeout, interval=0.5, what="both clusters' devices decide like their oracles")


def in_sync(connectors: dict[str, Connector]) -> bool:
    for name, connector in connectors.items():
        devices = connector.ready().get("devices", {})
        states = {device: info.get("state") for device, info in devices.items()}
        assert set(states.values()) == {"in-sync"}, f"{name}: {states}"
    return True


# --- checks ---------------------------------------------------------------------------------------
POLICY_PATH = re.compile(r"/firewall/policy/(\d+)")


def foreign_writes(world: World, me: str, other: str) -> list[str]:
    """`me`'s writes (through its own proxies) that name `other`'s objects: its names, owner mark or
    tenant, or a FortiGate policy id `other` owns."""
    theirs = {str(p["policyid"]) for p in world.policies()
              if str(p.get("comments", "")).startswith(f"fusion-connector:{other}")}
    found = []
    for device, proxy in world.proxies[me].items():
        for write in proxy.writes():
            text = write["path"].split("?")[0] + " " + write["body"]
            match = POLICY_PATH.search(write["path"])
            if f"fc_{other}" in text or f"fusion-connector:{other}" in text or \
                    (match is not None and match.group(1) in theirs):
                found.append(f"{device}: {write['method']} {write['path']} {write['body'][:200]}")
    return found


def bigip_problems(world: World) -> list[str]:
    """AS3 writes that are not one cluster's own tenant, and every 503 the BIG-IP answered."""
    problems = []
    for entry in world.device_requests(world.bigip):
        if entry["status"] == 503:
            problems.append(f"503 on {entry['method']} {entry['path']}")
        if entry["method"] == "POST" and "/declare" in entry["path"]:
            named = entry["path"].rstrip("/").rsplit("/", 1)[-1]
            body = entry["body"] if isinstance(entry["body"], dict) else {}
            declaration = body.get("declaration", body)
            tenants = sorted(k for k, v in declaration.items()
                             if isinstance(v, dict) and v.get("class") == "Tenant")
            if named not in ("fc_east", "fc_west") or tenants not in ([], [named]):
                problems.append(f"declare {named} with tenants {tenants}")
    return problems


def fleet_report(config: Path) -> dict[str, Any]:
    env = {**os.environ, **ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", "connector", "report", "--config", str(config),
                           "--all-clusters", "--format", "json", "--output", "-"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def policy_reads(world: World, cluster: str) -> int:
    return sum(1 for r in list(world.proxies[cluster]["fgt"].requests)
               if r["method"] == "GET" and "/firewall/policy" in r["path"])


# --- the test -------------------------------------------------------------------------------------
def churn(cluster: Cluster, name: str, seconds: float, rng: random.Random) -> int:
    """Create and delete pods of payments/api and shop/web for `seconds`; returns changes made."""
    alive: list[tuple[str, str]] = []
    changes = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if alive and (len(alive) > 6 or rng.random() < 0.4):
            ns, pod_name = alive.pop(rng.randrange(len(alive)))
            cluster.delete_pod(ns, pod_name)
        else:
            ns, labels = rng.choice([("payments", {"app": "api"}), ("shop", {"app": "web"})])
            pod_name = f"churn-{name}-{changes}"
            cluster.apply(pod(ns, pod_name, labels))
            alive.append((ns, pod_name))
        changes += 1
        time.sleep(rng.uniform(0.1, 0.4))
    return changes


def test_two_clusters_share_devices_and_store(world: World) -> None:
    world.seed_corp_policy()
    for cluster in world.clusters.values():
        cluster.apply(*baseline())
    connectors: dict[str, Connector] = {}
    try:
        for name, config in world.configs.items():
            connectors[name] = Connector(config, log_level="info")
        converged(world, timeout=90)

        # pod churn in both clusters at once
        results: dict[str, int] = {}
        threads = [threading.Thread(target=lambda n=name, c=cluster: results.__setitem__(
            n, churn(c, n, CHURN_SECONDS, random.Random(n)))) for name, cluster in world.clusters.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(count > 20 for count in results.values()), results
        converged(world, timeout=60)
        eventually(lambda: in_sync(connectors), 30, what="both connectors in sync")

        # in sync: periodic reconciles of both write nothing (no block trading places)
        time.sleep(2.5)  # writes of the last debounce window land
        before = world.device_writes()
        reads = {name: policy_reads(world, name) for name in world.clusters}
        time.sleep(QUIET_SECONDS)
        after = world.device_writes()
        assert after == before, f"{after - before} writes while both clusters were in sync"
        for name, count in reads.items():  # each read the policy list meanwhile: it saw the other's block
            assert policy_reads(world, name) > count, name

        # each cluster's block is contiguous, both above the administrator's policy
        owners = [str(p.get("comments", "")).split(" ")[0] for p in world.policies()]
        runs = [owner for i, owner in enumerate(owners) if i == 0 or owners[i - 1] != owner]
        assert sorted(runs[:2]) == ["fusion-connector:east", "fusion-connector:west"], runs
        assert runs[2:] == ["corp"], runs

        for me, other in (("east", "west"), ("west", "east")):
            assert foreign_writes(world, me, other) == []
            assert world.proxies[me]["fgt"].writes() and world.proxies[me]["soc"].writes()
        assert bigip_problems(world) == []

        report = fleet_report(world.configs["east"])
        listed = {c["name"]: {d["name"] for d in c["devices"]} for c in report["clusters"]}
        assert listed == {"east": {"bigip", "fgt", "soc"}, "west": {"bigip", "fgt", "soc"}}, listed
    finally:
        for connector in connectors.values():
            connector.stop()
        failed = [f"--- {name}\n{connector.output()[-4000:]}" for name, connector in connectors.items()
                  if connector.process.returncode not in (0, None)]
        if os.environ.get("MC_DEBUG"):
            for name, connector in connectors.items():
                Path(f"/tmp/mc_{name}.log").write_text(connector.output())
        for connector in connectors.values():
            connector.close()
        assert not failed, "\n".join(failed)
