"""Property: on BIG-IP (AS3), an event-driven sync against the known state plans what a full read +
render + diff plans, and leaves the mock holding what a full sync leaves it holding, deciding (AFM
semantics) like the model, after every event of random cluster event sequences
(`tests.adapters.delta.replay`)."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import given, settings

from adapters.f5 import AS3Adapter
from connector.config import Secrets
from connector.evaluate import Probe
from connector.model import CompiledRule, DeviceState
from mocks.bigip import BigIpApp
from mocks.common.http import App
from tests.adapters.delta import Family, InProcess, Verdict, replay
from tests.adapters.f5.afm_evaluator import Declaration, verdict
from tests.adapters.f5.conftest import CLUSTER, FAST, make_config
from tests.adapters.strategies import ClusterEvent, cluster_events

CONFIG = make_config("http://bigip.test")
TENANT = CONFIG.tenant_for(CLUSTER)


def _open(app: App) -> AS3Adapter:
    return AS3Adapter(CONFIG, CLUSTER, Secrets({"BIGIP_PASSWORD": "admin"}), InProcess(app), retry=FAST,
                      poll_interval=0.001)


def _holds(app: App) -> dict[str, Any] | None:
    """The tenant's declaration as `GET .../declare/<tenant>` returns it (None: no tenant)."""
    with httpx.Client(base_url=CONFIG.url, transport=InProcess(app), auth=("admin", "admin")) as http:
        response = http.get(f"/mgmt/shared/appsvcs/declare/{TENANT}")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    body: dict[str, Any] = response.json()[TENANT]
    return body


def _verdict(body: dict[str, Any] | None, probe: Probe) -> Verdict:
    return (verdict(Declaration(TENANT, body).decide(probe)) if body is not None else None,)


def _expected(state: DeviceState, rule: CompiledRule | None) -> Verdict:
    return (rule.action.value if rule is not None else None,)


BIGIP = Family(device=CONFIG.name, capabilities=AS3Adapter.capabilities,
               new_device=lambda: BigIpApp(processing_ms=0), open=_open, holds=_holds, verdict=_verdict,
               expected=_expected)


@settings(max_examples=20, deadline=None)
@given(cluster_events())
def test_event_driven_syncs_equal_full_syncs(events: list[ClusterEvent]) -> None:
    replay(BIGIP, events)
