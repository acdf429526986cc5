"""`fusion-connector demo`: in process, as a real process from a clean directory, and `--serve`
driven by `plan` from another process until SIGTERM."""

from __future__ import annotations

import os
import re
import signal
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

REPO = Path(__file__).resolve().parents[3]


def _environment(tmp_path: Path) -> dict[str, str]:
    """A clean environment: temporary files in `tmp_path/tmp`, the repository importable, and a
    proxy that answers nothing (the demo must reach its mocks directly)."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_PASSWORD"))}
    env = {k: v for k, v in env.items() if k.upper() not in ("NO_PROXY", "HTTP_PROXY", "HTTPS_PROXY")}
    env.update(TMPDIR=str(temporary), HOME=str(tmp_path), PYTHONPATH=str(REPO),
               HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9")
    return env


def test_demo_in_process_prints_what_each_device_holds() -> None:
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    out = result.output
    for device in ("bigip-dc1 (f5-as3)", "fgt-edge (fortios)", "soc (rest)"):
        assert f"What {device} holds" in out
    for name in ("dst_payments_stripe", "fc_demo_src_demo/payments", "fc.demo.src.demo/billing"):
        assert name in out
    assert re.search(r"lan-to-internet \(not ours: left alone\)", out)
    assert out.count("planned again after the apply: in sync") == 3
    assert "not accepted (ExternalServiceNotFound): ServiceEgressRule analytics/spark-to-warehouse" in out
    assert "Allow  ServiceEgressRule payments/checkout-to-stripe" in out
    for device in ("bigip-dc1", "fgt-edge", "soc"):  # what it owns is what the one plan created
        assert re.search(rf"^  {device}\s+\S+\s+in sync\s+(\d+)\s+1\s+\1 created\s+0$", out, re.M)
    assert "3 devices, all in sync;" in out
    assert "\x1b[" not in out  # plain text when not on a terminal


@pytest.mark.e2e
def test_python_m_connector_demo_writes_nothing_outside_its_temporary_directory(tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = _environment(tmp_path)
    done = subprocess.run([sys.executable, "-m", "connector", "demo"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "What fgt-edge (fortios) holds" in done.stdout
    assert list(cwd.iterdir()) == [] and list(Path(env["TMPDIR"]).iterdir()) == []


def _deleted_pod_leaves_the_bigip(text: str, password: str) -> None:
    """The served demo runs the controller: a pod deleted through the API server leaves the device."""
    kubeconfig = re.search(r"^kubeconfig: (\S+)$", text, re.M)
    bigip = re.search(r"^  bigip-dc1 \(f5-as3\)\s+(\S+)$", text, re.M)
    assert kubeconfig is not None and bigip is not None
    assert "controller: running in this process" in text
    api = k8s_config.new_client_from_config(kubeconfig.group(1))
    core = k8s_client.CoreV1Api(api)
    pod = core.read_namespaced_pod("checkout-7d4b9c6f5-2xkqp", "payments")
    address = pod.status.pod_ip

    def declared() -> str:
        url = f"{bigip.group(1)}/mgmt/shared/appsvcs/declare"
        return httpx.get(url, auth=("admin", password), timeout=10).text

    assert f'"{address}"' in declared()
    core.delete_namespaced_pod("checkout-7d4b9c6f5-2xkqp", "payments")
    deadline = time.monotonic() + 30
    while f'"{address}"' in declared():
        assert time.monotonic() < deadline, f"{address} still on the BIG-IP"
        time.sleep(0.2)
    api.close()


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_demo_serve_answers_plan_then_stops_on_sigterm(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    serve = subprocess.Popen([sys.executable, "-m", "connector", "demo", "--serve"], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert serve.stdout is not None
        lines = []
        for line in serve.stdout:
            lines.append(line)
            if line.startswith("ready"):
                break
        text = "".join(lines)
        assert "ready: press Ctrl-C to stop" in text, text
        config = re.search(r"^config file: (\S+)$", text, re.M)
        assert config is not None
        exports = dict(re.findall(r"^  export (\w+)=(\S+)$", text, re.M))
        assert set(exports) == {"BIGIP_PASSWORD", "FGT_TOKEN", "SOC_TOKEN", "NO_PROXY"}
        plan = subprocess.run([sys.executable, "-m", "connector", "plan", "--config", config.group(1)],
                              cwd=tmp_path, env={**env, **exports}, capture_output=True, text=True,
                              timeout=60)
        assert plan.returncode == 0, plan.stdout + plan.stderr
        for device in ("bigip-dc1", "fgt-edge", "soc"):
            assert f"{device}: in sync, nothing to do" in plan.stdout
        _deleted_pod_leaves_the_bigip(text, exports["BIGIP_PASSWORD"])
        serve.send_signal(signal.SIGTERM)
        rest, _ = serve.communicate(timeout=30)
        assert serve.returncode == 0, rest
        assert "stopped" in rest
        assert not Path(config.group(1)).exists()
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()


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
