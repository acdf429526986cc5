"""FortiGate / FortiOS REST adapter, device type `fortios` (docs/adapters.md)."""

from adapters.fortios.adapter import FortiOSAdapter

__all__ = ["FortiOSAdapter"]
