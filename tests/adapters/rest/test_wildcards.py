"""Wildcard names (`*.example.com`) on the REST receiver: compiled for a receiver configured
`wildcardFqdn: true`, sent when it advertises `wildcardFqdn` in `GET /`, refused with a message
naming the device and the ExternalService when it does not; the mock receiver refuses them
without the feature and decides names it covers (one or more labels, never the domain)."""

from __future__ import annotations

import dataclasses

import pytest

from adapters.offline import offline_secrets, offline_transport
from adapters.rest import RestAdapter
from adapters.rest.config import RestDevice
from connector.adapter import PermanentDeviceError
from connector.model import DeviceState
from mocks.common.http import HttpServer
from mocks.rest import RestMock
from mocks.rest.state import FEATURES, ChangeError, validate_object
from tests.adapters.rest.conftest import Receiver, make_adapter, sync
from tests.adapters.rest.scenarios import payments_state

WILDCARD = "*.stripe.example.com"


def wildcard_state() -> DeviceState:
    state = payments_state()
    stripe = state.destinations["es/payments/stripe"]
    widened = dataclasses.replace(stripe, fqdns=(*stripe.fqdns, WILDCARD))
    return dataclasses.replace(state, destinations={**state.destinations, stripe.key: widened})


def device(**extra: object) -> RestDevice:
    return RestDevice.model_validate({"name": "soc", "type": "rest", "url": "http://127.0.0.1:1", **extra})


def test_wildcards_are_compiled_only_for_a_receiver_configured_for_them() -> None:
    assert not RestAdapter.configured_capabilities(device()).wildcard_fqdn
    assert RestAdapter.configured_capabilities(device(wildcardFqdn=True)).wildcard_fqdn
    assert RestAdapter.configured_capabilities(device(wildcardFqdn=True)).fqdn


def test_an_advertising_receiver_holds_and_decides_the_wildcard(receiver: Receiver) -> None:
    with make_adapter(receiver.url) as adapter:
        assert adapter.device_capabilities().wildcard_fqdn
        sync(adapter, wildcard_state())
    [stripe] = [a for a in receiver.state()["addresses"] if "api.stripe.com" in a["fqdns"]]
    assert sorted(stripe["fqdns"]) == sorted(["api.stripe.com", WILDCARD])
    for name, rule in (("eu.stripe.example.com", "allow"), ("a.b.stripe.example.com", "allow"),
                       ("stripe.example.com", "deny")):
        answer = receiver.client.post("/_mock/traffic", json={
            "src": "10.0.0.1", "srcPort": 40000, "dst": "192.0.2.9", "dstPort": 443, "protocol": "TCP",
            "dstName": name})
        assert answer.status_code == 200, answer.text
        assert answer.json()["action"] == rule, name


def test_a_receiver_that_does_not_advertise_wildcards_is_refused_by_name() -> None:
    app = RestMock(token="test-token", features=[f for f in FEATURES if f != "wildcardFqdn"])
    with HttpServer(app) as server, make_adapter(server.url) as adapter:
        assert not adapter.device_capabilities().wildcard_fqdn
        with pytest.raises(PermanentDeviceError) as refused:
            adapter.render(wildcard_state())
        sync(adapter, payments_state())  # without wildcards it is served as before
    assert "wildcardFqdn is configured but GET / does not advertise it" in str(refused.value)
    assert f"ExternalService payments/stripe: {WILDCARD}" in str(refused.value)
    assert "soc" in str(refused.value)


@pytest.mark.parametrize("name", ["*.example.com", "*.a-1.example.co.uk"])
def test_the_mock_accepts_wildcards_only_with_the_feature(name: str) -> None:
    body = {"name": "a", "networks": [], "fqdns": [name]}
    assert validate_object("address", body)["fqdns"] == [name]
    with pytest.raises(ChangeError, match="is not a domain name"):
        validate_object("address", body, wildcard_fqdn=False)


@pytest.mark.parametrize("name", ["*", "*.", "a.*.example.com", "**.example.com"])
def test_the_mock_refuses_other_wildcards(name: str) -> None:
    with pytest.raises(ChangeError, match="is not a domain name"):
        validate_object("address", {"name": "a", "networks": [], "fqdns": [name]})



def test_offline_the_configuration_decides() -> None:
    """`review` renders offline: a receiver configured for wildcards is taken to hold them."""
    config = device(wildcardFqdn=True, auth={"tokenEnv": "SOC_TOKEN"})
    with RestAdapter(config, "c1", offline_secrets(["SOC_TOKEN"]), offline_transport()) as adapter:
        addresses = [o for o in adapter.render(wildcard_state()) if o.kind == "address"]
    assert any(WILDCARD in o.body["fqdns"] for o in addresses)
