"""Withheld deletions on the three device families (in-process FortiGate, BIG-IP and REST mocks):
the rest of the plan is applied, every object left holds no address, the device decides like the
desired state, and the known state is exactly what the device holds, so that the next
event-driven sync plans as a read would."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.f5 import AS3Adapter
from adapters.f5.config import F5Device
from adapters.fortios import FortiOSAdapter
from adapters.fortios.config import FortiOSDevice
from adapters.rest import RestAdapter
from adapters.rest.config import RestDevice
from connector.adapter import Adapter
from connector.cluster import StaticView
from connector.compiler import CompileSettings, compile_cluster
from connector.config import Secrets
from connector.evaluate import Probe, decide
from connector.model import DeviceState
from connector.planner import DeviceObject, Op, SafetyThresholds
from connector.reconciler.device import DeviceOutcome, Refusal, sync_device
from connector.reconciler.known import KnownState
from mocks.bigip import BigIpApp
from mocks.common.app import MockApp
from mocks.common.http import HttpServer
from mocks.fortigate import FortigateMock
from mocks.rest import RestMock
from tests.adapters.f5.afm_evaluator import Declaration, verdict
from tests.adapters.fortios.conftest import FAST_RETRY
from tests.adapters.fortios.policy_evaluator import FortiGateEvaluator, fetch_tables
from tests.adapters.rest import evaluator as rest_evaluator
from tests.adapters.rest.test_conformance import resolved
from tests.adapters.strategies import device_states, probes
from tests.connector.compiler.builders import external_service, namespace, namespace_rule, pod

TOKEN = "test-token"
STRICT = SafetyThresholds(max_delete_percent=0, max_update_percent=100, min_existing=0)


@dataclass
class Family:
    """One device family: its mock, a fresh adapter on it, and its decision for a probe (with the
    name of the deciding rule)."""

    type: str
    app: MockApp
    url: str

    def adapter(self, cluster: str = "c1") -> Adapter:
        self.app.reset()
        if self.type == "fortios":
            config = FortiOSDevice.model_validate({"name": "dev", "type": "fortios", "url": self.url,
                                                   "auth": {"tokenEnv": "T"}, "srcintf": ["port2"],
                                                   "dstintf": ["port1"]})
            return FortiOSAdapter(config, cluster, Secrets({"T": TOKEN}), retry=FAST_RETRY)
        if self.type == "f5-as3":
            f5 = F5Device.model_validate({"name": "dev", "type": "f5-as3", "url": self.url,
                                          "auth": {"username": "admin", "passwordEnv": "P"}})
            return AS3Adapter(f5, cluster, Secrets({"P": "admin"}), retry=FAST_RETRY, poll_interval=0.005)
        rest = RestDevice.model_validate({"name": "dev", "type": "rest", "url": self.url,
                                          "auth": {"tokenEnv": "T"}})
        return RestAdapter(rest, cluster, Secrets({"T": TOKEN}), retry=FAST_RETRY)

    def decider(self, adapter: Adapter) -> Callable[[Probe], tuple[str | None, str | None]]:
        """The device's decision for a probe, over its tables as they are now (read once)."""
        if isinstance(adapter, FortiOSAdapter):
            evaluator = FortiGateEvaluator(fetch_tables(self.url, TOKEN))

            def fortigate(probe: Probe) -> tuple[str | None, str | None]:
                found = evaluator.decide(probe)
                return {"accept": "Allow", "deny": "Deny", None: None}[found.action], found.policy
            return fortigate
        if isinstance(adapter, AS3Adapter):
            body = adapter.client.get_tenant(adapter.tenant)
            declaration = Declaration(adapter.tenant, body) if body is not None else None

            def bigip(probe: Probe) -> tuple[str | None, str | None]:
                rule = declaration.decide(probe) if declaration is not None else None
                return verdict(rule), rule["name"] if rule is not None else None
            return bigip
        assert isinstance(adapter, RestAdapter)
        document = resolved(adapter.http.request("GET", "/state").json())

        def rest(probe: Probe) -> tuple[str | None, str | None]:
            found = rest_evaluator.decide(document, probe)
            return (found["action"].capitalize(), found["name"]) if found is not None else (None, None)
        return rest


