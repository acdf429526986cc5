"""The one module of `connector` that knows the device families (`adapters.families`): set-up
from the configuration, shared by the one-shot passes (`plan`, `apply`, `explain`, the demo) and
the controller. Every other module of `connector` reaches devices through the contract in
`connector.adapter` only.

- `CONFIG_FILE`: the configuration file format with the registered families' devices;
  `load_config(path)` and `load_config_text(text)` read a file, `validate_config(mapping)` checks
  its content (ConfigError when invalid).
- `compile_settings(config)`: the compiler's settings, with each configured device's capabilities.
- `select_devices(config, name)`: the configured devices, or only the one named.
- `open_adapters(config, devices, secrets)`: one adapter per device.
- `offline_adapters(config)`: one adapter per device that never reaches it (render, capacity).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from adapters.families import FAMILIES, adapter_class, create_adapter
from adapters.offline import offline_secrets, offline_transport
from connector.adapter import Adapter
from connector.compiler import CompileSettings
from connector.config import Config, ConfigFile, DeviceConfig, Secrets, secret_variables

CONFIG_FILE = ConfigFile([family.config for family in FAMILIES])


def load_config(path: str | Path) -> Config:
    """Read and validate the configuration file at `path`; raises ConfigError."""
    return CONFIG_FILE.read(path)


def load_config_text(text: str, source: str = "<config>") -> Config:
    """Parse and validate configuration YAML; raises ConfigError."""
    return CONFIG_FILE.parse(text, source)


def validate_config(data: Mapping[str, Any], source: str = "<config>") -> Config:
    """The configuration file's content (its mapping) validated; raises ConfigError."""
    return CONFIG_FILE.validate(data, source)


def compile_settings(config: Config) -> CompileSettings:
    """Compile settings with each configured device's capabilities."""
    return CompileSettings.from_config(
        config, {d.name: adapter_class(d.type).configured_capabilities(d) for d in config.devices})


def select_devices(config: Config, name: str | None) -> list[DeviceConfig]:
    """The configured devices, or only `name` (KeyError when no device has that name)."""
    if name is None:
        return list(config.devices)
    return [config.device(name)]


def open_adapters(config: Config, devices: Sequence[DeviceConfig], secrets: Secrets) -> dict[str, Adapter]:
    """An adapter per device; SecretError when a device's secret is missing from the environment."""
    return {d.name: create_adapter(d, config.cluster, secrets) for d in devices}


def offline_adapters(config: Config) -> dict[str, Adapter]:
    """An adapter per configured device that never reaches it (`adapters.offline`): for rendering
    desired states and counting their tables offline. No secret is read."""
    secrets = offline_secrets(name for name, _ in secret_variables(config))
    return {d.name: create_adapter(d, config.cluster, secrets, transport=offline_transport())
            for d in config.devices}
