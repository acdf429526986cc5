"""`fusion-connector import-ces`: files in, YAML out, warnings on stderr, exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from connector.cli import main
from tests.helm.test_crds import CRDS, validate

CES_MANIFEST = """\
apiVersion: kubeovn.io/v1alpha1
kind: ExternalService
metadata: {name: exsvc4, namespace: default, labels: {cpaas.io/ruleType: service}}
spec:
  addresses: [211.6.6.7]
  ports:
  - {name: dns-udp, protocol: udp, port: "9090", bandwidth: bwc-1mbps-irule}
  - {name: dns-tcp, protocol: TCP, port: "9090"}
---
apiVersion: kubeovn.io/v1alpha1
kind: ServiceEgressRule
metadata: {name: rule4, namespace: default}
spec: {action: accept, service: mysql-service, externalServices: [exsvc4]}
---
apiVersion: v1
kind: Service
metadata: {name: mysql-service, namespace: default}
spec: {ports: [{port: 3306}]}
"""

CLUSTER_LIST = """\
apiVersion: v1
kind: List
items:
- apiVersion: kubeovn.io/v1alpha1
  kind: ClusterEgressRule
  metadata: {name: deny-tor}
  spec: {action: drop, logging: true, externalServices: [tor]}
- apiVersion: kubeovn.io/v1alpha1
  kind: ExternalService
  metadata: {name: tor, namespace: kube-system}
  spec: {addresses: [203.0.113.0/24]}
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {"ces": tmp_path / "ces.yaml", "cluster": tmp_path / "cluster.yaml"}
    paths["ces"].write_text(CES_MANIFEST)
    paths["cluster"].write_text(CLUSTER_LIST)
    return paths


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["import-ces", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_converts_several_files_to_yaml_documents(files: dict[str, Path]) -> None:
    code, out, err = invoke(str(files["ces"]), str(files["cluster"]))
    assert code == 0, err
    assert out.startswith("# Converted from F5 CES by fusion-connector import-ces.\n#\n"
                          "# CES had no priorities.")
    resources = [doc for doc in yaml.safe_load_all(out) if doc]
    keys = [(r["kind"], r["metadata"].get("namespace", ""), r["metadata"]["name"]) for r in resources]
    assert keys == [
        ("ExternalService", "default", "exsvc4"),
        ("ExternalService", "fusion-system", "tor"),
        ("ClusterEgressRule", "", "deny-tor"),
        ("ServiceEgressRule", "default", "rule4"),
    ]
    for resource in resources:
        assert validate(CRDS[resource["kind"]], resource) == []
    assert "cpaas.io/ruleType" not in resources[0]["metadata"].get("labels", {})
    assert resources[0]["spec"]["ports"][0] == {"name": "dns-udp", "protocol": "UDP", "port": "9090"}
    assert resources[2]["spec"] == {"tier": "Admin", "priority": 100, "action": "Deny",
                                    "externalServices": ["tor"], "logging": True}
    ces_file, cluster_file = files["ces"], files["cluster"]
    lines = err.splitlines()
    assert f"skipped: {ces_file}#2 Service default/mysql-service: v1 Service is not a CES resource" in lines
    assert any(line.startswith(f"warning: {ces_file}#0 ExternalService default/exsvc4: spec.ports[0]: "
                               "bandwidth iRule 'bwc-1mbps-irule' dropped: bandwidth iRules cannot be mapped")
               for line in lines)
    assert any(line.startswith(f"warning: {cluster_file}#0[1] ExternalService kube-system/tor: moved to "
                               "namespace fusion-system") for line in lines)
    assert any(line.startswith("note: CES had no priorities") for line in lines)


def test_connector_namespace_option(files: dict[str, Path]) -> None:
    code, out, _ = invoke("--connector-namespace", "egress", str(files["cluster"]))
    assert code == 0
    service = next(doc for doc in yaml.safe_load_all(out) if doc and doc["kind"] == "ExternalService")
    assert service["metadata"]["namespace"] == "egress"


def test_ces_namespace_option(files: dict[str, Path]) -> None:
    code, out, err = invoke("--ces-namespace", "ces-system", str(files["cluster"]))
    assert code == 0
    kinds = {(doc["kind"], doc["metadata"].get("namespace")) for doc in yaml.safe_load_all(out) if doc}
    assert ("ExternalService", "kube-system") in kinds  # not where CES looked: left in place
    assert "ExternalService tor is not in the input (CES looked in ces-system)" in err


def test_reads_standard_input() -> None:
    code, out, _ = invoke("-", stdin=CES_MANIFEST)
    assert code == 0
    assert len([doc for doc in yaml.safe_load_all(out) if doc]) == 2


@pytest.mark.parametrize("option", ["--connector-namespace", "--ces-namespace"])
def test_invalid_namespace_option_exits_2(files: dict[str, Path], option: str) -> None:
    code, out, err = invoke(option, "Not_A_Namespace", str(files["ces"]))
    assert code == 2 and out == ""
    assert "is not a namespace name" in err


def test_unreadable_file_exits_2(files: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    code, out, err = invoke(str(files["ces"]), str(missing))
    assert code == 2 and out == ""
    assert f"error: {missing}: cannot read" in err


def test_not_yaml_exits_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [unclosed\n")
    code, out, err = invoke(str(broken))
    assert code == 2 and out == ""
    assert f"error: {broken}: not YAML" in err


def test_binary_file_exits_2(tmp_path: Path) -> None:
    binary = tmp_path / "blob.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    code, out, err = invoke(str(binary))
    assert code == 2 and out == ""
    assert "not YAML" in err


def test_invalid_object_exits_2_and_prints_nothing(tmp_path: Path, files: dict[str, Path]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: kubeovn.io/v1alpha1\nkind: NamespaceEgressRule\n"
                   "metadata: {name: r, namespace: a}\nspec: {action: maybe, externalServices: [x]}\n")
    code, out, err = invoke(str(files["ces"]), str(bad))
    assert code == 2 and out == ""
    assert f"error: {bad}#0 NamespaceEgressRule a/r: spec.action 'maybe' is not one of" in err
    assert "1 object(s) cannot be converted; nothing printed" in err


def test_input_without_ces_objects_prints_nothing(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    code, out, err = invoke(str(other))
    assert code == 0 and out == ""
    assert "no CES resources" in err


def test_command_is_listed_in_help() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert "import-ces" in result.stdout


def test_the_migration_example_of_the_documentation_is_what_the_command_prints() -> None:
    text = (Path(__file__).resolve().parents[3] / "docs" / "resources.md").read_text()
    blocks = re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M)
    index = next(i for i, block in enumerate(blocks) if "kubeovn.io/v1alpha1" in block)
    code, out, err = invoke("-", stdin=blocks[index])
    assert code == 0, err
    assert [doc for doc in yaml.safe_load_all(out) if doc] == list(yaml.safe_load_all(blocks[index + 1]))
    assert "bandwidth iRule 'bwc-1mbps-irule' dropped" in err
    assert "moved to namespace fusion-system" in err


def test_standard_input_is_named_in_messages() -> None:
    code, out, err = invoke("-", stdin="kind: [unclosed\n")
    assert code == 2 and out == ""
    assert err.startswith("error: <stdin>: not YAML")
    code, _, err = invoke("-", stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    assert code == 0
    assert "skipped: <stdin>#0 ConfigMap c: v1 ConfigMap is not a CES resource" in err
