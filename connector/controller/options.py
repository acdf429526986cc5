"""The controller's runtime knobs beyond the configuration file, and the names it goes by."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Literal

from connector.sources import WatchTimings

Mode = Literal["apply", "plan"]


@dataclass(frozen=True)
class ControllerOptions:
    """Runtime knobs beyond the configuration file (defaults suit production)."""

    mode: Mode = "apply"
    identity: str = ""
    lease_seconds: int = 15
    renew_seconds: float = 5.0
    retry_seconds: float = 2.0
    shutdown_grace: float = 10.0
    status_debounce: float = 0.5
    # a status whose only change is its `sources` count (pod churn) is written at most this often
    status_sources_interval: float = 10.0
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    sync_timeout: float | None = None  # None: wait for the cache as long as it takes
    watch_timings: WatchTimings | None = None


def default_identity() -> str:
    """The pod name (env POD_NAME) or host name, with the process id."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{os.getpid()}"


def lease_name(cluster: str) -> str:
    """The name of the Lease the controllers of `cluster` elect their leader on."""
    return f"fusion-connector-{cluster}".replace("_", "-")
