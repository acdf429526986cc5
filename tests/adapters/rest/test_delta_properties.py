"""Property: on a REST receiver, an event-driven sync against the known state plans what a full
read + render + diff plans, and leaves the mock holding what a full sync leaves it holding,
deciding (the protocol's rule semantics) like the model, after every event of random cluster event
sequences (`tests.adapters.delta.replay`); with and without the optional protocol features (group
references, member changes)."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base.naming import rule_name
from adapters.rest import RestAdapter
from adapters.rest.objects import NAME_RULES
from connector.evaluate import Probe
from connector.model import CompiledRule, DeviceState
from mocks.common.http import App
from mocks.rest import RestMock
from mocks.rest.app import MEDIA_TYPE
from mocks.rest.state import FEATURES
from tests.adapters.delta import Family, InProcess, Verdict, replay
from tests.adapters.rest import evaluator
from tests.adapters.rest.conftest import FAST_RETRY, TOKEN, make_adapter
from tests.adapters.rest.test_conformance import resolved
from tests.adapters.strategies import ClusterEvent, cluster_events

URL = "http://receiver.test"


def _open(app: App) -> RestAdapter:
    return make_adapter(URL, retry=FAST_RETRY, transport=InProcess(app))


def _holds(app: App) -> dict[str, Any]:
    """`GET /state` without its revision (a count of the change sets taken)."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": MEDIA_TYPE}
    with httpx.Client(base_url=URL, transport=InProcess(app), headers=headers) as http:
        response = http.get("/state")
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    document.pop("revision", None)
    return document


def _verdict(document: dict[str, Any], probe: Probe) -> Verdict:
    rule = evaluator.decide(resolved(document), probe)
    return None if rule is None else (rule["name"], rule["action"], rule["log"])


def _expected(state: DeviceState, rule: CompiledRule | None) -> Verdict:
    if rule is None:
        return None
    return (rule_name(state.cluster, rule, NAME_RULES), rule.action.value.lower(), rule.logging)


def receiver(features: frozenset[str]) -> Family:
    return Family(device="soc", capabilities=RestAdapter.capabilities,
                  new_device=lambda: RestMock(token=TOKEN, features=features), open=_open, holds=_holds,
                  verdict=_verdict, expected=_expected)


@settings(max_examples=25, deadline=None)
@given(cluster_events(), st.sampled_from((frozenset(FEATURES), frozenset())))
def test_event_driven_syncs_equal_full_syncs(events: list[ClusterEvent], features: frozenset[str]) -> None:
    replay(receiver(features), events)
