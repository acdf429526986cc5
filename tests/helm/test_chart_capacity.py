"""The chart passes each device's `capacity` to the configuration and its schema checks the keys."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helm.test_chart import F5, FORTIOS, REST_OPEN, parse, render_error, render_raw, rendered_config


def test_capacity_reaches_the_configuration_file() -> None:
    devices = [{**F5, "capacity": {"rules": 5000, "declarationBytes": 8_000_000}},
               {**FORTIOS, "capacity": {"policies": 2000, "groupMembers": 255}},
               {**REST_OPEN, "capacity": {"groups": 500, "rules": None}}]
    config = rendered_config(parse(render_raw({"config": {"cluster": "prod-eu1", "devices": devices}})))
    f5, fortios, rest = config.devices
    assert f5.type == "f5-as3" and (f5.capacity.rules, f5.capacity.declaration_bytes) == (5000, 8_000_000)
    assert f5.capacity.address_lists is None
    assert fortios.type == "fortios"
    assert (fortios.capacity.policies, fortios.capacity.group_members) == (2000, 255)
    assert fortios.capacity.addresses == 20000  # unset keys keep their defaults
    assert rest.type == "rest" and (rest.capacity.groups, rest.capacity.rules) == (500, None)


@pytest.mark.parametrize(("device", "expected"), [
    ({**FORTIOS, "capacity": {"policy": 10}}, "'policy' not allowed"),
    ({**FORTIOS, "capacity": {"policies": 0}}, "at '/config/devices/0/capacity/policies'"),
    ({**FORTIOS, "capacity": {"rules": 10}}, "'rules' not allowed"),  # a key of another family
    ({**F5, "capacity": {"declarationBytes": "8MB"}}, "at '/config/devices/0/capacity/declarationBytes'"),
    ({**REST_OPEN, "capacity": {"policies": 10}}, "'policies' not allowed"),
])
def test_the_schema_refuses_unknown_or_invalid_capacity_keys(device: dict[str, Any], expected: str) -> None:
    message = render_error({"config": {"devices": [device]}})
    assert "values don't meet the specifications of the schema" in message
    assert expected in message, message
