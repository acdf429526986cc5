"""The demo's environment: the mock Kubernetes API server and the three mock devices, in process
on loopback, and a private directory with the configuration file, the credentials and the store.

Contract: `DemoEnvironment.start()` starts everything and writes `config_path` (a configuration
file usable with `plan`, `apply`, `explain` and `run`), `env_path` (shell `export` lines for
the credentials it names, random per start, and `FC_DEMO`, the directory) and `kubeconfig_path`
(for kubectl). `stop()` stops
the servers and removes the directory. Nothing is written outside that directory; nothing leaves
the machine: when a proxy is configured in the environment, `start()` adds the loopback host to
NO_PROXY (this process's environment) so that every HTTP client reaches the mocks directly.

Flows: the configuration's `flows:` section receives syslog on a free loopback port; the FortiGate
mock sends its traffic logs there over UDP from `FORTIGATE_SOURCE`, the BIG-IP mock over TCP from
`BIGIP_SOURCE` (each its own loopback address, listed as its sender), and REST devices push to
the controller's `POST /v1/flows` with the token of `FLOWS_TOKEN_ENV` (the REST mock's push target
is set once the controller listens: `push_flows_to`). On a system whose loopback holds only
127.0.0.1, only the FortiGate mock sends logs (`flow_senders` says which do).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx
from kubernetes import client as k8s_client

from connector.cluster import Kind, Obj, StaticView
from connector.compiler.addresses import read_pod, read_slice
from connector.config import Config, Secrets
from connector.kube import build_api_client
from connector.manifests import ManifestApplier
from connector.sources.listing import list_all
from connector.wiring import load_config
from mocks.bigip import BigIpApp
from mocks.common.app import MockApp
from mocks.common.http import HttpServer
from mocks.common.syslog import SyslogTarget
from mocks.fortigate import FortigateMock
from mocks.kube import KubeApp
from mocks.rest import RestMock

log = logging.getLogger(__name__)

CLUSTER = "demo"
BIGIP, FORTIGATE, REST = "bigip-dc1", "fgt-edge", "soc"
BIGIP_USER = "admin"
ENV_NAMES = {BIGIP: "BIGIP_PASSWORD", FORTIGATE: "FGT_TOKEN", REST: "SOC_TOKEN"}
DIRECTORY_ENV = "FC_DEMO"  # the directory, for commands typed in another shell
FLOWS_TOKEN_ENV = "FLOWS_TOKEN"  # bearer token of POST /v1/flows
FORTIGATE_SOURCE, BIGIP_SOURCE = "127.0.0.2", "127.0.0.3"  # where each mock sends its logs from
CLOCK_SKEW = 0.5  # the mocks share this host's clock
POD_GRACE_SECONDS = 2  # a deleted pod is Terminating this long (kubectl delete waits), then goes
CONFIG_FILE, KUBECONFIG_FILE = "fusion-connector.yaml", "kubeconfig"  # in the directory
# The firewall team's own policy, already on the FortiGate: ours go as one block before it.
FOREIGN_POLICY_ID = 1
FOREIGN_POLICY = {
    "policyid": FOREIGN_POLICY_ID, "name": "lan-to-internet", "srcintf": [{"name": "port2"}],
    "dstintf": [{"name": "port1"}], "srcaddr": [{"name": "all"}], "dstaddr": [{"name": "all"}],
    "service": [{"name": "ALL"}], "action": "accept", "schedule": "always", "nat": "enable",
    "logtraffic": "utm", "comments": "firewall team: general internet access",
}


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def bypass_proxies(host: str, environ: MutableMapping[str, str] = os.environ) -> str:
    """Add `host` and `localhost` to NO_PROXY and no_proxy when a proxy variable is set; returns
    the new NO_PROXY value ("" when no proxy is configured)."""
    if not any(environ.get(name) for name in PROXY_VARIABLES):
        return ""
    current = [item.strip() for item in (environ.get("NO_PROXY") or environ.get("no_proxy") or "").split(",")]
    value = ",".join(dict.fromkeys(item for item in [*current, host, "localhost"] if item))
    environ["NO_PROXY"] = environ["no_proxy"] = value
    return value


class DemoError(RuntimeError):
    """The demo environment could not be started or loaded; the message says what failed."""


@dataclass(frozen=True)
class Endpoint:
    """A running mock: `name` (a device name, or `kubernetes`), its configuration `type`, `url`."""

    name: str
    type: str
    url: str


def free_loopback_port(host: str = "127.0.0.1") -> int:
    """A port of `host` free for both UDP and TCP (the flow receiver binds both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
            return port


def can_send_from(address: str) -> bool:
    """Whether this system lets a socket bind `address` (Linux: all of 127.0.0.0/8)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True


def _flows_text(syslog_port: int, senders: dict[str, tuple[str, str]]) -> str:
    lines = "".join(f"  - {{device: {device}, addresses: [{address}], format: {fmt}}}\n"
                    for device, (address, fmt) in senders.items())
    return f"""\
flows:
  syslog: {{listen: 127.0.0.1:{syslog_port}}}
  senders:
{lines}  retention: 1d
  clockSkew: {CLOCK_SKEW:g}s
  tokenEnv: {FLOWS_TOKEN_ENV}
"""


def _config_text(directory: Path, kube: str, bigip: str, fortigate: str, rest: str) -> str:
    return f"""\
# fusion-connector demo: the mock API server and mock devices of `fusion-connector demo`.
# The credentials come from the environment: . {directory / 'demo.env'}
cluster: {CLUSTER}
database: sqlite:///{directory / 'fusion-connector.db'}
kubernetes:
  host: {kube}
  connectorNamespace: fusion-system
reconcile: {{interval: 60s, debounce: 200ms}}
devices:
- name: {BIGIP}
  type: f5-as3
  url: {bigip}
  auth: {{username: {BIGIP_USER}, passwordEnv: {ENV_NAMES[BIGIP]}}}
  attach: {{virtualServer: {{address: 0.0.0.0}}}}
- name: {FORTIGATE}
  type: fortios
  url: {fortigate}
  auth: {{tokenEnv: {ENV_NAMES[FORTIGATE]}}}
  vdom: root
  srcintf: [port2]
  dstintf: [port1]
  placement: {{before: {FOREIGN_POLICY_ID}}}
- name: {REST}
  type: rest
  url: {rest}
  auth: {{tokenEnv: {ENV_NAMES[REST]}}}
"""


def _kubeconfig_text(kube: str) -> str:
    return f"""\
apiVersion: v1
kind: Config
clusters: [{{name: {CLUSTER}, cluster: {{server: "{kube}"}}}}]
users: [{{name: {CLUSTER}, user: {{}}}}]
contexts: [{{name: {CLUSTER}, context: {{cluster: {CLUSTER}, user: {CLUSTER}}}}}]
current-context: {CLUSTER}
"""


class DemoEnvironment:
    """See the module docstring. Use as a context manager, or `start()` then `stop()`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.directory = Path()
        self.environment: dict[str, str] = {}
        self.endpoints: list[Endpoint] = []
        self._servers: list[HttpServer] = []
        self._config: Config | None = None
        self.no_proxy = ""
        self.syslog_port = 0
        self.flow_senders: dict[str, tuple[str, str]] = {}  # device -> (address, format)
        self._rest: RestMock | None = None

    # --- life cycle -----------------------------------------------------------------------------
    def start(self) -> DemoEnvironment:
        self.directory = Path(tempfile.mkdtemp(prefix="fusion-connector-demo-"))
        self.no_proxy = bypass_proxies(self.host)
        try:
            names = (*ENV_NAMES.values(), FLOWS_TOKEN_ENV)
            self.environment = {env: secrets.token_urlsafe(18) for env in names}
            self.syslog_port = free_loopback_port(self.host)
            sources = {FORTIGATE: (FORTIGATE_SOURCE, "fortios"), BIGIP: (BIGIP_SOURCE, "bigip-afm")}
            if not all(can_send_from(address) for address, _ in sources.values()):
                sources = {FORTIGATE: (self.host, "fortios")}  # only 127.0.0.1 on this loopback
            self.flow_senders = sources
            kube = self._serve(KubeApp(pod_grace_seconds=POD_GRACE_SECONDS), "kubernetes", "kubernetes")
            bigip = self._serve(BigIpApp(BIGIP_USER, self.environment[ENV_NAMES[BIGIP]],
                                         syslog=self._syslog_target(BIGIP, "tcp")), BIGIP, "f5-as3")
            fortigate = self._serve(FortigateMock(token=self.environment[ENV_NAMES[FORTIGATE]],
                                                  syslog=self._syslog_target(FORTIGATE, "udp")),
                                    FORTIGATE, "fortios")
            self._rest = RestMock(token=self.environment[ENV_NAMES[REST]])
            rest = self._serve(self._rest, REST, "rest")
            self.config_path.write_text(_config_text(self.directory, kube, bigip, fortigate, rest)
                                        + _flows_text(self.syslog_port, self.flow_senders))
            self.env_path.write_text("".join(f"export {k}={v}\n" for k, v in self.exports().items()))
            self.env_path.chmod(0o600)
            self.kubeconfig_path.write_text(_kubeconfig_text(kube))
            self._config = load_config(self.config_path)
            self._seed_fortigate(fortigate)
        except BaseException:
            self.stop()
            raise
        log.info("demo environment in %s: kubernetes %s, devices %s", self.directory, kube,
                 ", ".join(f"{e.name} {e.url}" for e in self.endpoints[1:]))
        return self

    def _syslog_target(self, device: str, transport: str) -> SyslogTarget | None:
        """Where `device`'s mock sends its traffic logs (`--syslog`), None when it sends none."""
        if device not in self.flow_senders:
            return None
        return SyslogTarget(transport, self.host, self.syslog_port, self.flow_senders[device][0])

    def push_flows_to(self, listener: str) -> None:
        """Point the REST mock's flow push (`--flows`) at the controller listening on `listener`."""
        if self._rest is None:
            raise DemoError("the demo environment is not started")
        answer = httpx.post(f"{self.url_of(REST)}/_mock/flows", timeout=10, trust_env=False, json={
            "target": f"{listener}/v1/flows?device={REST}", "token": self.environment[FLOWS_TOKEN_ENV]})
        if answer.status_code != 200:
            raise DemoError(f"REST mock refused the flow push target: HTTP {answer.status_code}")

    def url_of(self, name: str) -> str:
        """The URL of the mock named `name` (a device name or `kubernetes`)."""
        return next(e.url for e in self.endpoints if e.name == name)

    def _serve(self, app: MockApp, name: str, kind: str) -> str:
        server = HttpServer(app, self.host, 0).start()
        self._servers.append(server)
        self.endpoints.append(Endpoint(name, kind, server.url))
        return server.url

    def stop(self) -> None:
        for server in reversed(self._servers):
            server.stop()
        self._servers.clear()
        if self.directory != Path() and self.directory.exists():
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> DemoEnvironment:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- what the commands need -----------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.directory / CONFIG_FILE

    @property
    def env_path(self) -> Path:
        return self.directory / "demo.env"

    @property
    def kubeconfig_path(self) -> Path:
        return self.directory / KUBECONFIG_FILE

    @property
    def config(self) -> Config:
        if self._config is None:
            raise DemoError("the demo environment is not started")
        return self._config

    def exports(self) -> dict[str, str]:
        """The variables another shell needs: the directory (`FC_DEMO`), KUBECONFIG (so that
        kubectl needs no flag), the credentials, and NO_PROXY when a proxy is set."""
        return {DIRECTORY_ENV: str(self.directory), "KUBECONFIG": str(self.kubeconfig_path),
                **self.environment, **({"NO_PROXY": self.no_proxy} if self.no_proxy else {})}

    @property
    def secrets(self) -> Secrets:
        return Secrets(dict(self.environment))

    def api_client(self) -> k8s_client.ApiClient:
        return build_api_client(self.config.kubernetes, self.secrets)

    def _seed_fortigate(self, url: str) -> None:
        token = self.environment[ENV_NAMES[FORTIGATE]]
        try:
            answer = httpx.post(f"{url}/api/v2/cmdb/firewall/policy", params={"vdom": "root"},
                                json=FOREIGN_POLICY, headers={"Authorization": f"Bearer {token}"}, timeout=10,
                                trust_env=False)
        except httpx.HTTPError as exc:
            raise DemoError(f"cannot reach the FortiGate mock at {url}: {exc}") from exc
        if answer.status_code != 200:
            raise DemoError(f"FortiGate mock refused the firewall team's policy: HTTP {answer.status_code}")

    # --- loading the example ----------------------------------------------------------------------
    def load(self, objects: list[Obj], timeout: float = 10.0) -> StaticView:
        """Create `objects` through the API server, wait until every pod has an address and every
        Service's EndpointSlices list its pods, and return a snapshot of the cluster."""
        with self.api_client() as api:
            ManifestApplier(api).apply_all(objects)
            deadline = time.monotonic() + timeout
            while True:
                view = list_all(api)
                waiting = unsettled(view)
                if not waiting:
                    return view
                if time.monotonic() > deadline:
                    raise DemoError(f"the mock cluster did not settle in {timeout:.0f}s: {waiting}")
                time.sleep(0.05)


def unsettled(view: StaticView) -> str:
    """"" when every pod has an IP and every Service's EndpointSlices hold its pods' IPs; else
    what is still missing."""
    pods = view.list(Kind.POD)
    for pod in pods:
        if not read_pod(pod).ips:
            return f"pod {pod['metadata']['namespace']}/{pod['metadata']['name']} has no IP yet"
    for service in view.list(Kind.SERVICE):
        namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
        selector: dict[str, str] = (service.get("spec") or {}).get("selector") or {}
        if not selector:
            continue
        wanted = {ip for pod in pods if pod["metadata"]["namespace"] == namespace
                  and selector.items() <= ((pod["metadata"].get("labels") or {}).items())
                  for ip in read_pod(pod).ips}
        held = {address for item in view.list(Kind.ENDPOINT_SLICE, namespace)
                for address in read_slice(item).addresses if read_slice(item).service == name}
        if not wanted <= held:
            return f"the EndpointSlices of Service {namespace}/{name} are not complete yet"
    return ""
