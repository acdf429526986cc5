"""The first hour with the CLI: global options anywhere, every missing secret named before the
cluster is read, one line for an unreachable API server, transport-security warnings."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from connector.cli import hoist_global_options
from tests.connector.cli.lab import TOKEN, Lab, invoke, lab
from tests.e2e.conftest import REPO_ROOT


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    monkeypatch.setenv("SOC_TOKEN", TOKEN)
    monkeypatch.setenv("SIEM_TOKEN", TOKEN)
    with lab(tmp_path) as running:
        yield running


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_global_options_are_hoisted_from_anywhere_before_a_double_dash() -> None:
    assert hoist_global_options(["plan", "--config", "c", "--log-level", "debug", "--log-json"]) == [
        "--log-level", "debug", "--log-json", "plan", "--config", "c"]
    assert hoist_global_options(["plan", "--log-level=warning"]) == ["--log-level=warning", "plan"]
    assert hoist_global_options(["import-ces", "--", "--log-json"]) == ["import-ces", "--", "--log-json"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_log_level_works_before_or_after_the_command(env: Lab, where: str) -> None:
    args = ["plan", "--config", str(env.config())]
    args = ["--log-level", "debug", *args] if where == "before" else [*args, "--log-level", "debug"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert " DEBUG " in result.stderr


def test_every_missing_secret_is_named_before_the_cluster_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FGT_TOKEN", "BIGIP_PASSWORD", "SOC_HMAC"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "cluster": "t", "database": f"sqlite:///{tmp_path / 'store.db'}",
        "kubernetes": {"host": f"http://127.0.0.1:{_closed_port()}"},  # never reached
        "devices": [
            {"name": "fgt", "type": "fortios", "url": "https://fgt", "auth": {"tokenEnv": "FGT_TOKEN"}},
            {"name": "bigip", "type": "f5-as3", "url": "https://bigip",
             "auth": {"username": "admin", "passwordEnv": "BIGIP_PASSWORD"}},
            {"name": "soc", "type": "rest", "url": "https://soc", "auth": {"hmacSecretEnv": "SOC_HMAC"}}]}))
    for command in ("plan", "apply", "run"):
        result = invoke(command, "--config", str(config))
        assert result.exit_code == 2, result.output
        for name in ("FGT_TOKEN", "BIGIP_PASSWORD", "SOC_HMAC"):
            assert name in result.stderr
        assert "kubernetes" not in result.stderr.replace("kubernetes.tokenEnv", "")
    only = invoke("plan", "--config", str(config), "--device", "soc")
    assert only.exit_code == 2 and "SOC_HMAC" in only.stderr and "FGT_TOKEN" not in only.stderr


def test_an_unreachable_api_server_is_one_line(env: Lab) -> None:
    config = env.config(kubernetes={"host": f"http://127.0.0.1:{_closed_port()}"})
    result = invoke("plan", "--config", str(config))
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if not line.startswith("warning:")]
    assert errors == [f"error: kubernetes: cannot reach the API server at "
                      f"{yaml.safe_load(config.read_text())['kubernetes']['host']}: connection refused"]


def test_weakened_transport_security_is_warned_on_stderr(env: Lab) -> None:
    kubeconfig = env.directory / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": env.kube, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "lab", "user": {"token": "t"}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "lab"}}]}))
    document = yaml.safe_load(env.config().read_text())
    document["devices"][1]["verifyTls"] = False
    document["devices"][1]["url"] = document["devices"][1]["url"].replace("http://", "https://")
    config = env.config(kubernetes={"kubeconfig": str(kubeconfig)}, devices=document["devices"])
    result = invoke("plan", "--config", str(config), "--device", "soc")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert [line.rsplit("[", 1)[1] for line in warnings] == [
        "KubeInsecureSkipVerify]", "PlaintextCredentials]", "TLSVerifyDisabled]"]
    assert "SOC_TOKEN" in warnings[1] and "siem" in warnings[2]
    assert "warning:" not in result.stdout


def test_run_warns_at_start(env: Lab) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "connector", "run", "--config", str(env.config()), "--listen", "127.0.0.1:0"],
        cwd=REPO_ROOT, env={**os.environ, "SOC_TOKEN": TOKEN, "SIEM_TOKEN": TOKEN},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    seen: list[str] = []
    try:
        for line in process.stderr:
            seen.append(line)
            if " running (" in line or process.poll() is not None:
                break
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    warnings = [line for line in seen if "insecure transport" in line or line.startswith("warning:")]
    assert len(warnings) == 2, seen  # once each: the controller's warning log line
    assert all(" WARNING " in line and "plain http://" in line for line in warnings), seen
