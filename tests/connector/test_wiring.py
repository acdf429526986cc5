"""Set-up from the configuration shared by the passes and the controller."""

from __future__ import annotations

import pytest

from adapters.families import adapter_class
from connector.config import Secrets
from connector.wiring import compile_settings, open_adapters, select_devices, validate_config

CONFIG = validate_config({"cluster": "c1", "database": "sqlite:///:memory:", "devices": [
    {"name": "soc", "type": "rest", "url": "http://127.0.0.1:1"},
    {"name": "fgt", "type": "fortios", "url": "http://127.0.0.1:2", "auth": {"tokenEnv": "FGT_TOKEN"}}]})


def test_compile_settings_carry_each_devices_capabilities_in_configuration_order() -> None:
    settings = compile_settings(CONFIG)
    assert settings.device_names == ("soc", "fgt")
    assert settings.capabilities("fgt") == adapter_class("fortios").capabilities
    assert settings.capabilities("soc") == adapter_class("rest").capabilities


def test_select_devices_gives_all_or_the_one_named() -> None:
    assert [d.name for d in select_devices(CONFIG, None)] == ["soc", "fgt"]
    assert [d.name for d in select_devices(CONFIG, "fgt")] == ["fgt"]
    with pytest.raises(KeyError):
        select_devices(CONFIG, "nope")


def test_open_adapters_gives_one_adapter_per_device() -> None:
    adapters = open_adapters(CONFIG, CONFIG.devices, Secrets({"FGT_TOKEN": "t"}))
    try:
        assert sorted(adapters) == ["fgt", "soc"]
    finally:
        for adapter in adapters.values():
            adapter.close()
