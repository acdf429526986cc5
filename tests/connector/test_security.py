"""transport_warnings: every weakening of transport security is named, nothing else."""

from __future__ import annotations

from connector.security import TransportReason, transport_warnings
from connector.wiring import load_config_text

_F5 = """
  - name: {name}
    type: f5-as3
    url: {url}
    verifyTls: {verify}
    auth: {{username: admin, passwordEnv: F5_PASSWORD}}
"""


def _config(devices: str = "", kubernetes: str = "") -> str:
    return f"cluster: c1\n{kubernetes}devices:{devices or ' []'}\n"


def test_secure_defaults_give_no_warning() -> None:
    config = load_config_text(_config(_F5.format(name="bigip", url="https://b", verify="true")))
    assert transport_warnings(config, kube_insecure=False) == []


def test_verify_tls_false_on_a_device_is_named() -> None:
    config = load_config_text(_config(_F5.format(name="bigip", url="https://b", verify="false")))
    [warning] = transport_warnings(config, kube_insecure=False)
    assert (warning.device, warning.reason) == ("bigip", TransportReason.TLS_VERIFY_DISABLED)
    assert "bigip" in warning.message and "verifyTls" in warning.message


def test_plain_http_with_credentials_is_named_with_the_variable() -> None:
    config = load_config_text(_config(
        _F5.format(name="bigip", url="http://b", verify="true")
        + "  - {name: fgt, type: fortios, url: 'http://f', auth: {tokenEnv: FGT_TOKEN}}\n"
        + "  - {name: lab, type: rest, url: 'http://r'}\n"))
    warnings = transport_warnings(config, kube_insecure=False)
    assert [(w.device, w.reason) for w in warnings] == [
        ("bigip", "PlaintextCredentials"), ("fgt", "PlaintextCredentials")]
    assert "F5_PASSWORD" in warnings[0].message and "FGT_TOKEN" in warnings[1].message


def test_kubernetes_api_findings_have_an_empty_device() -> None:
    config = load_config_text(_config(kubernetes=(
        "kubernetes: {host: 'http://api:8080', tokenEnv: KUBE_TOKEN, verifyTls: false}\n")))
    warnings = transport_warnings(config, kube_insecure=True)
    assert [(w.device, w.reason) for w in warnings] == [
        ("", "KubeInsecureSkipVerify"), ("", "TLSVerifyDisabled"), ("", "PlaintextCredentials")]
