"""Shared HTTP kit of the adapters: one httpx client per device with TLS, timeouts, retries.

Contract:
- TLS verification is on unless the device sets `verifyTls: false`; `caBundle` names a PEM file.
- `DeviceHttp.request` maps failures onto the error taxonomy: connect errors, timeouts, dropped
  connections, 5xx and 429 raise `TransientDeviceError` (after bounded retries with exponential
  backoff and jitter, honouring Retry-After); other 4xx raise `PermanentDeviceError`, 401/403
  `DeviceAuthError`. Callers pass `expected` statuses that are not errors (e.g. 404 on a read).
- Secrets (auth headers) are never logged: the log names method, path and status only.
- `writes` counts non-GET requests actually sent (each retry counts), for benchmarks and tests.
- Write fence: a client may carry a `fence` callable, asked right before every non-GET request
  (each retry included); when it answers False the request is not sent and `WriteFenced` is
  raised. A client created inside `connector.adapter.write_fence(fence)` takes that fence, so the
  controller can fence every adapter it opens without the adapters knowing: a process that lost
  its leadership mid-apply (e.g. resumed after SIGSTOP once a standby took over) sends no further
  write.
- TLS contexts are built once per process and shared: `ssl_context` caches them by (CA file, its
  size and modification time), so opening many adapters does not reload a CA bundle each time
  (~60 ms apiece) while a rotated bundle file is still read afresh. A context is not changed once
  built (httpx only sets the HTTP/1.1 ALPN on it, the same value for every client here).
"""

from __future__ import annotations

import functools
import logging
import os
import random
import ssl
import threading
from collections.abc import Callable, Collection, Mapping
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
)

from connector.adapter import (
    DeviceAuthError,
    DeviceError,
    MayWrite,
    PermanentDeviceError,
    TransientDeviceError,
    current_fence,
)

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class WriteFenced(DeviceError):
    """A write not sent because the client's fence refused it (this process may no longer write
    to devices, e.g. it is no longer the leader). Nothing reached the device; it is not a device
    fault and is not worth retrying by this process."""


def tls_verify(verify_tls: bool, ca_bundle: str | None) -> ssl.SSLContext | bool:
    """The httpx `verify` argument for a device's TLS settings (`True`: the default trust store,
    which `DeviceHttp` turns into the shared `ssl_context()`)."""
    if not verify_tls:
        return False
    if ca_bundle:
        return ssl_context(ca_bundle)
    return True


def ssl_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """The process's shared verifying TLS context trusting `ca_bundle` (a PEM file), or by default
    the trust store httpx uses for `verify=True` (certifi, or `SSL_CERT_FILE`/`SSL_CERT_DIR`).
    Built once per bundle file version (path, size, modification time); never modify it."""
    if ca_bundle is None:
        return _default_context()
    stat = os.stat(ca_bundle)  # a missing file raises here, as loading it would
    return _bundle_context(os.path.abspath(ca_bundle), stat.st_size, stat.st_mtime_ns)


@functools.cache
def _default_context() -> ssl.SSLContext:
    return httpx.create_ssl_context(verify=True)


@functools.lru_cache(maxsize=64)
def _bundle_context(path: str, size: int, mtime_ns: int) -> ssl.SSLContext:
    del size, mtime_ns  # part of the cache key only: a rewritten file is a new context
    return ssl.create_default_context(cafile=path)


class RetryPolicy:
    """Bounded retries: at most `attempts` tries within `deadline` seconds, backoff from `initial`
    doubling up to `maximum` with up to `jitter` seconds of jitter."""

    def __init__(self, attempts: int = 6, deadline: float = 120.0, initial: float = 0.5,
                 maximum: float = 15.0, jitter: float = 0.5) -> None:
        self.attempts = attempts
        self.deadline = deadline
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter

    def wait(self, state: RetryCallState) -> float:
        exponential = self.initial * 2 ** max(0, state.attempt_number - 1)
        backoff = min(self.maximum, exponential) + random.uniform(0, self.jitter)
        outcome = state.outcome
        if outcome is not None and outcome.failed:
            error = outcome.exception()
            if isinstance(error, TransientDeviceError) and error.retry_after is not None:
                return float(min(max(backoff, error.retry_after), self.maximum))
        return float(backoff)

    def retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception_type(TransientDeviceError),
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.deadline),
            wait=self.wait,
            reraise=True,
        )


