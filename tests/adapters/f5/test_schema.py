"""Every declaration the adapter emits validates against the real AS3 3.56 JSON schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from adapters.f5 import AS3Adapter
from adapters.f5.declaration import as3_request
from connector.config import Secrets
from connector.model import DeviceState
from tests.adapters.f5.conftest import CLUSTER, make_config
from tests.adapters.f5.scenarios import basic_state, with_empty_group
from tests.adapters.f5.unions import union_state, union_states
from tests.adapters.strategies import device_states

REPO = Path(__file__).resolve().parents[3]
SCHEMA = REPO.parent / "shared" / "vendor" / "as3" / "as3-schema-3.56.0-10.json"

# F5's schema is vendor reference data kept beside the checkout (../shared/vendor/as3), never in it.
pytestmark = pytest.mark.skipif(
    not SCHEMA.is_file(), reason=f"needs F5's AS3 3.56 JSON schema at {SCHEMA} (vendor reference data, kept"
    " beside the checkout, never in the repository)")


@pytest.fixture(scope="module")
def validator() -> Any:
    from jsonschema import Draft7Validator

    return Draft7Validator(json.loads(SCHEMA.read_text()))


ATTACHES: list[dict[str, Any]] = [
    {},
    {"virtualServer": {"address": "0.0.0.0", "gateways": ["192.0.2.1", "192.0.2.2"], "port": 0}},
    {"virtualServer": {"address": "::"}},
    {"routeDomain": "/Common/0"},
]


def declaration(state: DeviceState, attach: dict[str, Any]) -> dict[str, Any]:
    adapter = AS3Adapter(make_config("https://bigip.example", **attach), CLUSTER,
                         Secrets({"BIGIP_PASSWORD": "x"}))
    return as3_request(adapter.declaration(adapter.render(state)))


def errors(validator: Any, body: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(body)]


@pytest.mark.parametrize("attach", ATTACHES, ids=["default", "gateways", "ipv6-vs", "route-domain"])
def test_fixed_scenarios_validate(validator: Any, attach: dict[str, Any]) -> None:
    for state in (basic_state(), with_empty_group(basic_state())):
        assert errors(validator, declaration(state, attach)) == []


def test_schema_rejects_what_the_mock_rejects(validator: Any) -> None:
    body = declaration(basic_state(), {})
    body["declaration"]["fc_c1"]["Shared"]["src_shop"]["addresses"] = []
    assert errors(validator, body) != []


@settings(max_examples=30, deadline=None)
@given(device_states())
def test_generated_states_validate(validator: Any, state: DeviceState) -> None:
    assert errors(validator, declaration(state, {})) == []


@settings(max_examples=30, deadline=None)
@given(union_states())
def test_union_states_validate(validator: Any, state: DeviceState) -> None:
    assert errors(validator, declaration(state, {})) == []
    assert errors(validator, json.loads(request_body(state))) == []


def test_union_scenario_validates(validator: Any) -> None:
    body = declaration(union_state(), {})
    assert body["declaration"]["fc_c1"]["Shared"]["src_cluster_block-tor_union"]["addressLists"]
    assert errors(validator, body) == []


def request_body(state: DeviceState) -> bytes:
    adapter = AS3Adapter(make_config("https://bigip.example"), CLUSTER, Secrets({"BIGIP_PASSWORD": "x"}))
    return adapter.request_body(adapter.render(state))
