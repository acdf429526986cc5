"""`adapters.families`: each configuration `type`, its device model and its adapter class; the
configuration file accepts exactly the registered families, and `create_adapter` opens a device
with its family's adapter."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field

from adapters.f5.config import F5Device
from adapters.families import FAMILIES, adapter_class, create_adapter, family
from adapters.fortios.config import FortiOSDevice
from adapters.rest import RestAdapter
from adapters.rest.config import RestDevice
from connector.adapter import Adapter
from connector.config import (
    ConfigError,
    ConfigFile,
    DeviceConfig,
    SecretError,
    Secrets,
    Strict,
    secret_variables,
)
from connector.wiring import CONFIG_FILE, load_config_text


def rest_config(**auth: str) -> RestDevice:
    return RestDevice.model_validate({"name": "soc", "type": "rest", "url": "http://127.0.0.1:9",
                                      "auth": auth})


def test_rest_type_builds_a_rest_adapter() -> None:
    adapter = create_adapter(rest_config(tokenEnv="SOC_TOKEN"), "c1", Secrets({"SOC_TOKEN": "t"}))
    with adapter:
        assert isinstance(adapter, RestAdapter)
        assert (adapter.name, adapter.cluster, adapter.owner_mark) == ("soc", "c1", "fusion-connector:c1")


def test_missing_secret_is_reported_by_name() -> None:
    with pytest.raises(SecretError, match="SOC_HMAC"):
        create_adapter(rest_config(tokenEnv="SOC_TOKEN", hmacSecretEnv="SOC_HMAC"), "c1",
                       Secrets({"SOC_TOKEN": "t"}))


def test_every_configured_type_is_known() -> None:
    types = [f.type for f in FAMILIES]
    assert types == ["f5-as3", "fortios", "rest"]
    assert [f.config for f in FAMILIES] == [F5Device, FortiOSDevice, RestDevice]
    assert adapter_class("rest") is RestAdapter and family("rest").adapter is RestAdapter
    assert adapter_class("f5-as3").__name__ == "AS3Adapter"
    assert adapter_class("fortios").__name__ == "FortiOSAdapter"
    assert all(issubclass(adapter_class(t), Adapter) for t in types)
    with pytest.raises(ValueError, match="unknown device type 'pan-os'"):
        adapter_class("pan-os")


def test_the_configuration_accepts_exactly_the_registered_families() -> None:
    assert CONFIG_FILE.devices == tuple(f.config for f in FAMILIES)
    assert CONFIG_FILE.tags == {f.type for f in FAMILIES}
    with pytest.raises(ConfigError) as caught:
        load_config_text("cluster: c\ndevices:\n- {name: p, type: pan-os, url: https://p}\n")
    assert caught.value.problems == ["devices[0]: Input tag 'pan-os' found using 'type' does not match any"
                                     " of the expected tags: 'f5-as3', 'fortios', 'rest'"]


class PanAuth(Strict):
    api_key_env: str = Field(alias="apiKeyEnv")


class PanDevice(DeviceConfig):
    """A family the connector does not have: its model is all the file format needs."""

    type: Literal["pan-os"]
    auth: PanAuth
    vsys: str = "vsys1"


def test_a_family_is_one_model_away_from_the_configuration_file() -> None:
    models = [*CONFIG_FILE.devices, PanDevice]
    config = ConfigFile(models).parse(
        "cluster: c\ndevices:\n- {name: p, type: pan-os, url: https://p/, auth: {apiKeyEnv: PAN_KEY}}\n"
        "- {name: s, type: rest, url: http://s, auth: {tokenEnv: S_TOKEN}}\n")
    pan, rest = config.devices
    assert isinstance(pan, PanDevice) and (pan.url, pan.vsys) == ("https://p", "vsys1")
    assert isinstance(rest, RestDevice)
    assert secret_variables(config) == [("PAN_KEY", "devices[0] (p) auth.apiKeyEnv"),
                                        ("S_TOKEN", "devices[1] (s) auth.tokenEnv")]
    with pytest.raises(ConfigError) as caught:
        ConfigFile(models).parse("cluster: c\ndevices:\n- {name: p, type: pan-os, url: https://p, vsis: x}\n")
    assert caught.value.problems == ["devices[0].auth: required key is missing",
                                     "devices[0].vsis: unknown key"]
    with pytest.raises(ValueError, match="same type"):
        ConfigFile([RestDevice, RestDevice])
