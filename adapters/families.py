"""The device families: for each configuration `type`, its device model and its adapter class.

`FAMILIES` is the one registration point: adding a family is its package under `adapters/`
(a `DeviceConfig` model in `config.py`, an `Adapter` subclass) plus one entry here. The
configuration's `devices` list accepts exactly these families (`connector.wiring` builds the file
format from `FAMILIES`), and `create_adapter` opens a device with its family's adapter. Every
adapter class takes `(config, cluster, secrets, transport=None)`; `transport` replaces the network
(tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import httpx

from adapters.f5 import AS3Adapter
from adapters.f5.config import F5Device
from adapters.fortios import FortiOSAdapter
from adapters.fortios.config import FortiOSDevice
from adapters.rest import RestAdapter
from adapters.rest.config import RestDevice
from connector.adapter import Adapter
from connector.config import DeviceConfig, Secrets, device_type


@dataclass(frozen=True)
class DeviceFamily:
    """One family: the model of its devices' configuration (whose `type` names the family) and
    the adapter class that drives them."""

    config: type[DeviceConfig]
    adapter: type[Adapter]

    @property
    def type(self) -> str:
        return device_type(self.config)


FAMILIES: tuple[DeviceFamily, ...] = (
    DeviceFamily(F5Device, AS3Adapter),
    DeviceFamily(FortiOSDevice, FortiOSAdapter),
    DeviceFamily(RestDevice, RestAdapter),
)


def family(device_type: str) -> DeviceFamily:
    """The family of a configuration `type`; ValueError for an unknown type."""
    for candidate in FAMILIES:
        if candidate.type == device_type:
            return candidate
    known = ", ".join(sorted(f.type for f in FAMILIES))
    raise ValueError(f"unknown device type {device_type!r} (known: {known})")


def adapter_class(device_type: str) -> type[Adapter]:
    """The adapter class of a configuration `type`; ValueError for an unknown type."""
    return family(device_type).adapter


def create_adapter(device_config: DeviceConfig, cluster: str, secrets: Secrets, *,
                   transport: httpx.BaseTransport | None = None) -> Adapter:
    """A ready adapter for `device_config`; secrets are read now (SecretError when missing)."""
    cls: Any = adapter_class(device_config.type)
    return cast(Adapter, cls(device_config, cluster, secrets, transport=transport))
