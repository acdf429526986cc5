"""Pushing flow records from the REST receiver mock to the connector's `POST /v1/flows`.

`FlowPusher` posts each batch (one JSON array of records) to the target URL from a daemon thread,
with `Authorization: Bearer <token>` when a token is set and `Content-Type: application/json`.
A batch answered 429, 5xx, or not answered at all is tried again up to `attempts` times (backoff
0.2 s doubling); any other answer ends it (a 2xx counts as sent, the rest as failed). At most
`max_pending` batches wait; batches beyond are dropped and counted.

`FlowsEndpoint` is the mock's `/_mock/flows`: `GET` shows the target and counters, `POST {"target":
URL or null, "token": T or null, "logDefault": bool}` changes those given; a reset restores the
settings given at start (`--flows`, `--flows-token`).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from mocks.common.http import Request, Response, settings_endpoint

MAX_PENDING = 1_000
RETRYABLE = frozenset({429, 500, 502, 503, 504})


def check_url(text: str) -> str:
    """An http(s) URL (ValueError otherwise)."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"flows target {text!r} must be an http:// or https:// URL")
    return text


class FlowPusher:
    def __init__(self, url: str, token: str | None, attempts: int = 3, timeout: float = 5.0,
                 max_pending: int = MAX_PENDING) -> None:
        self.url = check_url(url)
        self.token = token
        self.attempts = attempts
        self.timeout = timeout
        self.max_pending = max_pending
        self._pending: deque[bytes] = deque()
        self._busy = 0
        self._cond = threading.Condition()
        self._closed = False
        self._wake = threading.Event()
        self.sent = 0
        self.records = 0
        self.failed = 0
        self.dropped = 0
        self.last_status: int | None = None
        self._thread = threading.Thread(target=self._run, name=f"flows-{url}", daemon=True)
        self._thread.start()

    def push(self, records: list[dict[str, Any]]) -> bool:
        """Queue one batch; False when it was dropped (queue full or closed)."""
        body = json.dumps(records, separators=(",", ":")).encode()
        with self._cond:
            if self._closed or len(self._pending) >= self.max_pending:
                self.dropped += 1
                return False
            self._pending.append(body)
            self._cond.notify_all()
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self.dropped += len(self._pending)
            self._pending.clear()
            self._cond.notify_all()
        self._wake.set()
        self._thread.join(timeout=1)  # a request in progress ends by itself (timeout)

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return {"sent": self.sent, "records": self.records, "failed": self.failed,
                    "dropped": self.dropped, "pending": len(self._pending) + self._busy,
                    "lastStatus": self.last_status}

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closed)
                if self._closed:
                    return
                body = self._pending.popleft()
                self._busy += 1
            status = self._post(body)
            with self._cond:
                self._busy -= 1
                self.last_status = status
                if status is not None and 200 <= status < 300:
                    self.sent += 1
                    self.records += len(json.loads(body))
                else:
                    self.failed += 1
                self._cond.notify_all()

    def _post(self, body: bytes) -> int | None:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        status: int | None = None
        delay = 0.2
        for attempt in range(self.attempts):
            if attempt:
                if self._wake.wait(delay):
                    return status
                delay *= 2
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
                    return int(response.status)
            except urllib.error.HTTPError as error:
                status = error.code
                if status not in RETRYABLE:
                    return status
            except (OSError, ValueError):
                status = None
        return status


class FlowsEndpoint:
    """The REST mock's push settings and pusher, and its `/_mock/flows` endpoint."""

    def __init__(self, url: str | None, token: str | None, log_default: bool = False) -> None:
        self._initial = (url, token, log_default)
        self._lock = threading.Lock()
        self.pusher: FlowPusher | None = None
        self.token = token
        self.log_default = log_default
        self._set(url, token)

    def push(self, records: list[dict[str, Any]]) -> bool:
        with self._lock:
            pusher = self.pusher
        return pusher.push(records) if pusher is not None and records else False

    def reset(self) -> None:
        url, token, log_default = self._initial
        self.log_default = log_default
        self._set(url, token)

    def close(self) -> None:
        self._set(None, self.token)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            pusher = self.pusher
        out: dict[str, Any] = {"target": pusher.url if pusher else None, "token": bool(self.token),
                               "logDefault": self.log_default}
        out.update(pusher.stats() if pusher else {"sent": 0, "records": 0, "failed": 0, "dropped": 0,
                                                  "pending": 0, "lastStatus": None})
        return out

    def route(self, request: Request) -> Response | None:
        """Serve `/_mock/flows`; None for other paths."""
        return settings_endpoint(request, "/_mock/flows", self._configure, self.describe)

    def _configure(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise ValueError('a JSON object: {"target": URL or null, "token": T, "logDefault": bool}')
        unknown = sorted(set(body) - {"target", "token", "logDefault"})
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r} (known: logDefault, target, token)")
        url = body.get("target", self.pusher.url if self.pusher else None) or None
        token = body.get("token", self.token) or None
        if url is not None and not isinstance(url, str):
            raise ValueError("target must be an http(s) URL or null")
        if token is not None and not isinstance(token, str):
            raise ValueError("token must be a string or null")
        if "logDefault" in body and not isinstance(body["logDefault"], bool):
            raise ValueError("logDefault must be true or false")
        if url is not None:
            check_url(url)
        self.log_default = body.get("logDefault", self.log_default)
        self._set(url, token)

    def _set(self, url: str | None, token: str | None) -> None:
        with self._lock:
            old = self.pusher
            self.token = token
            if old is not None and url == old.url and token == old.token:
                return
            self.pusher = FlowPusher(url, token) if url else None
        if old is not None:
            old.close()