NO_RETRY = RetryPolicy(attempts=1)


class DeviceHttp:
    """HTTP access to one device. Thread-safe; `auth` is called per request for fresh headers;
    `fence` (default: the one of the enclosing `connector.adapter.write_fence`, if any) guards every write."""

    def __init__(self, device: str, base_url: str, *, verify: ssl.SSLContext | bool = True,
                 timeout: float = 30.0, retry: RetryPolicy | None = None,
                 auth: Callable[[], Mapping[str, str]] | None = None,
                 transport: httpx.BaseTransport | None = None, fence: MayWrite | None = None) -> None:
        self.device = device
        self.retry = retry or RetryPolicy()
        self.fence = fence if fence is not None else current_fence()
        self._auth = auth
        if verify is True and transport is None:
            verify = ssl_context()  # shared: building a context loads the whole CA bundle
        self._client = httpx.Client(base_url=base_url, verify=verify, timeout=timeout, transport=transport)
        self._lock = threading.Lock()
        self.writes = 0
        self.calls = 0

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, content: bytes | None = None, headers: Mapping[str, str] | None = None,
                expected: Collection[int] = (), retry: RetryPolicy | None = None,
                object_kind: str = "", object_name: str = "") -> httpx.Response:
        """Send one request with retries; returns a 2xx response or one whose status is in `expected`."""
        policy = retry or self.retry
        for attempt in policy.retrying():
            with attempt:
                return self._send_once(method, path, params=params, json=json, content=content,
                                       headers=headers, expected=expected, object_kind=object_kind,
                                       object_name=object_name)
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _send_once(self, method: str, path: str, *, params: Mapping[str, Any] | None, json: Any,
                   content: bytes | None, headers: Mapping[str, str] | None, expected: Collection[int],
                   object_kind: str, object_name: str) -> httpx.Response:
        write = method.upper() != "GET"
        if write and self.fence is not None and not self.fence():
            log.warning("%s: %s %s not sent: writes are fenced off (this process no longer leads)",
                        self.device, method, path)
            raise WriteFenced(self.device, f"{method} {path} not sent: this process may no longer "
                              "write to the device (no longer the leader)")
        merged: dict[str, str] = dict(self._auth()) if self._auth else {}
        if headers:
            merged.update(headers)
        with self._lock:
            self.calls += 1
            if write:
                self.writes += 1
        try:
            response = self._client.request(method, path, params=params, json=json, content=content,
                                            headers=merged)
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            log.warning("%s: %s %s failed: %s", self.device, method, path, type(exc).__name__)
            raise TransientDeviceError(self.device, f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        log.debug("%s: %s %s -> %d", self.device, method, path, status)
        if status < 300 or status in expected:
            return response
        detail = _error_detail(response)
        if status in RETRYABLE_STATUS:
            raise TransientDeviceError(self.device, f"{method} {path}: HTTP {status}: {detail}",
                                       status=status, retry_after=_retry_after(response))
        if status in (401, 403):
            raise DeviceAuthError(self.device, f"{method} {path}: HTTP {status}: {detail}", status=status,
                                  object_kind=object_kind, object_name=object_name)
        raise PermanentDeviceError(self.device, f"{method} {path}: HTTP {status}: {detail}", status=status,
                                   object_kind=object_kind, object_name=object_name)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error_detail(response: httpx.Response, limit: int = 500) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:limit] if text else response.reason_phrase
