"""Adapter construction from a device's configuration.

`create_adapter` maps the configuration `type` onto the adapter class (imported lazily, so that a
device family's dependencies load only when it is configured). Every adapter class takes
`(config, cluster, secrets, transport=None)`; `transport` replaces the network (tests).
"""

from __future__ import annotations

import importlib
from typing import Any, cast

import httpx

from connector.adapter import Adapter
from connector.config import DeviceConfig, Secrets

ADAPTERS: dict[str, tuple[str, str]] = {
    "f5-as3": ("adapters.f5", "AS3Adapter"),
    "fortios": ("adapters.fortios", "FortiOSAdapter"),
    "rest": ("adapters.rest", "RestAdapter"),
}


def adapter_class(device_type: str) -> type[Adapter]:
    """The adapter class of a configuration `type`; ValueError for an unknown type."""
    try:
        module_name, class_name = ADAPTERS[device_type]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise ValueError(f"unknown device type {device_type!r} (known: {known})") from None
    return cast(type[Adapter], getattr(importlib.import_module(module_name), class_name))


def create_adapter(device_config: DeviceConfig, cluster: str, secrets: Secrets, *,
                   transport: httpx.BaseTransport | None = None) -> Adapter:
    """A ready adapter for `device_config`; secrets are read now (SecretError when missing)."""
    cls: Any = adapter_class(device_config.type)
    return cast(Adapter, cls(device_config, cluster, secrets, transport=transport))
