"""secret_variables and Secrets.missing: every secret the configuration names, all at once."""

from __future__ import annotations

from connector.config import Secrets, secret_variables
from connector.wiring import load_config_text

CONFIG = """
cluster: c1
kubernetes: {host: "https://k:6443", tokenEnv: KUBE_TOKEN}
devices:
- {name: fgt, type: fortios, url: "https://f", auth: {tokenEnv: FGT_TOKEN}}
- {name: bigip, type: f5-as3, url: "https://b", auth: {username: admin, passwordEnv: BIGIP_PASSWORD}}
- {name: soc, type: rest, url: "https://s", auth: {tokenEnv: SOC_TOKEN, hmacSecretEnv: SOC_HMAC}}
- {name: lab, type: rest, url: "https://l"}
"""


def test_every_named_variable_with_the_key_naming_it() -> None:
    config = load_config_text(CONFIG)
    assert secret_variables(config) == [
        ("KUBE_TOKEN", "kubernetes.tokenEnv"),
        ("FGT_TOKEN", "devices[0] (fgt) auth.tokenEnv"),
        ("BIGIP_PASSWORD", "devices[1] (bigip) auth.passwordEnv"),
        ("SOC_TOKEN", "devices[2] (soc) auth.tokenEnv"),
        ("SOC_HMAC", "devices[2] (soc) auth.hmacSecretEnv"),
    ]
    assert [name for name, _ in secret_variables(config, [config.device("soc")])] == [
        "KUBE_TOKEN", "SOC_TOKEN", "SOC_HMAC"]


def test_missing_lists_unset_and_empty_variables() -> None:
    config = load_config_text(CONFIG)
    secrets = Secrets({"KUBE_TOKEN": "k", "FGT_TOKEN": "", "SOC_TOKEN": "s"})
    assert [name for name, _ in secrets.missing(secret_variables(config))] == [
        "FGT_TOKEN", "BIGIP_PASSWORD", "SOC_HMAC"]
