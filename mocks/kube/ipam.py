"""Address pools for pod and Service IPs: sequential allocation, skipping addresses in use."""

from __future__ import annotations

import ipaddress
import threading


class IpPool:
    """Hands out host addresses of one network; released addresses can be handed out again."""

    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        self._first = int(self.network.network_address) + 1
        self._size = max(1, self.network.num_addresses - 2)
        self._next = 0
        self._used: set[int] = set()
        self._lock = threading.Lock()

    def allocate(self) -> str:
        """The next free address (ValueError when the pool is exhausted)."""
        with self._lock:
            if len(self._used) >= self._size:
                raise ValueError(f"address pool {self.network} is exhausted")
            while True:
                candidate = self._first + self._next
                self._next = (self._next + 1) % self._size
                if candidate not in self._used:
                    self._used.add(candidate)
                    return str(ipaddress.ip_address(candidate))

    def reserve(self, address: str) -> None:
        """Mark an address chosen elsewhere as used (ignored when outside the pool)."""
        try:
            value = int(ipaddress.ip_address(address))
        except ValueError:
            return
        if self._first <= value < self._first + self._size:
            with self._lock:
                self._used.add(value)

    def release(self, address: str) -> None:
        try:
            value = int(ipaddress.ip_address(address))
        except ValueError:
            return
        with self._lock:
            self._used.discard(value)

    def reset(self) -> None:
        with self._lock:
            self._used.clear()
            self._next = 0
