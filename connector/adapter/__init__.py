"""The adapter contract: what the connector core knows of a device family.

The core calls every device through `Adapter` (`base.py`: render, read, plan, withhold, capacity,
apply) and classifies its failures by the error taxonomy (`errors.py`); the controller fences
device writes with `write_fence` (`fence.py`). The families in `adapters/` subclass `Adapter`;
the core never imports them (only `connector/wiring.py` does, to assemble the configuration and
open adapters).
"""

from connector.adapter.base import Adapter, ApplyResult, RuleNumbers
from connector.adapter.errors import (
    DeviceAuthError,
    DeviceError,
    PermanentDeviceError,
    TransientDeviceError,
    UnsafePlan,
)
from connector.adapter.fence import MayWrite, current_fence, write_fence

__all__ = [
    "Adapter",
    "ApplyResult",
    "DeviceAuthError",
    "DeviceError",
    "MayWrite",
    "PermanentDeviceError",
    "RuleNumbers",
    "TransientDeviceError",
    "UnsafePlan",
    "current_fence",
    "write_fence",
]
