"""End to end: `fusion-connector plan` and `apply` run as processes against the four mocks run as
processes (kube, bigip, fortigate, rest).

The core guarantee: after `apply`, every device — read back through its own API and decided by an
evaluator written from its vendor's semantics — decides every probe of a realistic scenario like
the independent oracle of the rule semantics (docs/resources.md). Around it: `plan` writes
nothing, idempotence (zero writes), O(1) pod changes, drift repair with foreign objects untouched,
the safety gate (exit 3, unsafe deletions withheld and the rest applied, `--force`), faults
(transient storms converge; a device that keeps failing is isolated and named, exit 1), and the
exit-2 input errors.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from connector.cluster import Kind
from connector.evaluate import Probe
from tests.e2e.scenario import (
    BIGIP,
    CLUSTER,
    DEVICES,
    FORTIGATE,
    REST,
    SECRETS,
    Lab,
    Obj,
    judge,
    pod,
    scenario_objects,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with contextlib.ExitStack() as stack:
        yield Lab.start(stack)


@dataclass
class Env:
    """One test's lab: the scenario loaded and settled, a configuration file and its database."""

    lab: Lab
    config: Path
    objects: list[Obj]

    def run(self, command: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        result = self.lab.cli(command, "--config", str(self.config), *args, **kwargs)
        for secret in set(SECRETS.values()) - {"admin"}:
            assert secret not in result.stdout + result.stderr, "a secret was printed"
        return result

    def apply(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.run("apply", *args)
        assert result.returncode == 0, describe(result)
        return result

    def settle(self) -> list[Obj]:
        self.objects = self.lab.kube.settle()
        return self.objects


def describe(result: subprocess.CompletedProcess[str]) -> str:
    return (f"exit {result.returncode}\n--- stdout\n{result.stdout[-4000:]}"
            f"\n--- stderr\n{result.stderr[-4000:]}")


@pytest.fixture
def env(lab: Lab, tmp_path: Path) -> Env:
    lab.reset()
    lab.kube.apply(scenario_objects())
    return Env(lab, lab.write_config(tmp_path), lab.kube.settle())


def assert_judged(env: Env, *, stride: int = 5) -> None:
    """Every source against every `stride`-th destination/port probe (the full set is judged once)."""
    verdict = judge(env.lab, env.objects, stride=stride)
    assert verdict.compared > 0
    assert not verdict.disagreements, (
        f"{verdict.disagreeing} of {verdict.compared} probes disagree with the rule semantics:\n"
        + "\n".join(verdict.disagreements))


def no_writes(lab: Lab, since: dict[str, int]) -> None:
    writes = lab.writes(since)
    assert all(not entries for entries in writes.values()), {
        name: [f"{e['method']} {e['path']}" for e in entries] for name, entries in writes.items()}


# --- correctness -------------------------------------------------------------------------------
def test_apply_makes_every_device_decide_like_the_contract_and_a_second_apply_writes_nothing(
        env: Env) -> None:
    result = env.apply()
    for device in DEVICES:
        assert f"{device}: " in result.stdout
    verdict = judge(env.lab, env.objects)
    assert not verdict.disagreements, (
        f"{verdict.disagreeing} of {verdict.compared} probes disagree with the rule semantics:\n"
        + "\n".join(verdict.disagreements))
    assert verdict.compared > 50_000
    for device, counts in verdict.verdicts.items():  # the scenario exercises every outcome
        assert set(counts) == {"Allow", "Deny", None}, (device, counts)

    mark = env.lab.seqs()
    again = env.apply()
    no_writes(env.lab, mark)
    for device in DEVICES:
        assert f"{device}: in sync, nothing to do" in again.stdout


# --- plan --------------------------------------------------------------------------------------
def test_plan_lists_the_changes_and_writes_nothing(env: Env) -> None:
    mark = env.lab.seqs()
    text = env.run("plan")
    assert text.returncode == 0, describe(text)
    for device in DEVICES:
        assert f"{device}: " in text.stdout and " to create, " in text.stdout
    assert "  + policy " in text.stdout or "  + rule_list " in text.stdout
    assert "  + rule fc" in text.stdout  # REST rules, named after the cluster
    data = env.run("plan", "--output", "json")
    assert data.returncode == 0, describe(data)
    document = json.loads(data.stdout)
    assert {"devices", "rules", "seconds"} <= set(document)
    assert [d["device"] for d in document["devices"]] == list(DEVICES)
    for outcome in document["devices"]:
        assert {"device", "plan", "applied", "refused", "error", "writes"} <= set(outcome)
        assert outcome["applied"] is False and outcome["writes"] == 0 and outcome["error"] is None
        plan = outcome["plan"]
        assert {"device", "cluster", "changes", "conflicts", "existing", "unsafe", "checksum",
                "summary"} <= set(plan)
        assert plan["cluster"] == "e2e" and plan["existing"] == 0 and plan["changes"]
        for change in plan["changes"]:
            assert {"op", "kind", "name", "before", "after", "identities"} <= set(change)
            assert change["op"] == "create"
    rules = {(r["kind"], r.get("namespace"), r["name"]): r for r in document["rules"]}
    assert rules[("ServiceEgressRule", "payments", "checkout-to-stripe")]["sources"] == 3
    no_writes(env.lab, mark)


def test_plan_for_one_device_talks_to_that_device_only(env: Env) -> None:
    mark = env.lab.seqs()
    result = env.run("plan", "--device", FORTIGATE)
    assert result.returncode == 0, describe(result)
    assert result.stdout.startswith(f"{FORTIGATE}: ")
    assert f"{BIGIP}:" not in result.stdout and f"{REST}:" not in result.stdout
    assert env.lab.fortigate.requests(mark[FORTIGATE])
    assert not env.lab.bigip.requests(mark[BIGIP]) and not env.lab.rest.requests(mark[REST])


def test_unknown_device_exits_2(env: Env) -> None:
    result = env.run("apply", "--device", "nope")
    assert result.returncode == 2, describe(result)
    assert "nope" in result.stderr
    no_writes(env.lab, {})


def test_invalid_configuration_exits_2_naming_the_path(env: Env, tmp_path: Path) -> None:
    document = env.lab.config_document(tmp_path)
    document["devices"][1]["auth"] = {"tokenEnv": "FGT_TOKEN", "tokenFile": "/etc/token"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps(document))
    result = env.lab.cli("apply", "--config", str(bad))
    assert result.returncode == 2, describe(result)
    assert "devices[1].auth" in result.stderr and "tokenFile" in result.stderr
    no_writes(env.lab, {})


def test_missing_secret_exits_2_naming_the_variable(env: Env) -> None:
    result = env.run("apply", env={"FGT_TOKEN": None})
    assert result.returncode == 2, describe(result)
    assert "FGT_TOKEN" in result.stderr
    no_writes(env.lab, {})


# --- incremental -------------------------------------------------------------------------------
def fortigate_groups_holding(env: Env, address: str) -> list[str]:
    """FortiOS groups (through the API) holding `address` through a host or range object (the
    objects pod addresses become; a destination network that happens to contain it does not count),
    directly or through groups they hold."""
    ip = ipaddress.ip_address(address)
    covering = set()
    for item in env.lab.fortigate.table("firewall/address"):
        if item.get("type") == "ipmask":
            host, mask = item["subnet"].split()
            if mask == "255.255.255.255" and ip == ipaddress.ip_address(host):
                covering.add(item["name"])
        elif item.get("type") == "iprange" and (
                ipaddress.ip_address(item["start-ip"]) <= ip <= ipaddress.ip_address(item["end-ip"])):
            covering.add(item["name"])
    groups = {g["name"]: {m["name"] for m in g.get("member", [])}
              for g in env.lab.fortigate.table("firewall/addrgrp")}
    holding: set[str] = set()
    while grown := {name for name, members in groups.items() if members & (covering | holding)} - holding:
        holding |= grown
    return sorted(holding)


def test_one_pod_added_to_a_service_costs_constant_writes(env: Env) -> None:
    env.apply()
    # edge/gateway: the pod joins the Service's group and the namespace's (cluster rules) group
    env.lab.kube.apply([pod("edge", "gateway-9", {"app": "gateway"})])
    objects = env.settle()
    added = next(o for o in objects if o["kind"] == "Pod" and o["metadata"]["name"] == "gateway-9")
    mark = env.lab.seqs()
    env.apply()
    writes = env.lab.writes(mark)
    assert len(env.lab.bigip.declaration_posts(mark[BIGIP])) == 1, writes[BIGIP]
    assert len(writes[BIGIP]) == 1
    assert [(e["method"], e["path"]) for e in writes[REST]] == [("POST", "/changes")]
    holding = fortigate_groups_holding(env, added["status"]["podIP"])
    groups = [g for g in holding if "_cluster/rule/" not in g]
    assert len(groups) == 2, groups  # the Service's group and the namespace's (cluster rules' unions hold it)
    # gateway's two pods were one range, referenced without a group: the new pod gives the Service a
    # group (address, group; the namespace's group swaps the range for it; its policy names it)
    made = sorted(e["method"] for e in writes[FORTIGATE])
    assert made == ["DELETE", "POST", "POST", "POST", "PUT"], writes[FORTIGATE]
    env.lab.kube.apply([pod("edge", "gateway-10", {"app": "gateway"})])
    env.settle()
    mark = env.lab.seqs()
    env.apply()
    writes = env.lab.writes(mark)
    # one address object and one member add: the namespace's group holds the Service's group
    assert len(writes[FORTIGATE]) <= 2, writes[FORTIGATE]
    assert [e["method"] for e in writes[FORTIGATE]] == ["POST"] * len(writes[FORTIGATE])
    assert_judged(env)


def test_a_deleted_pod_leaves_every_device_in_one_apply(env: Env) -> None:
    env.apply()
    gone = next(o for o in env.objects if o["kind"] == "Pod" and o["metadata"]["name"] == "gateway-0")
    address = gone["status"]["podIP"]
    assert judge_one(env, "edge", "gateway-0", "100.70.0.1", 443) == dict.fromkeys(DEVICES, "Allow")
    holding = fortigate_groups_holding(env, address)
    assert len([g for g in holding if "_cluster/rule/" not in g]) == 1  # the namespace's (gateway: a range)
    env.lab.kube.delete(Kind.POD, "edge", "gateway-0")
    env.settle()
    mark = env.lab.seqs()
    env.apply()
    writes = env.lab.writes(mark)
    assert len(writes[BIGIP]) == 1 and len(writes[REST]) == 1
    # per group: at most a new piece of a split range, its member, the old member and the old piece
    made = "\n".join(f"{e['method']} {e['path']}" for e in writes[FORTIGATE])
    assert 1 <= len(writes[FORTIGATE]) <= 4 * len(holding), made
    assert {e["method"] for e in writes[FORTIGATE]} <= {"POST", "DELETE", "PUT"}, made  # PUT: its policy
    for destination, port in (("100.70.0.1", 443), ("10.0.0.53", 53), ("203.0.113.9", 443)):
        decisions = {name: device.decider()(Probe(address, destination, port))
                     for name, device in env.lab.devices.items()}
        assert decisions == dict.fromkeys(DEVICES), (destination, decisions)
    assert not fortigate_groups_holding(env, address)


# --- drift and foreign objects -----------------------------------------------------------------
FOREIGN_TENANT = {"class": "Tenant", "label": "netops", "Shared": {
    "class": "Application", "template": "shared",
    "printers": {"class": "Firewall_Address_List", "addresses": ["10.99.0.5"]}}}
FOREIGN_FGT = {
    "firewall/address": {"name": "netops-printer", "type": "ipmask", "subnet": "10.99.0.5 255.255.255.255",
                         "comment": "netops: office printer"},
    "firewall/addrgrp": {"name": "netops-devices", "member": [{"name": "netops-printer"}],
                         "comment": "netops"},
}
FOREIGN_REST = {"groups": [{"name": "netops-devices", "owner": "netops", "members": ["10.99.0.5"]}],
                "addresses": [{"name": "netops-dns", "owner": "netops", "networks": ["10.99.0.53"],
                               "fqdns": []}]}


def seed_foreign(lab: Lab) -> None:
    lab.bigip.seed({"Netops": FOREIGN_TENANT})
    for table, body in FOREIGN_FGT.items():
        lab.fortigate.http.post(f"/api/v2/cmdb/{table}", params={"vdom": "root"},
                                json=body).raise_for_status()
    policy = {"name": "netops-printing", "srcintf": [{"name": "any"}], "dstintf": [{"name": "any"}],
              "srcaddr": [{"name": "netops-devices"}], "dstaddr": [{"name": "all"}],
              "service": [{"name": "ALL"}], "action": "accept", "schedule": "always",
              "comments": "netops"}
    lab.fortigate.http.post("/api/v2/cmdb/firewall/policy", params={"vdom": "root"},
                            json=policy).raise_for_status()
    lab.rest.seed(**FOREIGN_REST)


def foreign_view(lab: Lab) -> dict[str, Any]:
    """The foreign objects as each device shows them."""
    fgt = {table: [i for i in lab.fortigate.table(table) if str(i.get("name", "")).startswith("netops")]
           for table in ("firewall/address", "firewall/addrgrp", "firewall/policy")}
    state = lab.rest.state()
    rest = {kind: [o for o in state[kind] if o.get("owner") == "netops"] for kind in ("groups", "addresses")}
    return {"bigip": lab.bigip.declaration("Netops"), "fortigate": fgt, "rest": rest}


def drift_by_hand(env: Env) -> None:
    """An operator changes and removes owned objects on each device through its API."""
    lab = env.lab
    tenant = copy.deepcopy(lab.bigip.declaration())
    assert tenant is not None
    shared = tenant["Shared"]
    source_list = next(k for k, v in shared.items()
                       if isinstance(v, dict) and v.get("class") == "Firewall_Address_List"
                       and k.startswith("src_") and len(v.get("addresses", [])) > 1)
    shared[source_list]["addresses"] = shared[source_list]["addresses"][:1]
    response = lab.bigip.declare(lab.bigip.tenant, tenant)
    assert response.status_code == 200, response.text

    owned = [a for a in lab.fortigate.table("firewall/address")
             if a.get("comment", "").startswith("fusion-connector:") and a.get("type") == "ipmask"]
    assert owned
    lab.fortigate.http.put(f"/api/v2/cmdb/firewall/address/{quote(owned[0]['name'], safe='')}",
                           params={"vdom": "root"},
                           json={"subnet": "10.99.99.99 255.255.255.255"}).raise_for_status()
    ours = [p for p in lab.fortigate.table("firewall/policy")
            if str(p.get("comments", "")).startswith("fusion-connector:")]
    lab.fortigate.http.delete(f"/api/v2/cmdb/firewall/policy/{ours[0]['policyid']}",
                              params={"vdom": "root"}).raise_for_status()

    state = lab.rest.state()
    group = next(g for g in state["groups"] if g.get("owner", "").startswith("fusion-connector:")
                 and len(g["members"]) > 1)
    lab.rest.seed(groups=[{**group, "members": group["members"][:1]}])
    lab.rest.delete_by_hand("rule", state["rules"][0]["name"])


def test_drift_is_planned_and_repaired_and_foreign_objects_are_untouched(env: Env) -> None:
    seed_foreign(env.lab)
    foreign = foreign_view(env.lab)
    env.apply()
    assert foreign_view(env.lab) == foreign
    drift_by_hand(env)

    mark = env.lab.seqs()
    plan = env.run("plan", "--output", "json")
    assert plan.returncode == 0, describe(plan)
    no_writes(env.lab, mark)
    changes = {d["device"]: [(c["op"], c["kind"]) for c in d["plan"]["changes"]]
               for d in json.loads(plan.stdout)["devices"]}
    assert ("update", "address_list") in changes[BIGIP], changes[BIGIP]
    assert ("update", "address") in changes[FORTIGATE] and ("create", "policy") in changes[FORTIGATE], \
        changes[FORTIGATE]
    assert ("update", "group") in changes[REST] and ("create", "rule") in changes[REST], changes[REST]

    env.apply()
    assert_judged(env)
    assert foreign_view(env.lab) == foreign


# --- safety ------------------------------------------------------------------------------------
def test_unsafe_deletions_are_withheld_until_forced_and_the_rest_applied(env: Env) -> None:
    env.apply()
    for name in ("payments", "billing", "analytics", "sandbox"):
        env.lab.kube.delete(Kind.NAMESPACE, None, name)
    env.settle()
    mark = env.lab.seqs()
    refused = env.run("apply")
    assert refused.returncode == 3, describe(refused)
    assert "unsafe" in refused.stdout and "--force" in refused.stdout
    no_deletions(env.lab, mark)  # `apply` saw no DELETE event: every deletion is unconfirmed
    assert_judged(env)  # the rest is applied: no address keeps what its namespace was granted
    forced = env.apply("--force")
    assert "applied" in forced.stdout
    assert all(env.lab.writes(mark).values())
    assert_judged(env)


def no_deletions(lab: Lab, since: dict[str, int]) -> None:
    """Nothing but group members was deleted: no object, no tenant, no `delete` change."""
    for name, entries in lab.writes(since).items():
        for entry in entries:
            assert entry["method"] != "DELETE" or "/member/" in entry["path"], (name, entry["path"])
            body = entry.get("body")
            changes = body.get("changes") if isinstance(body, dict) else None
            assert not [c for c in changes or () if c.get("op") == "delete"], (name, entry["path"])


# --- faults ------------------------------------------------------------------------------------
def test_transient_faults_converge(env: Env) -> None:
    env.lab.bigip.fault(status=503, times=3, path="/mgmt/shared/appsvcs/declare")
    env.lab.fortigate.fault(dropConnections=2, method="POST")
    env.lab.rest.fault(status=429, times=2, retryAfter=1, path="/changes")
    env.apply()
    statuses = {name: [e["status"] for e in device.requests()] for name, device in env.lab.devices.items()}
    assert statuses[BIGIP].count(503) == 3 and statuses[FORTIGATE].count(0) == 2
    assert statuses[REST].count(429) == 2
    assert_judged(env)


def test_a_device_that_keeps_failing_is_named_and_the_others_converge(env: Env) -> None:
    env.lab.fortigate.fault(status=503, seconds=120)
    result = env.run("apply")
    env.lab.fortigate.clear_faults()
    assert result.returncode == 1, describe(result)
    assert f"{FORTIGATE}: ERROR" in result.stdout and "HTTP 503" in result.stdout, describe(result)
    assert f"{BIGIP}: ERROR" not in result.stdout and f"{REST}: ERROR" not in result.stdout
    mark = env.lab.seqs()
    again = env.run("plan", "--output", "json")
    outcomes = {d["device"]: d for d in json.loads(again.stdout)["devices"]}
    assert not outcomes[BIGIP]["plan"]["changes"] and not outcomes[REST]["plan"]["changes"]
    assert outcomes[FORTIGATE]["plan"]["changes"]  # still to do, and nothing half-done elsewhere
    no_writes(env.lab, mark)



def test_a_permanent_error_names_the_object_and_the_next_apply_completes(env: Env) -> None:
    env.lab.fortigate.fault(status=400, times=1, method="POST", path="/api/v2/cmdb/firewall/policy")
    result = env.run("apply")
    assert result.returncode == 1, describe(result)
    errors = [line for line in result.stdout.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and f"{FORTIGATE}: policy 'fc_{CLUSTER}_" in errors[0], describe(result)
    assert "POST /api/v2/cmdb/firewall/policy: HTTP 400" in errors[0]
    mark = env.lab.seqs()
    env.apply()
    writes = env.lab.writes(mark)
    assert not writes[BIGIP] and not writes[REST] and writes[FORTIGATE]
    assert_judged(env)


def test_all_namespaces_default_allow_route_domain_and_placement_before_a_foreign_policy(
        env: Env, tmp_path: Path) -> None:
    """Another configuration of the same cluster: every namespace managed (the unlabelled `legacy`
    too), default Allow, the BIG-IP policy enforced on a route domain, and the FortiOS block placed
    before an operator's policy instead of at the top."""
    seed_foreign(env.lab)
    foreign_policy = next(p for p in env.lab.fortigate.table("firewall/policy")
                          if p["name"] == "netops-printing")
    directory = tmp_path / "variant"
    directory.mkdir()
    document = env.lab.config_document(directory, namespaces={"all": True, "exclude": ["kube-system"]},
                                       defaults={"action": "Allow"})
    document["devices"][0]["attach"] = {"routeDomain": "/Common/0"}
    document["devices"][1]["placement"] = {"before": foreign_policy["policyid"]}
    env.config = directory / "fusion-connector.yaml"
    env.config.write_text(json.dumps(document))
    env.apply()
    verdict = judge(env.lab, env.objects, config=document, stride=2)
    assert not verdict.disagreements, (
        f"{verdict.disagreeing} of {verdict.compared} probes disagree with the rule semantics:\n"
        + "\n".join(verdict.disagreements))
    legacy = judge_one(env, "legacy", "old-0", "9.9.9.9", 443)
    assert legacy == {BIGIP: "Allow", FORTIGATE: "Allow", REST: "Allow"}
    names = [p["name"] for p in env.lab.fortigate.table("firewall/policy")]
    ours = [i for i, p in enumerate(env.lab.fortigate.table("firewall/policy"))
            if str(p.get("comments", "")).startswith("fusion-connector:")]
    assert ours and max(ours) < names.index("netops-printing")
    tenant = env.lab.bigip.declaration()
    assert tenant is not None
    assert not any(isinstance(v, dict) and v.get("class") == "Service_L4" for v in tenant["Shared"].values())


def judge_one(env: Env, namespace: str, pod_name: str, destination: str, port: int
              ) -> dict[str, str | None]:
    """Each device's decision for one pod's TCP traffic (the device's evaluator over its state)."""
    address = next(o["status"]["podIP"] for o in env.objects
                   if o["kind"] == "Pod" and o["metadata"]["namespace"] == namespace
                   and o["metadata"]["name"] == pod_name)
    return {name: device.decider()(Probe(address, destination, port))
            for name, device in env.lab.devices.items()}


def test_a_foreign_object_squatting_one_of_our_names_is_left_alone_and_never_used(env: Env) -> None:
    plan = json.loads(env.run("plan", "--output", "json").stdout)
    wanted = {d["device"]: d["plan"]["changes"] for d in plan["devices"]}
    group = next(c["name"] for c in wanted[REST]
                 if c["kind"] == "group" and c["name"].endswith(".src.analytics"))
    address = next(c["name"] for c in wanted[FORTIGATE]
                   if c["kind"] == "address" and c["after"].get("fqdn") == "api.github.com")
    squatter = "10.99.0.1"
    env.lab.rest.seed(groups=[{"name": group, "owner": "netops", "members": [squatter]}])
    env.lab.fortigate.http.post("/api/v2/cmdb/firewall/address", params={"vdom": "root"}, json={
        "name": address, "type": "ipmask", "subnet": f"{squatter} 255.255.255.255",
        "comment": "netops"}).raise_for_status()
    before = env.lab.seqs()
    result = env.run("apply")
    assert result.returncode == 1, describe(result)
    assert "names held by objects we do not own" in result.stdout
    written = env.lab.writes(before)
    for name in (REST, FORTIGATE):  # a half-applied rulebase could decide differently: nothing written
        assert written[name] == [], name
    assert f"! group {group} exists on the device and is not ours (owner netops): left alone" in result.stdout
    assert f"! address {address} exists on the device and is not ours" in result.stdout
    state = env.lab.rest.state()
    assert next(g for g in state["groups"] if g["name"] == group)["members"] == [squatter]
    assert not [r["name"] for r in state["rules"] if r["source"] == group]
    squatted = next(a for a in env.lab.fortigate.table("firewall/address") if a["name"] == address)
    assert squatted["subnet"] == f"{squatter} 255.255.255.255" and squatted["comment"] == "netops"
    assert not [g["name"] for g in env.lab.fortigate.table("firewall/addrgrp")
                if address in {m["name"] for m in g.get("member", [])}]
    for name, device in env.lab.devices.items():  # the squatter's address never gets our decisions
        decide = device.decider()
        assert {decide(Probe(squatter, d, 443)) for d in ("api.github.com", "203.0.113.9", "9.9.9.9")} \
            == {None}, name
