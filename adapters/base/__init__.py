"""Adapter contract, error taxonomy and shared HTTP kit."""

from adapters.base.adapter import Adapter, ApplyResult, Capabilities
from adapters.base.errors import DeviceAuthError, DeviceError, PermanentDeviceError, TransientDeviceError

__all__ = [
    "Adapter",
    "ApplyResult",
    "Capabilities",
    "DeviceAuthError",
    "DeviceError",
    "PermanentDeviceError",
    "TransientDeviceError",
]
