"""What the compiler needs from the configuration (docs/configuration.md) and the device adapters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from connector.config import Config
from connector.model import Capabilities


@dataclass(frozen=True)
class CompileSettings:
    """Compile inputs besides the cluster: cluster name, managed-namespace policy, defaults, the
    connector namespace (where ClusterEgressRule ExternalServices live) and each device's
    capabilities, in configuration order."""

    cluster: str
    devices: tuple[tuple[str, Capabilities], ...]
    connector_namespace: str = "fusion-system"
    all_namespaces: bool = False
    exclude: frozenset[str] = field(default_factory=frozenset)
    default_action: str = "Deny"
    default_source_mode: str = "pod"

    @property
    def device_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.devices)

    def capabilities(self, device: str) -> Capabilities:
        return dict(self.devices)[device]

    @classmethod
    def from_config(
        cls, config: Config, capabilities: Mapping[str, Capabilities] | None = None
    ) -> CompileSettings:
        """Settings from a validated configuration; `capabilities` maps a device name (or a device
        type such as `fortios`) to what it can enforce; unnamed devices get `Capabilities()`."""
        given = capabilities or {}
        devices = tuple(
            (d.name, given.get(d.name) or given.get(d.type) or Capabilities()) for d in config.devices
        )
        return cls(
            cluster=config.cluster,
            devices=devices,
            connector_namespace=config.kubernetes.connector_namespace,
            all_namespaces=config.namespaces.all,
            exclude=frozenset(config.namespaces.exclude),
            default_action=config.defaults.action,
            default_source_mode=config.defaults.source_mode,
        )
