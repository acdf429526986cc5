"""FortiGate / FortiOS REST adapter (DESIGN §7 `fortios`)."""

from adapters.fortios.adapter import FortiOSAdapter

__all__ = ["FortiOSAdapter"]