@pytest.fixture(scope="module", params=["fortios", "f5-as3", "rest"])
def family(request: pytest.FixtureRequest) -> Iterator[Family]:
    makers: dict[str, Callable[[], MockApp]] = {
        "fortios": lambda: FortigateMock(token=TOKEN), "f5-as3": lambda: BigIpApp(processing_ms=0),
        "rest": lambda: RestMock(token=TOKEN)}
    app = makers[request.param]()
    server = HttpServer(app).start()
    yield Family(request.param, app, server.url)
    server.stop()


def comparable(objects: list[DeviceObject], mark: str) -> dict[tuple[str, str], tuple[str, str | None]]:
    """Our objects and the foreign ones, by ref, as (canonical body, owner)."""
    return {o.ref: (json.dumps(dict(o.body), sort_keys=True, default=str), o.owner) for o in objects}


def assert_known_is_held(adapter: Adapter, known: KnownState) -> None:
    """The known state holds exactly what a read returns (our ordered objects in the same order)."""
    holdings, token = known.take_holdings()
    assert holdings is not None, "the sync left the device unknown"
    try:
        read = adapter.read()
        assert comparable(list(holdings.objects), adapter.owner_mark) == comparable(read, adapter.owner_mark)
        for kind in adapter.ordered_kinds:
            desired = {o.name for o in holdings.desired or () if o.kind == kind}
            assert [o.name for o in holdings.objects if o.name in desired and o.kind == kind] == \
                [o.name for o in read if o.name in desired and o.kind == kind]
    finally:
        known.remember(holdings, token)


def assert_nothing_left_holds_an_address(adapter: Adapter, state: DeviceState,
                                         outcome: DeviceOutcome) -> None:
    rendered = {o.ref: o for o in adapter.render(state)}
    for obj in adapter.read():
        if obj.owner != adapter.owner_mark:
            continue
        if obj.ref in rendered:
            assert json.dumps(dict(obj.body), sort_keys=True) == json.dumps(dict(rendered[obj.ref].body),
                                                                            sort_keys=True), obj.ref
        else:
            assert obj.ref in {(c.kind, c.name) for c in outcome.plan.withheld} if outcome.plan else False
            assert dict(adapter.emptied(obj.kind, obj.body)) == dict(obj.body), f"{obj.ref} not emptied"


def assert_decides_like(family: Family, adapter: Adapter, state: DeviceState, probes: list[Probe],
                        withheld: set[str]) -> None:
    device_decides = family.decider(adapter)
    for probe in probes:
        expected = decide(state, probe)
        action, rule = device_decides(probe)
        if not adapter.capabilities.ipv6 and (_v6(probe.source) or _v6(probe.destination)):
            assert action is None, (probe, rule)  # a family without IPv6 never widens to it
            continue
        if _v6(probe.source) != _v6(probe.destination) and _is_ip(probe.destination):
            continue  # no packet goes from one IP version to the other (FortiOS matches per family)
        if rule in withheld:  # a withheld REST rule keeps deciding, over groups of current members
            assert family.type == "rest", (probe, rule)
            continue
        assert action == (expected.action.value if expected else None), (probe, expected, action, rule)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _v6(value: str) -> bool:
    try:
        return ipaddress.ip_address(value).version == 6
    except ValueError:
        return False


# --- a compiled cluster: namespaces deleted while nobody watched --------------------------------
def cluster(deleted: tuple[str, ...] = (), reused: bool = False) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for i in range(5):
        name = f"t{i}"
        if name in deleted:
            continue
        objects += [namespace(name), external_service(name, "db", [f"10.96.{i}.5/32"],
                                                      [{"port": 5432, "protocol": "TCP"}]),
                    namespace_rule(name, "allow-db", "Allow", externalServices=["db"])]
        objects += [pod(name, f"p{k}", f"10.244.{k}.{i + 1}") for k in range(4)]
    if reused:  # t4's new pods on the addresses t0 and t1 left
        objects += [pod("t4", f"n{k}", f"10.244.{k}.{i}") for k in range(4) for i in (1, 2)]
    return objects


def compiled(family: Family, adapter: Adapter, objects: list[dict[str, Any]]) -> DeviceState:
    settings = CompileSettings(cluster=adapter.cluster, devices=(("dev", type(adapter).capabilities),))
    return compile_cluster(StaticView(objects), settings).devices["dev"]


def cluster_probes() -> list[Probe]:
    sources = [f"10.244.{k}.{i}" for k in (0, 3) for i in range(1, 7)]
    return [Probe(src, f"10.96.{i}.5", 5432) for src in sources for i in range(5)]


def withheld_names(outcome: DeviceOutcome) -> set[str]:
    return {c.name for c in outcome.plan.withheld} if outcome.plan is not None else set()


