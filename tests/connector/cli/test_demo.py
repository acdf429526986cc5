"""`fusion-connector demo`: in process, as a real process from a clean directory, and `--serve`
with every command it prints run from another shell, until SIGTERM."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from connector.cli import main
from connector.demo.text import DELETED_POD, serve_commands
from tests.connector.cli.served_demo import clean_environment, run_commands, served


def test_demo_in_process_prints_what_each_device_holds() -> None:
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    out = result.output
    for device in ("bigip-dc1 (f5-as3)", "fgt-edge (fortios)", "soc (rest)"):
        assert f"What {device} holds" in out
    held = dict(re.findall(r"^What (\S+) \(\S+\) holds.*?\n(.*?)(?=^What |^Sample)", out, re.M | re.S))
    # what each device holds, whatever the names it gives them
    assert "ExternalService payments/stripe" in held["bigip-dc1"]
    assert "fqdn api.stripe.com" in held["fgt-edge"]
    assert "ServiceEgressRule billing/invoices-to-tax-authority" in held["soc"]
    assert re.search(r"lan-to-internet \(not ours: left alone\)", out)
    assert out.count("planned again after the apply: in sync") == 3
    assert "not accepted (ExternalServiceNotFound): ServiceEgressRule analytics/spark-to-warehouse" in out
    assert "Allow  ServiceEgressRule payments/checkout-to-stripe" in out
    for device in ("bigip-dc1", "fgt-edge", "soc"):  # what it owns is what the one plan created
        assert re.search(rf"^  {device}\s+\S+\s+in sync\s+(\d+)\s+1\s+\1 created\s+0$", out, re.M)
    assert "3 devices, all in sync;" in out
    assert "\x1b[" not in out  # plain text when not on a terminal
    _flows_are_attributed(out)


def _flows_are_attributed(out: str) -> None:
    """The demo's flows come back attributed: through each device, allowed and denied, and the
    reused address's flows to the pod holding it at each flow's time (a late log included)."""
    section = out.split("Flows through each firewall", 1)[1]
    assert "incomplete" not in section and "no flow record" not in section
    rows = [line.split() for line in section.splitlines() if re.match(r"^  \d{4}-\d\d-\d\d ", line)]
    records = {(r[2], r[3], " ".join(r[4:-1])) for r in rows}
    old, new = "payments/checkout-7d4b9c6f5-tq4ld", "payments/checkout-7d4b9c6f5-wx5vn"
    reused = {r[4] for r in rows if r[6] in (old, new)}
    assert len(reused) == 1  # one address, two pods
    address = reused.pop()
    stripe = "ServiceEgressRule payments/checkout-to-stripe"
    expected = [
        ("fgt-edge", "Allow", f"{address} -> {old} (svc checkout) 198.51.100.10:443/TCP {stripe}"),
        ("fgt-edge", "Allow", f"{address} -> {old} (svc checkout) 198.51.100.11:443/TCP {stripe}"),  # late
        ("fgt-edge", "Allow", f"{address} -> {new} (svc checkout) 198.51.100.10:443/TCP {stripe}"),
        ("fgt-edge", "Deny", f"{address} -> {new} (svc checkout) 203.0.113.50:443/TCP "
                             "ClusterEgressRule deny-threat-list"),
        ("fgt-edge", "Deny", "NamespaceEgressRule payments/batch-deny-rest"),
        ("bigip-dc1", "Allow", f"(svc checkout) 198.51.100.10:443/TCP {stripe}"),
        ("bigip-dc1", "Deny", "(svc checkout) 203.0.113.50:443/TCP ClusterEgressRule deny-threat-list"),
        ("soc", "Allow", "-> billing (egress-ip) 192.0.2.130:443/TCP ServiceEgressRule "
                         "billing/invoices-to-tax-authority"),
        ("soc", "Deny", "-> billing (egress-ip) 203.0.113.50:443/TCP ClusterEgressRule deny-threat-list"),
    ]
    for device, action, text in expected:
        assert any((d, a) == (device, action) and text in line for d, a, line in records), (device, text)
    assert len(rows) == len(expected)


@pytest.mark.e2e
def test_python_m_connector_demo_writes_nothing_outside_its_temporary_directory(tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = clean_environment(tmp_path)
    done = subprocess.run([sys.executable, "-m", "connector", "demo"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "What fgt-edge (fortios) holds" in done.stdout
    assert list(cwd.iterdir()) == [] and list(Path(env["TMPDIR"]).iterdir()) == []


def _pod_address(kubeconfig: str) -> str:
    api = k8s_config.new_client_from_config(kubeconfig)
    try:
        return str(k8s_client.CoreV1Api(api).read_namespaced_pod(*reversed(DELETED_POD)).status.pod_ip)
    finally:
        api.close()


def _leaves_the_bigip(text: str, password: str, address: str) -> None:
    """The served demo runs the controller: the deleted pod's address leaves the device."""
    bigip = re.search(r"^  bigip-dc1 \(f5-as3\)\s+(\S+)$", text, re.M)
    assert bigip is not None

    def declared() -> str:
        url = f"{bigip.group(1)}/mgmt/shared/appsvcs/declare"
        return httpx.get(url, auth=("admin", password), timeout=10).text

    deadline = time.monotonic() + 30
    while f'"{address}"' in declared():
        assert time.monotonic() < deadline, f"{address} still on the BIG-IP"
        time.sleep(0.2)


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_demo_serve_commands_work_as_printed_then_it_stops_on_sigterm(tmp_path: Path) -> None:
    with served(tmp_path) as demo:
        assert "controller: running in this process" in demo.text
        assert re.search(r"^flow logs: syslog on 127\.0\.0\.1:\d+ \(UDP and TCP; fgt-edge from ", demo.text,
                         re.M)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/metrics", demo.field("metrics"))
        config = Path(demo.field("config file"))
        assert set(demo.exports) == {"FC_DEMO", "KUBECONFIG", "BIGIP_PASSWORD", "FGT_TOKEN", "SOC_TOKEN",
                                     "FLOWS_TOKEN", "NO_PROXY"}
        assert Path(demo.exports["FC_DEMO"]) == config.parent
        assert Path(demo.exports["KUBECONFIG"]) == config.parent / "kubeconfig"
        commands = demo.commands
        kubectl = shutil.which("kubectl") is not None
        assert [" ".join(c.split()[:2]) if c.startswith("fusion") else c.split()[0] for c in commands] == [
            "fusion-connector plan", "fusion-connector explain", "fusion-connector report",
            "fusion-connector flows", "curl",
            *(["kubectl"] * 3 if kubectl else [])]
        assert f"curl {demo.field('metrics')}  # the controller's metrics" in commands
        address = _pod_address(demo.field("kubeconfig"))
        shell = tmp_path / "shell"
        shell.mkdir()
        plan, explain, _, flows, metrics, *kubectl_outputs = run_commands(commands, shell, demo.shell)
        for device in ("bigip-dc1", "fgt-edge", "soc"):
            assert f"{device}: in sync, nothing to do" in plan
        assert "Allow by ServiceEgressRule payments/checkout-to-stripe" in explain
        assert (shell / "report.html").read_text().lstrip().lower().startswith("<!doctype html>")
        assert "fusion_connector_" in metrics
        assert "payments/checkout-7d4b9c6f5-wx5vn (svc checkout)" in flows  # the demo's flows, attributed
        if kubectl:
            assert DELETED_POD[1] in kubectl_outputs[0]
            assert "kind: ServiceEgressRule" in kubectl_outputs[2]
            _leaves_the_bigip(demo.text, demo.exports["BIGIP_PASSWORD"], address)
        rest = demo.stop()
        assert demo.process.returncode == 0, rest
        assert "stopped" in rest
        assert not config.exists()


def test_serve_commands_without_the_controller_or_kubectl() -> None:
    commands = serve_commands(None, kubectl=False)
    assert [c.split("  #")[0].split()[1] for c in commands] == ["plan", "explain", "report", "apply"]
    assert all("$FC_DEMO/fusion-connector.yaml" in c for c in commands)
    with_kubectl = serve_commands(None, kubectl=True)
    assert with_kubectl[-1].startswith("fusion-connector apply") and "delete pod" in with_kubectl[-2]


def test_an_example_the_api_server_refuses_is_a_clean_error(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    import connector.demo.run as demo_run
    from connector.demo.scenario import scenario_objects

    invalid = {"apiVersion": "fusion-connector.io/v1alpha1", "kind": "ServiceEgressRule",
               "metadata": {"name": "no-service", "namespace": "payments"}, "spec": {"action": "Allow"}}
    monkeypatch.setattr(demo_run, "scenario_objects", lambda: [*scenario_objects(), invalid])
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 1
    assert "error: loading the example: ServiceEgressRule payments/no-service: HTTP 422" in result.output
    assert list(tmp_path.iterdir()) == []
