"""AS3 over iControl REST: token login, one request in flight per device, async declarations.

Contract:
- Every request to one BIG-IP (keyed by its URL) holds that device's lock: one request in flight,
  however many adapters or threads talk to it (AS3 runs one configuration operation at a time and
  answers 503 to the others).
- Token auth: `POST /mgmt/shared/authn/login` once, then `X-F5-Auth-Token`; a 401 (expired or
  revoked token) triggers one fresh login and one retry. The password is never logged.
- Transient failures (connect errors, dropped connections, 5xx, AS3 503 busy) are retried by
  `DeviceHttp` with exponential backoff and jitter, bounded by its `RetryPolicy`.
- `declare` posts with `async=true` and polls `/task/<id>` with growing, bounded waits until AS3
  reports a result; per-tenant results other than success / no change raise an error naming the
  AS3 object concerned when AS3 names one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from adapters.base.http import NO_RETRY, DeviceHttp, RetryPolicy
from connector.adapter import DeviceAuthError, DeviceError, PermanentDeviceError, TransientDeviceError

log = logging.getLogger(__name__)

APPSVCS = "/mgmt/shared/appsvcs"
LOGIN = "/mgmt/shared/authn/login"
IN_PROGRESS = "in progress"
OK_MESSAGES = frozenset({"success", "no change"})


class DeclarationError(PermanentDeviceError):
    """AS3 refused a declaration; `path` is the declaration path AS3 named (may be empty)."""

    def __init__(self, device: str, message: str, status: int | None, path: str = "",
                 object_kind: str = "", object_name: str = "") -> None:
        super().__init__(device, message, status=status, object_kind=object_kind, object_name=object_name)
        self.path = path


class AS3Client:
    """AS3 access to one BIG-IP."""

    _locks: ClassVar[dict[str, threading.RLock]] = {}
    _locks_guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, device: str, url: str, username: str, password: SecretStr, *,
                 verify: Any = True, timeout: float = 30.0, retry: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None, poll_interval: float = 0.1,
                 poll_max_interval: float = 10.0, task_timeout: float = 600.0) -> None:
        self.device = device
        self.url = url
        self._username = username
        self._password = password
        self._token: str | None = None
        self.poll_interval = poll_interval
        self.poll_max_interval = poll_max_interval
        self.task_timeout = task_timeout
        self.http = DeviceHttp(device, url, verify=verify, timeout=timeout, retry=retry,
                               auth=self._auth_headers, transport=transport)
        with self._locks_guard:
            self.lock = self._locks.setdefault(url, threading.RLock())

    def close(self) -> None:
        """Release the login token (BIG-IP caps active tokens per user) and the connections."""
        token, self._token = self._token, None
        if token is not None:
            with self.lock:
                try:
                    self.http.request("DELETE", f"/mgmt/shared/authz/tokens/{token}",
                                      headers={"X-F5-Auth-Token": token}, expected=(401, 404), retry=NO_RETRY)
                except DeviceError as exc:
                    log.info("%s: could not release the login token: %s", self.device, exc.message)
        self.http.close()

    # --- authentication -----------------------------------------------------------------------
    def _auth_headers(self) -> Mapping[str, str]:
        return {"X-F5-Auth-Token": self._token} if self._token else {}

    def login(self) -> None:
        """Obtain a fresh token."""
        self._token = None
        try:
            response = self.http.request(
                "POST", LOGIN, json={"username": self._username,
                                     "password": self._password.get_secret_value(),
                                     "loginProviderName": "tmos"})
        except DeviceAuthError as exc:
            raise DeviceAuthError(self.device, f"login as {self._username!r} refused (HTTP {exc.status})",
                                  status=exc.status) from exc
        token = _json(response).get("token", {})
        value = token.get("token") if isinstance(token, Mapping) else None
        if not isinstance(value, str) or not value:
            raise DeviceAuthError(self.device, "login answered without a token")
        self._token = value
        log.info("%s: logged in as %s", self.device, self._username)

    def request(self, method: str, path: str, *, expected: Collection[int] = (),
                **kwargs: Any) -> httpx.Response:
        """One authenticated request under the device lock; re-login once on 401."""
        with self.lock:
            if self._token is None:
                self.login()
            try:
                return self.http.request(method, path, expected=expected, **kwargs)
            except DeviceAuthError as exc:
                if exc.status != 401:
                    raise
                log.info("%s: token refused (expired or revoked), logging in again", self.device)
                self.login()
                return self.http.request(method, path, expected=expected, **kwargs)

    # --- AS3 ------------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        return _json(self.request("GET", f"{APPSVCS}/info"))

    def get_tenant(self, tenant: str) -> dict[str, Any] | None:
        """The tenant as AS3 stores it, or None when AS3 holds no such tenant."""
        response = self.request("GET", f"{APPSVCS}/declare/{tenant}", expected=(204, 404))
        if response.status_code in (204, 404):
            return None
        body = _json(response).get(tenant)
        return body if isinstance(body, dict) else None

    def declare(self, tenant: str, request_body: Mapping[str, Any] | bytes,
                locate: Callable[[str], tuple[str, str]]) -> list[dict[str, Any]]:
        """POST one tenant asynchronously and wait for its result; `locate` maps an AS3 error path
        to (object kind, object name) for error messages. `request_body` is the AS3 request, or
        its JSON text (sent as is, every retry the same bytes)."""
        inner = self.http.retry
        outer = RetryPolicy(attempts=3, deadline=inner.deadline, initial=inner.initial,
                            maximum=inner.maximum, jitter=inner.jitter)
        with self.lock:
            for attempt in outer.retrying():
                with attempt:
                    return self._declare_once(tenant, request_body, locate)
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _declare_once(self, tenant: str, request_body: Mapping[str, Any] | bytes,
                      locate: Callable[[str], tuple[str, str]]) -> list[dict[str, Any]]:
        if isinstance(request_body, bytes):
            payload: dict[str, Any] = {"content": request_body,
                                       "headers": {"Content-Type": "application/json"}}
        else:
            payload = {"json": request_body}
        response = self.request("POST", f"{APPSVCS}/declare/{tenant}", params={"async": "true"},
                                expected=(400, 422), **payload)
        body = _json(response)
        if response.status_code in (400, 422) and "results" not in body:
            raise self._invalid(body, response.status_code, locate)
        if response.status_code == 202:
            task = body.get("id")
            if not isinstance(task, str):
                raise TransientDeviceError(self.device, "AS3 accepted the declaration without a task id")
            results = self._wait_for_task(task)
        else:
            results = _results(body)
        self._check_results(tenant, results, locate)
        return results

    def delete_tenant(self, tenant: str) -> list[dict[str, Any]]:
        response = self.request("DELETE", f"{APPSVCS}/declare/{tenant}", expected=(404,))
        if response.status_code == 404:
            return []
        results = _results(_json(response))
        self._check_results(tenant, results, lambda path: ("tenant", tenant))
        return results

    def _wait_for_task(self, task: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + self.task_timeout
        wait = self.poll_interval
        while True:
            response = self.request("GET", f"{APPSVCS}/task/{task}", expected=(404,))
            if response.status_code == 404:
                raise TransientDeviceError(self.device, f"AS3 task {task} vanished before finishing")
            results = _results(_json(response))
            if results and all(r.get("message") != IN_PROGRESS for r in results):
                return results
            if time.monotonic() + wait > deadline:
                raise TransientDeviceError(
                    self.device, f"AS3 task {task} still in progress after {self.task_timeout:.0f}s")
            time.sleep(wait)
            wait = min(self.poll_max_interval, wait * 1.5)

    def _check_results(self, tenant: str, results: list[dict[str, Any]],
                       locate: Callable[[str], tuple[str, str]]) -> None:
        for result in results:
            if result.get("tenant") not in (tenant, "", None):
                continue
            message = str(result.get("message", ""))
            code = result.get("code")
            if message in OK_MESSAGES and code in (200, None):
                continue
            detail = str(result.get("response") or result.get("errors") or message)
            status = code if isinstance(code, int) else None
            if status is not None and status >= 500:
                raise TransientDeviceError(self.device, f"tenant {tenant}: {message}: {detail}",
                                           status=status)
            kind, name = locate(detail)
            raise DeclarationError(self.device, f"AS3 {message}: {detail}", status, detail, kind, name)

    def _invalid(self, body: Mapping[str, Any], status: int,
                 locate: Callable[[str], tuple[str, str]]) -> DeclarationError:
        errors = body.get("errors")
        first = str(errors[0]) if isinstance(errors, list) and errors else str(body.get("message", ""))
        path = first.split(":", 1)[0].strip() if first.startswith("/") else ""
        kind, name = locate(path or first)
        return DeclarationError(self.device, f"AS3 declaration is invalid: {first}", status, path, kind, name)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _results(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    results = body.get("results")
    return [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []
