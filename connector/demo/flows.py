"""The demo's flows: traffic through each mock firewall once the controller runs, a pod's address
given to a new pod in between, and the records the controller attributed, read from the store.

Contract: `run_flows(environment, progress)` needs the controller running in process (it receives
the logs, follows the pods and writes the address timeline). Once the controller has recorded
every device's rules, it sends the flows of `PLAN_BEFORE` through the mocks (`POST
/_mock/traffic`), deletes `REUSED_POD` and creates `NEW_POD` holding the same addresses (the kube
mock keeps a status given at creation), waits until the controller has seen the change, sends
`PLAN_AFTER` (with a late log of a flow of the first round), and returns the records of every
flow the devices logged (or why some did not arrive in `timeout` seconds). Raises `DemoError`
when the cluster cannot be changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connector.demo.environment import BIGIP, CLOCK_SKEW, FORTIGATE, REST, DemoEnvironment, DemoError
from connector.flows.record import FlowRecord, rfc3339
from connector.store import create_engine, session_factory
from connector.store.flow_records import FlowFilter, FlowRecordRepository
from connector.store.rule_map import DeviceRuleMap
from connector.store.timeline import AddressTimeline

REUSED_POD = ("payments", "checkout-7d4b9c6f5-tq4ld")
NEW_POD = "checkout-7d4b9c6f5-wx5vn"
STRIPE, THREAT = "198.51.100.10", "203.0.113.50"


@dataclass(frozen=True)
class Send:
    """A flow to send: through `device`, from `source` (`NS/POD` or an address), to dst:port/TCP.
    `late`: a flow of the first round whose log the device sends only now (its time is the first
    round's; its source the reused address)."""

    device: str
    source: str
    dst: str
    port: int = 443
    count: int = 1
    late: bool = False


PLAN_BEFORE = (
    Send(FORTIGATE, "payments/checkout-7d4b9c6f5-tq4ld", STRIPE, count=3),
    Send(FORTIGATE, "payments/ledger-export-28934120-vb6kx", STRIPE),
    Send(BIGIP, "payments/checkout-7d4b9c6f5-9mz7w", STRIPE, count=2),
    Send(BIGIP, "payments/checkout-7d4b9c6f5-9mz7w", THREAT),
    Send(REST, "192.0.2.10", "192.0.2.130"),          # billing's egress IP to the tax authority
    Send(REST, "192.0.2.10", THREAT),
)
PLAN_AFTER = (
    Send(FORTIGATE, f"payments/{NEW_POD}", STRIPE),
    Send(FORTIGATE, f"payments/{NEW_POD}", THREAT),
    Send(FORTIGATE, "/".join(REUSED_POD), "198.51.100.11", late=True),
)


@dataclass(frozen=True)
class Sent:
    send: Send
    src: str
    action: str  # the device's answer
    logged: int  # flows the device logged (sent as syslog or pushed)


@dataclass
class FlowsRun:
    sent: list[Sent] = field(default_factory=list)
    records: list[FlowRecord] = field(default_factory=list)
    address: str = ""  # the reused address
    reused_at: datetime | None = None
    problem: str = ""  # why records are missing, when some are

    @property
    def expected(self) -> int:
        return sum(s.logged for s in self.sent)


def _now() -> datetime:
    return datetime.now(UTC)


class _Kube:
    """The mock API server's pods, as raw JSON (the demo's own cluster, no credentials)."""

    def __init__(self, environment: DemoEnvironment) -> None:
        self.http = httpx.Client(base_url=environment.url_of("kubernetes"), timeout=10, trust_env=False)

    def pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        answer = self.http.get(f"/api/v1/namespaces/{namespace}/pods/{name}")
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        return found

    def addresses(self, namespace: str, name: str) -> list[str]:
        pod = self.pod(namespace, name)
        if pod is None:
            raise DemoError(f"pod {namespace}/{name} does not exist")
        status = pod.get("status") or {}
        return [str(e["ip"]) for e in status.get("podIPs") or []] or [str(status.get("podIP"))]

    def replace(self, namespace: str, name: str, new: str, addresses: list[str]) -> None:
        """Delete pod `name`, then create `new` already running with `addresses`."""
        old = self.pod(namespace, name)
        if old is None:
            raise DemoError(f"pod {namespace}/{name} does not exist")
        self.http.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/{name}",
                          json={"gracePeriodSeconds": 0}).raise_for_status()
        if not _wait(lambda: self.pod(namespace, name) is None, 10):
            raise DemoError(f"pod {namespace}/{name} was not deleted within 10s")
        spec = old.get("spec") or {}
        labels = old["metadata"].get("labels") or {}
        status = {"phase": "Running", "podIP": addresses[0], "podIPs": [{"ip": a} for a in addresses],
                  "conditions": [{"type": "Ready", "status": "True"}]}
        body = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": new, "namespace": namespace, "labels": labels},
                "spec": {"nodeName": spec.get("nodeName"), "containers": spec.get("containers") or []},
                "status": status}
        answer = self.http.post(f"/api/v1/namespaces/{namespace}/pods", json=body)
        if answer.status_code != 201:
            raise DemoError(f"creating pod {namespace}/{new}: HTTP {answer.status_code} {answer.text[:200]}")

    def close(self) -> None:
        self.http.close()


