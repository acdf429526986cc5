"""The configuration file of docs/configuration.md: accepted as documented, strict everywhere else."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from adapters.f5.config import F5Device
from adapters.fortios.config import FortiOSDevice
from adapters.rest.config import RestDevice
from connector.config import ConfigError, SecretError, Secrets, parse_duration, secret_variables
from connector.planner import SafetyThresholds
from connector.wiring import load_config, load_config_text

DOCUMENTED_EXAMPLE = textwrap.dedent("""\
    cluster: prod-eu1                      # required; used in every device object name
    database: sqlite:///fusion-connector.db   # or postgresql+psycopg://user@host/db
    kubernetes:
      host: http://127.0.0.1:8001          # or kubeconfig: PATH, or inCluster: true (default when in a pod)
      connectorNamespace: fusion-system    # where ClusterEgressRule ExternalServices live
    namespaces: {all: false, exclude: [kube-system, kube-public, kube-node-lease]}
    defaults: {action: Deny, sourceMode: pod}
    reconcile: {interval: 300s, debounce: 500ms}
    safety: {maxDeletePercent: 30, maxUpdatePercent: 30, minExisting: 10}
    devices:
    - name: bigip-dc1
      type: f5-as3
      url: https://127.0.0.1:8443
      verifyTls: true                      # default true; caBundle: PATH
      auth: {username: admin, passwordEnv: BIGIP_PASSWORD}
      tenant: fc_prod_eu1                  # default fc_<cluster>
      attach: {virtualServer: {address: 0.0.0.0, gateways: [192.0.2.1]}}   # or {routeDomain: /Common/0}
    - name: fgt-edge
      type: fortios
      url: https://127.0.0.1:9443
      auth: {tokenEnv: FGT_TOKEN}
      vdom: root
      srcintf: [port2]
      dstintf: [port1]
      placement: {before: 1}               # our policies as one block before policy 1; or {top: true}
    - name: soc
      type: rest
      url: http://127.0.0.1:9090
      auth: {tokenEnv: SOC_TOKEN}          # optional hmacSecretEnv: request signing
    flows:                                 # optional
      syslog: {listen: 0.0.0.0:5514}       # UDP and TCP on one port
      senders:
      - {device: fgt-edge, addresses: [192.0.2.10], format: fortios}     # fortios | bigip-afm | cef
      - {device: bigip-dc1, addresses: [192.0.2.20], format: bigip-afm}
      retention: 7d
      clockSkew: 2s
      tokenEnv: FLOWS_TOKEN                # bearer token for POST /v1/flows (REST devices push records)
      forward: {url: tcp://127.0.0.1:6514, format: json}                  # optional; json | cef
    """)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "test.yaml")
    return caught.value.problems


def with_line(old: str, new: str) -> str:
    assert old in DOCUMENTED_EXAMPLE
    return DOCUMENTED_EXAMPLE.replace(old, new, 1)


def test_documented_example_is_accepted_as_written() -> None:
    config = load_config_text(DOCUMENTED_EXAMPLE)
    assert config.cluster == "prod-eu1"
    assert config.database == "sqlite:///fusion-connector.db"
    assert config.kubernetes.host == "http://127.0.0.1:8001"
    assert config.kubernetes.connector_namespace == "fusion-system"
    assert config.namespaces.all is False
    assert config.namespaces.exclude == ["kube-system", "kube-public", "kube-node-lease"]
    assert (config.defaults.action, config.defaults.source_mode) == ("Deny", "pod")
    assert (config.reconcile.interval, config.reconcile.debounce) == (300.0, 0.5)
    assert (
        config.safety.max_delete_percent,
        config.safety.max_update_percent,
        config.safety.min_existing,
    ) == (30, 30, 10)
    bigip, fgt, soc = config.devices
    assert isinstance(bigip, F5Device)
    assert (bigip.name, bigip.url, bigip.verify_tls) == ("bigip-dc1", "https://127.0.0.1:8443", True)
    assert (bigip.auth.username, bigip.auth.password_env) == ("admin", "BIGIP_PASSWORD")
    assert bigip.tenant_for(config.cluster) == "fc_prod_eu1"
    assert bigip.attach.virtual_server is not None and bigip.attach.route_domain is None
    assert bigip.attach.virtual_server.address == "0.0.0.0"
    assert bigip.attach.virtual_server.gateways == ["192.0.2.1"]
    assert isinstance(fgt, FortiOSDevice)
    assert (fgt.auth.token_env, fgt.vdom, fgt.srcintf, fgt.dstintf) == (
        "FGT_TOKEN",
        "root",
        ["port2"],
        ["port1"],
    )
    assert (fgt.placement.before, fgt.placement.top) == (1, None)
    assert isinstance(soc, RestDevice)
    assert (soc.url, soc.auth.token_env, soc.auth.hmac_secret_env) == (
        "http://127.0.0.1:9090",
        "SOC_TOKEN",
        None,
    )
    assert config.device("fgt-edge") is fgt


def test_documented_alternatives_are_accepted() -> None:
    text = with_line("  host: http://127.0.0.1:8001 ", "  kubeconfig: /etc/kube/config ")
    text = text.replace(
        "{virtualServer: {address: 0.0.0.0, gateways: [192.0.2.1]}}", "{routeDomain: /Common/0}"
    )
    text = text.replace("placement: {before: 1}", "placement: {top: true}")
    text = text.replace("auth: {tokenEnv: SOC_TOKEN}", "auth: {tokenEnv: SOC_TOKEN, hmacSecretEnv: SOC_HMAC}")
    text = text.replace("verifyTls: true ", "caBundle: /etc/ssl/bigip.pem ")
    text = text.replace(
        "database: sqlite:///fusion-connector.db", "database: postgresql+psycopg://fc@db.example.com/fc"
    )
    config = load_config_text(text)
    assert config.kubernetes.kubeconfig == "/etc/kube/config" and config.kubernetes.host is None
    bigip, fgt, soc = config.devices
    assert isinstance(bigip, F5Device) and bigip.attach.route_domain == "/Common/0"
    assert bigip.ca_bundle == "/etc/ssl/bigip.pem"
    assert isinstance(fgt, FortiOSDevice) and fgt.placement.top is True and fgt.placement.before is None
    assert isinstance(soc, RestDevice) and soc.auth.hmac_secret_env == "SOC_HMAC"
    assert load_config_text(
        with_line("  host: http://127.0.0.1:8001 ", "  inCluster: true ")
    ).kubernetes.in_cluster


def test_minimal_file_gets_the_documented_defaults() -> None:
    config = load_config_text("cluster: dev\n")
    assert config.database == "sqlite:///fusion-connector.db"
    assert config.kubernetes.connector_namespace == "fusion-system"
    assert config.namespaces.all is False
    assert config.namespaces.exclude == ["kube-system", "kube-public", "kube-node-lease"]
    assert (config.defaults.action, config.defaults.source_mode) == ("Deny", "pod")
    assert (config.reconcile.interval, config.reconcile.debounce) == (300.0, 0.5)
    assert config.devices == []
    device = load_config_text(
        textwrap.dedent("""\
        cluster: dev-2
        devices:
        - {name: bigip, type: f5-as3, url: https://10.0.0.1/, auth: {username: u, passwordEnv: P}}
        - {name: fgt, type: fortios, url: https://10.0.0.2, auth: {tokenEnv: T}}
        """)
    )
    bigip, fgt = device.devices
    assert isinstance(bigip, F5Device) and isinstance(fgt, FortiOSDevice)
    assert bigip.verify_tls is True and bigip.url == "https://10.0.0.1"
    assert bigip.tenant_for(device.cluster) == "fc_dev_2"
    assert bigip.attach.virtual_server is not None
    assert fgt.placement.top is True and fgt.vdom == "root"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("cluster: prod-eu1", "cluster: prod-eu1\nclusters: x", "clusters: unknown key"),
        (
            "  connectorNamespace: fusion-system",
            "  connectorNamespace: fusion-system\n  namespace: x",
            "kubernetes.namespace: unknown key",
        ),
        (
            "reconcile: {interval: 300s, debounce: 500ms}",
            "reconcile: {interval: 300s, debounce: 500ms, jitter: 1s}",
            "reconcile.jitter: unknown key",
        ),
        (
            "  auth: {tokenEnv: FGT_TOKEN}",
            "  auth: {tokenEnv: FGT_TOKEN, token: abc}",
            "devices[1].auth.token: unknown key",
        ),
        ("  vdom: root", "  vdom: root\n  tenant: x", "devices[1].tenant: unknown key"),
        (
            "{virtualServer: {address: 0.0.0.0, gateways: [192.0.2.1]}}",
            "{virtualServer: {address: 0.0.0.0, gateway: [192.0.2.1]}}",
            "devices[0].attach.virtualServer.gateway: unknown key",
        ),
        # the Python field names are not keys of the file: only the documented spelling is
        (
            "defaults: {action: Deny, sourceMode: pod}",
            "defaults: {action: Deny, source_mode: pod}",
            "defaults.source_mode: unknown key",
        ),
        ("  verifyTls: true ", "  verify_tls: true ", "devices[0].verify_tls: unknown key"),
    ],
)
def test_unknown_keys_are_rejected_with_their_path(old: str, new: str, expected: str) -> None:
    assert expected in problems(with_line(old, new))


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("  auth: {tokenEnv: FGT_TOKEN}", "  auth: {tokenEnv: fgt-token}", "devices[1].auth.tokenEnv"),
        (
            "  auth: {tokenEnv: SOC_TOKEN}",
            "  auth: {tokenEnv: SOC_TOKEN, hmacSecretEnv: 'a b'}",
            "devices[2].auth.hmacSecretEnv",
        ),
        (
            "auth: {username: admin, passwordEnv: BIGIP_PASSWORD}",
            "auth: {username: admin}",
            "devices[0].auth.passwordEnv",
        ),
        ("cluster: prod-eu1", "cluster: Prod EU", "cluster"),
        ("database: sqlite:///fusion-connector.db", "database: mysql://db/fc", "database"),
        (
            "defaults: {action: Deny, sourceMode: pod}",
            "defaults: {action: Reject, sourceMode: pod}",
            "defaults.action",
        ),
        (
            "defaults: {action: Deny, sourceMode: pod}",
            "defaults: {action: Deny, sourceMode: snat}",
            "defaults.sourceMode",
        ),
        ("safety: {maxDeletePercent: 30,", "safety: {maxDeletePercent: 130,", "safety.maxDeletePercent"),
        ("minExisting: 10}", "minExisting: -1}", "safety.minExisting"),
        ("namespaces: {all: false,", "namespaces: {all: sometimes,", "namespaces.all"),
        ("  url: https://127.0.0.1:9443", "  url: 127.0.0.1:9443", "devices[1].url"),
        ("  type: fortios", "  type: paloalto", "devices[1]"),
        ("  verifyTls: true ", "  verifyTls: [true] ", "devices[0].verifyTls"),
        ("  tenant: fc_prod_eu1", "  tenant: 1tenant", "devices[0].tenant"),
        ("gateways: [192.0.2.1]", "gateways: [192.0.2.300]", "devices[0].attach.virtualServer.gateways"),
        ("  srcintf: [port2]", "  srcintf: []", "devices[1].srcintf"),
        ("placement: {before: 1}", "placement: {before: -1}", "devices[1].placement.before"),
        ("- name: soc", "- name: SOC!", "devices[2].name"),
    ],
)
def test_bad_values_are_rejected_with_their_path(old: str, new: str, path: str) -> None:
    found = problems(with_line(old, new))
    assert any(problem.startswith(f"{path}: ") for problem in found), found


def test_every_problem_is_reported_at_once_and_names_the_file() -> None:
    text = with_line("  auth: {tokenEnv: FGT_TOKEN}", "  auth: {tokenEnv: fgt-token}")
    text = text.replace("minExisting: 10}", "minExisting: ten}")
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "/etc/fc/config.yaml")
    assert len(caught.value.problems) == 2
    assert "/etc/fc/config.yaml" in str(caught.value)
    assert "devices[1].auth.tokenEnv" in str(caught.value) and "safety.minExisting" in str(caught.value)


def test_required_keys_and_file_shape() -> None:
    assert problems("database: sqlite:///x.db\n") == ["cluster: required key is missing"]
    assert problems("- cluster: x\n") == ["(top level): a mapping is required"]
    assert problems("") == ["(top level): a mapping is required"]
    assert problems("cluster: [unclosed\n")[0].startswith("not valid YAML")
    assert any(
        p.startswith("devices[0].type: ") or p.startswith("devices[0]: ")
        for p in problems("cluster: x\ndevices:\n- {name: a, url: https://a}\n")
    )


def test_device_names_are_unique() -> None:
    text = with_line("- name: soc", "- name: fgt-edge")
    assert any("fgt-edge" in p and "twice" in p for p in problems(text))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("300s", 300.0),
        ("500ms", 0.5),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        ("45", 45.0),
        (" 2 m ", 120.0),
        (30, 30.0),
        (0.25, 0.25),
        ("0s", 0.0),
        ("7d", 604800.0),
        ("1.5d", 129600.0),
    ],
)
def test_durations(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["5 minutes", "-1s", "s", "", "1w", "1.2.3s", True, -5])
def test_bad_durations_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)
    found = problems(
        f"cluster: x\nreconcile: {{interval: {bad!r}}}\n"
        if isinstance(bad, str)
        else f"cluster: x\nreconcile: {{interval: {str(bad).lower()}}}\n"
    )
    assert any(p.startswith("reconcile.interval: ") for p in found), found


def test_device_timeout_is_a_duration() -> None:
    config = load_config_text(
        "cluster: x\ndevices:\n- {name: s, type: rest, url: http://h, timeout: 2500ms}\n"
    )
    assert config.devices[0].timeout == pytest.approx(2.5)
    found = problems("cluster: x\ndevices:\n- {name: s, type: rest, url: http://h, timeout: soon}\n")
    assert any(p.startswith("devices[0].timeout: ") for p in found), found


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("placement: {before: 1}", "placement: {before: 1, top: true}", "devices[1].placement"),
        ("placement: {before: 1}", "placement: {}", "devices[1].placement"),
        ("placement: {before: 1}", "placement: {top: false}", "devices[1].placement"),
        (
            "{virtualServer: {address: 0.0.0.0, gateways: [192.0.2.1]}}",
            "{virtualServer: {address: 0.0.0.0}, routeDomain: /Common/0}",
            "devices[0].attach",
        ),
        ("{virtualServer: {address: 0.0.0.0, gateways: [192.0.2.1]}}", "{}", "devices[0].attach"),
        ("  host: http://127.0.0.1:8001 ", "  host: http://127.0.0.1:8001\n  kubeconfig: /k ", "kubernetes"),
        ("  host: http://127.0.0.1:8001 ", "  inCluster: true\n  kubeconfig: /k ", "kubernetes"),
    ],
)
def test_exactly_one_choices(old: str, new: str, path: str) -> None:
    found = problems(with_line(old, new))
    assert any(p.startswith(f"{path}: ") for p in found), found


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        (
            "auth: {username: admin, passwordEnv: BIGIP_PASSWORD}",
            "auth: {username: admin, password: s3cret}",
            "devices[0].auth.password",
        ),
        ("  auth: {tokenEnv: SOC_TOKEN}", "  auth: {token: s3cret}", "devices[2].auth.token"),
        ("  auth: {tokenEnv: SOC_TOKEN}", "  auth: {hmacSecret: s3cret}", "devices[2].auth.hmacSecret"),
        (
            "database: sqlite:///fusion-connector.db",
            "database: postgresql+psycopg://fc:s3cret@db/fc",
            "database",
        ),
    ],
)
def test_secrets_cannot_be_written_in_the_file(old: str, new: str, path: str) -> None:
    found = problems(with_line(old, new))
    assert any(p.startswith(f"{path}: ") for p in found), found
    assert not any("s3cret" in p for p in found), found


def test_secrets_come_from_the_environment_and_never_show() -> None:
    config = load_config_text(DOCUMENTED_EXAMPLE)
    fgt = config.device("fgt-edge")
    assert isinstance(fgt, FortiOSDevice)
    secrets = Secrets({"FGT_TOKEN": "tok-123", "EMPTY": ""})
    token = secrets.get(fgt.auth.token_env, "device fgt-edge token")
    assert token.get_secret_value() == "tok-123"
    assert "tok-123" not in repr(token) and "tok-123" not in str(token)
    with pytest.raises(SecretError, match="SOC_TOKEN"):
        secrets.get("SOC_TOKEN", "device soc token")
    with pytest.raises(SecretError, match="EMPTY"):
        secrets.get("EMPTY", "device soc token")
    assert secrets.optional(None, "hmac") is None


def test_secrets_default_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FC_TEST_SECRET", "from-env")
    assert Secrets().get("FC_TEST_SECRET", "test").get_secret_value() == "from-env"


def test_load_config_reads_files_and_reports_unreadable_ones(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(DOCUMENTED_EXAMPLE)
    assert load_config(path).cluster == "prod-eu1"
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yaml")
    assert caught.value.problems[0].startswith("cannot read")
    assert str(tmp_path / "absent.yaml") in str(caught.value)


def test_the_safety_section_gives_the_planners_thresholds() -> None:
    assert load_config_text("cluster: x\n").safety.thresholds == SafetyThresholds(30, 30, 10)
    text = with_line("maxUpdatePercent: 30, minExisting: 10}", "maxUpdatePercent: 50, minExisting: 4}")
    assert load_config_text(text).safety.thresholds == SafetyThresholds(
        max_delete_percent=30, max_update_percent=50, min_existing=4)


# ---------------------------------------------------------------------------------------------
# flows


def test_the_documented_flows_section_is_accepted_as_written() -> None:
    flows = load_config_text(DOCUMENTED_EXAMPLE).flows
    assert flows is not None and flows.syslog is not None
    assert flows.syslog.address == ("0.0.0.0", 5514)
    assert [(s.device, s.addresses, s.format) for s in flows.senders] == [
        ("fgt-edge", ["192.0.2.10"], "fortios"), ("bigip-dc1", ["192.0.2.20"], "bigip-afm")]
    assert (flows.retention, flows.clock_skew, flows.token_env) == (7 * 86400.0, 2.0, "FLOWS_TOKEN")
    assert flows.forward is not None
    assert (flows.forward.address, flows.forward.format) == (("127.0.0.1", 6514), "json")


def test_flows_are_optional_and_have_defaults() -> None:
    assert load_config_text("cluster: x\n").flows is None
    flows = load_config_text("cluster: x\nflows: {tokenEnv: T}\n").flows
    assert flows is not None
    assert (flows.syslog, flows.senders, flows.forward) == (None, [], None)
    assert (flows.retention, flows.clock_skew) == (7 * 86400.0, 2.0)
    ipv6 = load_config_text("cluster: x\nflows: {syslog: {listen: '[::]:514'}}\n").flows
    assert ipv6 is not None and ipv6.syslog is not None and ipv6.syslog.address == ("::", 514)


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("device: fgt-edge, addresses", "device: fgt-edgy, addresses",
     "flows.senders[0].device: 'fgt-edgy' is not a configured device"),
    ("addresses: [192.0.2.20]", "addresses: [192.0.2.20, 192.0.2.300]",
     "flows.senders[1].addresses[1]: '192.0.2.300' is not an IP address"),
    ("addresses: [192.0.2.20]", "addresses: [192.0.2.10]",
     "flows.senders[1].addresses[0]: 192.0.2.10 is already listed by senders[0]"),
    ("addresses: [192.0.2.20]", "addresses: []", "flows.senders[1].addresses: List should have"),
    ("format: bigip-afm", "format: leef", "flows.senders[1].format: Input should be"),
    ("listen: 0.0.0.0:5514", "listen: 0.0.0.0",
     "flows.syslog.listen: Value error, '0.0.0.0': expected HOST:PORT"),
    ("listen: 0.0.0.0:5514", "listen: '::1:5514'",
     "flows.syslog.listen: Value error, '::1:5514': write an IPv6"),
    ("retention: 7d", "retention: 7w", "flows.retention: Value error, '7w' is not a duration"),
    ("retention: 7d", "retention: 0s", "flows.retention: Value error, a retention such as 7d"),
    ("clockSkew: 2s", "clockSkew: -2s", "flows.clockSkew: Value error, '-2s' is not a duration"),
    ("tokenEnv: FLOWS_TOKEN ", "tokenEnv: FLOWS-TOKEN ", "flows.tokenEnv: Value error, 'FLOWS-TOKEN' is not"),
    ("url: tcp://127.0.0.1:6514", "url: udp://127.0.0.1:6514", "flows.forward.url: Value error, 'udp://"),
    ("url: tcp://127.0.0.1:6514", "url: tcp://127.0.0.1:0",
     "flows.forward.url: Value error, 'tcp://127.0.0.1:0': port 0"),
    ("format: json}", "format: xml}", "flows.forward.format: Input should be 'json' or 'cef'"),
    ("clockSkew: 2s", "clockSkew: 2s\n  window: 1h", "flows.window: unknown key"),
    ("format: fortios}", "format: fortios, port: 514}", "flows.senders[0].port: unknown key"),
])
def test_flows_problems_name_their_path(old: str, new: str, expected: str) -> None:
    found = problems(with_line(old, new))
    assert any(p.startswith(expected) for p in found), found


def test_senders_need_the_syslog_listener() -> None:
    found = problems("cluster: x\ndevices: [{name: soc, type: rest, url: 'http://127.0.0.1:1'}]\n"
                     "flows: {senders: [{device: soc, addresses: [192.0.2.1], format: cef}]}\n")
    assert found == ["flows.syslog: required when senders are listed"]


def test_the_flows_token_is_a_secret_the_commands_check() -> None:
    config = load_config_text(DOCUMENTED_EXAMPLE)
    assert ("FLOWS_TOKEN", "flows.tokenEnv") in secret_variables(config)


def test_the_reference_of_docs_configuration_is_accepted_with_its_flows_section() -> None:
    text = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    reference = text[text.index("## Reference"):].split("```yaml\n", 1)[1].split("```", 1)[0]
    config = load_config_text(reference, "docs/configuration.md")
    assert config.flows is not None and [s.device for s in config.flows.senders] == ["fgt-edge", "bigip-dc1"]
