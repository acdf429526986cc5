"""Set-up from the configuration, shared by the one-shot passes (`plan`, `apply`, `explain`, the
demo) and the controller.

- `compile_settings(config)`: the compiler's settings, with each configured device's capabilities.
- `select_devices(config, name)`: the configured devices, or only the one named.
- `open_adapters(config, devices, secrets)`: one adapter per device.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.registry import adapter_class, create_adapter
from connector.adapter import Adapter
from connector.compiler import CompileSettings
from connector.config import Config, DeviceConfig, Secrets


def compile_settings(config: Config) -> CompileSettings:
    """Compile settings with each configured device's capabilities."""
    return CompileSettings.from_config(
        config, {d.name: adapter_class(d.type).capabilities for d in config.devices})


def select_devices(config: Config, name: str | None) -> list[DeviceConfig]:
    """The configured devices, or only `name` (KeyError when no device has that name)."""
    if name is None:
        return list(config.devices)
    return [config.device(name)]


def open_adapters(config: Config, devices: Sequence[DeviceConfig], secrets: Secrets) -> dict[str, Adapter]:
    """An adapter per device; SecretError when a device's secret is missing from the environment."""
    return {d.name: create_adapter(d, config.cluster, secrets) for d in devices}