class _Owner:
    """Which pod the controller's address timeline gives an address now."""

    def __init__(self, environment: DemoEnvironment) -> None:
        self.database = environment.config.database
        self.cluster = environment.config.cluster

    def __call__(self, address: str) -> str | None:
        engine = create_engine(self.database)
        try:
            with session_factory(engine)() as session:
                found = AddressTimeline(session, self.cluster).at(address, _now(), 0.0).identity
        finally:
            engine.dispose()
        return None if found is None else found.pod or found.node or found.namespace

    def mapped(self) -> set[str]:
        """The devices whose rules the controller has recorded in the device-rule map."""
        engine = create_engine(self.database)
        try:
            with session_factory(engine)() as session:
                return set(DeviceRuleMap(session, self.cluster).devices())
        finally:
            engine.dispose()


def _next_second() -> None:
    """Sleep into the next whole second: a device logging whole seconds (BIG-IP's `date_time`)
    then logs a flow no earlier than what the controller recorded before the call."""
    time.sleep(1.05 - _now().microsecond / 1_000_000)


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _send(environment: DemoEnvironment, kube: _Kube, send: Send, run: FlowsRun, first: datetime) -> Sent:
    if send.late:
        src = run.address
    elif "/" in send.source:
        namespace, name = send.source.split("/", 1)
        src = next(a for a in kube.addresses(namespace, name) if ":" not in a)
    else:
        src = send.source
    body: dict[str, Any] = {"src": src, "srcPort": 41000, "dst": send.dst, "dstPort": send.port,
                            "protocol": "TCP", "count": send.count}
    if send.late:
        body["time"] = rfc3339(first)
    answer = httpx.post(f"{environment.url_of(send.device)}/_mock/traffic", json=body, timeout=10,
                        trust_env=False)
    if answer.status_code != 200:
        raise DemoError(f"{send.device} mock refused the traffic: HTTP {answer.status_code} {answer.text}")
    data = answer.json()
    return Sent(send, src, str(data.get("action")), int(data.get("logged", data.get("pushed", 0)) or 0))


def _records(environment: DemoEnvironment, since: datetime) -> list[FlowRecord]:
    engine = create_engine(environment.config.database)
    try:
        with session_factory(engine)() as session:
            found = FlowRecordRepository(session, environment.config.cluster).query(FlowFilter(since=since))
    finally:
        engine.dispose()
    return sorted(found, key=lambda r: (r.line.time, r.line.device))


def run_flows(environment: DemoEnvironment, progress: Callable[[str], None] = lambda _: None,
              timeout: float = 15.0) -> FlowsRun:
    """See the module docstring."""
    run = FlowsRun()
    owner = _Owner(environment)
    start = _now() - timedelta(minutes=1)  # devices log times to the second (BIG-IP): no flow is cut
    kube = _Kube(environment)
    try:
        namespace, name = REUSED_POD
        addresses = kube.addresses(namespace, name)
        run.address = next(a for a in addresses if ":" not in a)
        # the pods' intervals start when the pods did, before the controller: no wait for the
        # timeline; the device-rule map starts at the first sync (after the timeline's first write)
        progress("waiting for the controller to record the devices' rules")
        devices = {d.name for d in environment.config.devices}
        if not _wait(lambda: owner.mapped() >= devices, timeout):
            run.problem = f"the controller did not record every device's rules within {timeout:.0f}s"
            return run
        _next_second()
        progress("sending flows through each firewall")
        first = _now()
        run.sent.extend(_send(environment, kube, send, run, first) for send in PLAN_BEFORE)
        time.sleep(CLOCK_SKEW + 0.2)  # the reuse comes later than the clock skew allows for
        progress(f"giving {name}'s address to a new pod")
        kube.replace(namespace, name, NEW_POD, addresses)
        if not _wait(lambda: owner(run.address) == NEW_POD, timeout):
            run.problem = f"the controller did not see {NEW_POD} take {run.address} within {timeout:.0f}s"
            return run
        run.reused_at = _now()
        time.sleep(CLOCK_SKEW)
        _next_second()
        run.sent.extend(_send(environment, kube, send, run, first) for send in PLAN_AFTER)
    except httpx.HTTPError as exc:
        raise DemoError(f"changing the mock cluster: {exc}") from exc
    finally:
        kube.close()
    progress("waiting for the flow records")
    _wait(lambda: sum(r.count for r in _records(environment, start)) >= run.expected, timeout)
    run.records = _records(environment, start)
    got = sum(r.count for r in run.records)
    if got < run.expected:
        run.problem = (f"{got} of the {run.expected} flows the devices logged were recorded "
                       f"within {timeout:.0f}s")
    return run