def test_withheld_deletions_leave_a_known_state_that_is_what_the_device_holds(family: Family) -> None:
    adapter, known = family.adapter(), KnownState()
    with adapter:
        before = compiled(family, adapter, cluster())
        assert sync_device(adapter, before, STRICT, apply=True, known=known).ok
        after = compiled(family, adapter, cluster(deleted=("t0", "t1"), reused=True))
        outcome = sync_device(adapter, after, STRICT, apply=True, known=known, read=False, vanished=2)
        assert outcome.refusal is Refusal.UNSAFE and outcome.applied and outcome.error is None
        assert outcome.plan is not None and outcome.plan.withheld
        assert_known_is_held(adapter, known)
        assert_nothing_left_holds_an_address(adapter, after, outcome)
        assert_decides_like(family, adapter, after, cluster_probes(), withheld_names(outcome))
        # the next event-driven sync plans what a read would: nothing but the withheld deletions
        again = sync_device(adapter, after, STRICT, apply=True, known=known, read=False)
        read = sync_device(adapter, after, STRICT, apply=False, read=True)
        assert again.plan is not None and read.plan is not None and not again.read
        assert again.plan.changes == read.plan.changes == ()
        assert again.plan.withheld == read.plan.withheld


def test_a_view_that_comes_back_fills_the_withheld_objects_again(family: Family) -> None:
    adapter, known = family.adapter(), KnownState()
    with adapter:
        before = compiled(family, adapter, cluster())
        assert sync_device(adapter, before, STRICT, apply=True, known=known).ok
        partial = compiled(family, adapter, cluster(deleted=("t0", "t1")))
        assert sync_device(adapter, partial, STRICT, apply=True, known=known, read=False, vanished=2).refused
        # the relist glitch is over: t0 and t1 are listed again
        outcome = sync_device(adapter, before, STRICT, apply=True, known=known, read=False)
        assert outcome.ok and outcome.plan is not None and not outcome.read
        assert not [c for c in outcome.plan.changes if c.op is Op.CREATE]
        assert_known_is_held(adapter, known)
        assert_decides_like(family, adapter, before, cluster_probes(), set())
        # forced, withheld deletions go
        assert sync_device(adapter, partial, STRICT, apply=True, known=known, read=False, vanished=1).refused
        forced = sync_device(adapter, partial, STRICT, apply=True, force=True, known=known, read=False)
        assert forced.ok and forced.plan is not None and forced.plan.counts()["delete"]
        assert_known_is_held(adapter, known)
        assert not known.take_holdings()[0].withheld  # type: ignore[union-attr]


def test_deletions_confirmed_by_the_api_are_applied(family: Family) -> None:
    adapter, known = family.adapter(), KnownState()
    with adapter:
        assert sync_device(adapter, compiled(family, adapter, cluster()), STRICT, apply=True, known=known).ok
        after = compiled(family, adapter, cluster(deleted=("t0", "t1", "t2", "t3"), reused=True))
        outcome = sync_device(adapter, after, STRICT, apply=True, known=known, read=False)
        assert outcome.ok and outcome.plan is not None and not outcome.withheld
        assert outcome.plan.counts()["delete"]
        assert_known_is_held(adapter, known)
        assert_decides_like(family, adapter, after, cluster_probes(), set())


# --- property: any change of state, with nothing confirmed --------------------------------------
@st.composite
def changes(draw: st.DrawFn) -> tuple[DeviceState, DeviceState, list[Probe]]:
    before, after = draw(device_states()), draw(device_states())
    return before, after, draw(st.lists(probes(after), min_size=1, max_size=20))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(changes())
def test_whatever_is_withheld_no_object_left_holds_an_address(
        family: Family, change: tuple[DeviceState, DeviceState, list[Probe]]) -> None:
    before, after, checks = change
    adapter, known = family.adapter(), KnownState()
    with adapter:
        first = sync_device(adapter, before, STRICT, apply=True, known=known)
        assert first.ok, first.error
        outcome = sync_device(adapter, after, STRICT, apply=True, known=known, read=False, vanished=1)
        assert outcome.error is None, outcome.error
        assert outcome.refused == bool(outcome.plan and outcome.plan.withheld)
        assert_known_is_held(adapter, known)
        assert_nothing_left_holds_an_address(adapter, after, outcome)
        assert_decides_like(family, adapter, after, checks, withheld_names(outcome))
