"""Fault injection shared by every mock (`POST /_mock/faults`).

A fault is a JSON object; every key is optional:
  status: int          answer with this status instead of serving the request
  times: int           how many matching requests it affects (default: unlimited while active)
  seconds: float       how long it stays active (default: until `times` is used up or cleared)
  latencyMs: int       delay matching requests by this much (combined with status or alone)
  dropConnections: int close this many matching connections without answering
  method: str          only requests with this method
  path: str            only requests whose path starts with this prefix
  retryAfter: int      value of a Retry-After header sent with `status`
Apps may understand more keys (`MockApp.custom_fault`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any


class FaultError(ValueError):
    """The fault specification is invalid."""


@dataclass
class Fault:
    status: int | None = None
    times: int | None = None
    until: float | None = None
    latency_ms: int = 0
    drop: int = 0
    method: str | None = None
    path: str | None = None
    retry_after: int | None = None

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> Fault:
        known = {"status", "times", "seconds", "latencyMs", "dropConnections", "method", "path", "retryAfter"}
        unknown = set(spec) - known
        if unknown:
            raise FaultError(f"unknown fault keys: {sorted(unknown)}")
        fault = cls(
            status=_opt_int(spec, "status"),
            times=_opt_int(spec, "times"),
            latency_ms=_opt_int(spec, "latencyMs") or 0,
            drop=_opt_int(spec, "dropConnections") or 0,
            method=str(spec["method"]).upper() if spec.get("method") else None,
            path=str(spec["path"]) if spec.get("path") else None,
            retry_after=_opt_int(spec, "retryAfter"),
        )
        if "seconds" in spec:
            fault.until = time.monotonic() + float(spec["seconds"])
        if fault.drop:
            fault.times = fault.drop
        if fault.status is None and not fault.latency_ms and not fault.drop:
            raise FaultError("a fault needs status, latencyMs or dropConnections")
        return fault

    def matches(self, method: str, path: str) -> bool:
        if self.method and method != self.method:
            return False
        return not (self.path and not path.startswith(self.path))

    def expired(self) -> bool:
        if self.until is not None and time.monotonic() >= self.until:
            return True
        return self.times is not None and self.times <= 0

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in (("status", self.status), ("times", self.times), ("latencyMs", self.latency_ms),
                           ("dropConnections", self.drop), ("method", self.method), ("path", self.path)):
            if value:
                out[key] = value
        if self.until is not None:
            out["secondsLeft"] = round(max(0.0, self.until - time.monotonic()), 3)
        return out


def _opt_int(spec: dict[str, Any], key: str) -> int | None:
    if key not in spec or spec[key] is None:
        return None
    try:
        return int(spec[key])
    except (TypeError, ValueError) as exc:
        raise FaultError(f"fault key {key!r} must be an integer") from exc


@dataclass
class Decision:
    """What the injector decided for one request."""

    latency_ms: int = 0
    status: int | None = None
    drop: bool = False
    retry_after: int | None = None


class FaultInjector:
    """Thread-safe list of active faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, spec: dict[str, Any]) -> Fault:
        fault = Fault.parse(spec)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            self._faults = [f for f in self._faults if not f.expired()]
            return [f.describe() for f in self._faults]

    def decide(self, method: str, path: str) -> Decision:
        decision = Decision()
        with self._lock:
            self._faults = [f for f in self._faults if not f.expired()]
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                decision.latency_ms += fault.latency_ms
                if fault.drop and not decision.drop and decision.status is None:
                    decision.drop = True
                    fault.times = (fault.times or 1) - 1
                elif fault.status is not None and decision.status is None and not decision.drop:
                    decision.status = fault.status
                    decision.retry_after = fault.retry_after
                    if fault.times is not None:
                        fault.times -= 1
                elif fault.latency_ms and fault.status is None and fault.times is not None:
                    fault.times -= 1
        return decision
