"""Base class of every mock: routes `/_mock/*`, applies injected faults and logs requests.

Subclasses implement `handle(request)` for the device protocol, `error(status, message)` for the
protocol's own error envelope, and `reset_state()`. They may override `custom_fault(spec)` to accept
extra fault kinds (return True when consumed) and `custom_mock_route(request)` for extra `/_mock/`
endpoints.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from typing import Any

from mocks.common.faults import FaultError, FaultInjector
from mocks.common.http import DropConnection, Request, Response, json_response

MAX_LOGGED_BODY = 256 * 1024


class MockApp(ABC):
    name = "mock"

    def __init__(self, log_size: int = 200_000) -> None:
        self.faults = FaultInjector()
        self._log: deque[dict[str, Any]] = deque(maxlen=log_size)
        self._log_lock = threading.Lock()
        self._seq = 0

    # --- to implement -------------------------------------------------------------------------
    @abstractmethod
    def handle(self, request: Request) -> Response:
        """Serve one request of the device protocol."""

    def error(self, status: int, message: str) -> Response:
        return json_response(status, {"code": status, "message": message})

    def reset_state(self) -> None:
        """Forget every object (and anything else a reset clears)."""

    def custom_fault(self, spec: dict[str, Any]) -> bool:
        return False

    def custom_mock_route(self, request: Request) -> Response | None:
        return None

    # --- plumbing -------------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        if request.path.startswith("/_mock/"):
            return self._mock_route(request)
        decision = self.faults.decide(request.method, request.path)
        if decision.latency_ms:
            time.sleep(decision.latency_ms / 1000)
        if decision.drop:
            self._record(request, 0)
            raise DropConnection()
        if decision.status is not None:
            response = self.error(decision.status, f"injected fault: HTTP {decision.status}")
            if decision.retry_after is not None:
                response.headers["Retry-After"] = str(decision.retry_after)
        else:
            try:
                response = self.handle(request)
            except DropConnection:
                self._record(request, 0)
                raise
        self._record(request, response.status)
        return response

    def _record(self, request: Request, status: int) -> None:
        body: Any = None
        if request.body:
            raw = request.body[:MAX_LOGGED_BODY]
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        with self._log_lock:
            self._seq += 1
            self._log.append({
                "seq": self._seq,
                "time": time.time(),
                "method": request.method,
                "path": request.path,
                "query": {k: v if len(v) > 1 else v[0] for k, v in request.query.items()},
                "status": status,
                "body": body,
            })

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """Logged requests with sequence number above `since`, oldest first."""
        with self._log_lock:
            return [entry for entry in self._log if entry["seq"] > since]

    def reset(self) -> None:
        self.faults.clear()
        with self._log_lock:
            self._log.clear()
        self.reset_state()

    def _mock_route(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == "/_mock/faults":
            if request.method == "GET":
                return json_response(200, {"faults": self.faults.active()})
            if request.method == "DELETE":
                self.faults.clear()
                return json_response(200, {"faults": []})
            if request.method == "POST":
                try:
                    spec = request.json() or {}
                    if not isinstance(spec, dict):
                        raise FaultError("a fault is a JSON object")
                    if spec.get("clear"):
                        self.faults.clear()
                    elif not self.custom_fault(spec):
                        self.faults.add(spec)
                except (FaultError, ValueError) as exc:
                    return json_response(400, {"error": str(exc)})
                return json_response(200, {"faults": self.faults.active()})
        if path == "/_mock/requests" and request.method == "GET":
            since = int(request.arg("since", "0") or 0)
            return json_response(200, {"requests": self.requests(since)})
        if path == "/_mock/requests" and request.method == "DELETE":
            with self._log_lock:
                self._log.clear()
            return json_response(200, {"requests": []})
        if path == "/_mock/reset" and request.method == "POST":
            self.reset()
            return json_response(200, {"reset": True})
        custom = self.custom_mock_route(request)
        if custom is not None:
            return custom
        return json_response(404, {"error": f"no mock endpoint {request.method} {request.path}"})
