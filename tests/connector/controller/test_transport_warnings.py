"""Weakened transport security is said at start: a log line per finding, a gauge per (device,
reason), and the findings in /readyz."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from connector.config import Config, Secrets
from connector.controller.controller import Controller
from connector.wiring import validate_config
from tests.connector.controller.test_capacity import sample


def config(**kubernetes: object) -> Config:
    return validate_config({
        "cluster": "c1", "database": "sqlite:///:memory:",
        "kubernetes": {"host": "http://127.0.0.1:6443", "tokenEnv": "KUBE_TOKEN", **kubernetes},
        "devices": [
            {"name": "soc", "type": "rest", "url": "http://soc.example", "auth": {"tokenEnv": "SOC_TOKEN"}},
            {"name": "fgt", "type": "fortios", "url": "https://fgt.example", "verifyTls": False,
             "auth": {"tokenEnv": "FGT_TOKEN"}},
            {"name": "safe", "type": "rest", "url": "https://safe.example",
             "auth": {"tokenEnv": "SOC_TOKEN"}},
        ]})


def test_each_weakening_is_logged_counted_and_listed(caplog: pytest.LogCaptureFixture) -> None:
    controller = Controller(config(), Secrets({}))
    api = SimpleNamespace(configuration=SimpleNamespace(verify_ssl=False))  # kubeconfig insecure-skip
    with caplog.at_level(logging.WARNING, logger="connector.controller.transport"):
        controller.transport.announce(api)  # type: ignore[arg-type]
    lines = [r.getMessage() for r in caplog.records]
    assert any("insecure-skip-tls-verify" in line for line in lines)
    assert any("KUBE_TOKEN" in line and "plain http://" in line for line in lines)
    assert any(line.startswith("insecure transport: device soc:") and "SOC_TOKEN" in line for line in lines)
    assert any("device fgt: verifyTls is false" in line for line in lines)
    assert not any("safe" in line for line in lines)
    text = controller.render_metrics().decode()
    gauge = "fusion_connector_insecure_transport"
    assert sample(text, gauge, device="soc", reason="PlaintextCredentials") == 1
    assert sample(text, gauge, device="fgt", reason="TLSVerifyDisabled") == 1
    assert sample(text, gauge, reason="KubeInsecureSkipVerify") == 1
    assert sample(text, gauge, device="safe") is None
    insecure = controller.readiness()["insecureTransport"]
    assert {(w["device"], w["reason"]) for w in insecure} == {
        ("", "KubeInsecureSkipVerify"), ("", "PlaintextCredentials"), ("soc", "PlaintextCredentials"),
        ("fgt", "TLSVerifyDisabled")}


def test_tls_verification_turned_off_in_the_configuration_is_not_taken_for_the_kubeconfig_flag() -> None:
    controller = Controller(config(verifyTls=False), Secrets({}))
    controller.transport.announce(SimpleNamespace(configuration=SimpleNamespace(verify_ssl=False)))  # type: ignore[arg-type]
    reasons = {(w["device"], w["reason"]) for w in controller.readiness()["insecureTransport"]}
    assert ("", "TLSVerifyDisabled") in reasons and ("", "KubeInsecureSkipVerify") not in reasons
