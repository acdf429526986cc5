"""The kit for writing an adapter: the HTTP client (`http.py`), device naming (`naming.py`) and the
render memo (`memo.py`). The contract itself (`Adapter`, `ApplyResult`, the error taxonomy) is the
core's: `connector.adapter`."""

# Former home of the contract, until every importer names connector.adapter.
from connector.adapter import (
    Adapter,
    ApplyResult,
    DeviceAuthError,
    DeviceError,
    PermanentDeviceError,
    TransientDeviceError,
)
from connector.model import Capabilities

__all__ = [
    "Adapter",
    "ApplyResult",
    "Capabilities",
    "DeviceAuthError",
    "DeviceError",
    "PermanentDeviceError",
    "TransientDeviceError",
]
