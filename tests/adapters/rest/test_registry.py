"""`adapters.registry.create_adapter` builds adapters from device configuration."""

from __future__ import annotations

import pytest

from adapters.registry import ADAPTERS, adapter_class, create_adapter
from adapters.rest import RestAdapter
from connector.adapter import Adapter
from connector.config import RestDevice, SecretError, Secrets


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
    assert set(ADAPTERS) == {"f5-as3", "fortios", "rest"}
    assert adapter_class("rest") is RestAdapter
    assert adapter_class("f5-as3").__name__ == "AS3Adapter"
    assert adapter_class("fortios").__name__ == "FortiOSAdapter"
    assert all(issubclass(adapter_class(t), Adapter) for t in ADAPTERS)
    with pytest.raises(ValueError, match="unknown device type 'pan-os'"):
        adapter_class("pan-os")
