"""Error taxonomy of the adapters (the core classifies a failed sync by it).

`TransientDeviceError`: worth retrying (connect errors, timeouts, 5xx, 429, AS3 503 busy).
`PermanentDeviceError`: retrying cannot help (other 4xx, validation); names the object concerned.
`DeviceAuthError`: credentials refused or missing.
`UnsafePlan`: `Adapter.apply` refused a plan over the safety thresholds that was neither forced
nor split by the safety check (`Plan.applicable`: its unsafe deletions withheld); nothing written;
permanent: the same plan is refused again.
"""

from __future__ import annotations


class DeviceError(Exception):
    """Base of every adapter error; `device` names the device."""

    def __init__(self, device: str, message: str) -> None:
        super().__init__(f"{device}: {message}")
        self.device = device
        self.message = message


class TransientDeviceError(DeviceError):
    def __init__(self, device: str, message: str, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(device, message)
        self.status = status
        self.retry_after = retry_after


class PermanentDeviceError(DeviceError):
    def __init__(self, device: str, message: str, status: int | None = None,
                 object_kind: str = "", object_name: str = "") -> None:
        detail = f"{object_kind} {object_name!r}: {message}" if object_name else message
        super().__init__(device, detail)
        self.status = status
        self.object_kind = object_kind
        self.object_name = object_name


class DeviceAuthError(PermanentDeviceError):
    pass


class UnsafePlan(PermanentDeviceError):
    """A plan over the safety thresholds (`Plan.unsafe`, the `reason`), neither forced nor split."""

    def __init__(self, device: str, reason: str) -> None:
        super().__init__(device, f"unsafe plan refused: {reason}")
        self.reason = reason
