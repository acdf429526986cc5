"""FortiOS REST client: cmdb paths, the response envelope, error codes and retries.

Contract:
- Every call carries `vdom`; names are percent-encoded as one path segment (`/` → `%2F`).
- A collection URL is only ever read or POSTed to: `delete` requires a name (a DELETE on a
  collection purges every unreferenced object of the table on a real FortiGate).
- Errors: HTTP 500 with a numeric FortiOS `error` (-5 duplicate, -23 in use, -3 not found, ...)
  is permanent and names the object; a 5xx without one, 429, timeouts and dropped connections are
  transient and retried by the device's `RetryPolicy`; 404 is "missing" where the caller allows it.
- A retried create that finds its object already there (`-5` after a lost response) succeeds.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

import httpx

from adapters.base.http import NO_RETRY, DeviceHttp
from connector.adapter import PermanentDeviceError, TransientDeviceError

log = logging.getLogger(__name__)

CMDB = "/api/v2/cmdb"
TABLES = {"address": "firewall/address", "addrgrp": "firewall/addrgrp", "address6": "firewall/address6",
          "addrgrp6": "firewall/addrgrp6", "service": "firewall.service/custom", "policy": "firewall/policy"}
ERROR_TEXT = {-1: "invalid length", -3: "entry not found", -5: "entry already exists", -8: "invalid IP",
              -14: "permission denied", -20: "blank entry", -23: "entry is in use by other entries",
              -61: "cannot delete a static entry", -651: "invalid input value"}
DUPLICATE = -5


def segment(name: str | int) -> str:
    return quote(str(name), safe="")


class FortiOSClient:
    def __init__(self, http: DeviceHttp, vdom: str) -> None:
        self.http = http
        self.vdom = vdom

    # --- paths ----------------------------------------------------------------------------------
    @staticmethod
    def collection(kind: str) -> str:
        return f"{CMDB}/{TABLES[kind]}"

    def item(self, kind: str, mkey: str | int) -> str:
        return f"{self.collection(kind)}/{segment(mkey)}"

    # --- core -----------------------------------------------------------------------------------
    def call(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
             kind: str = "", name: str = "", missing_ok: bool = False,
             duplicate_ok_on_retry: bool = False) -> dict[str, Any] | None:
        """One API call with retries; the envelope, or None for an allowed 404 / retried duplicate."""
        query = {"vdom": self.vdom, **(params or {})}
        for attempt in self.http.retry.retrying():
            with attempt:
                response = self.http.request(method, path, params=query, json=body, expected=(404, 500),
                                             retry=NO_RETRY, object_kind=kind, object_name=name)
                retried = attempt.retry_state.attempt_number > 1
                return self._interpret(method, path, response, kind, name, missing_ok,
                                       duplicate_ok_on_retry and retried)
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _interpret(self, method: str, path: str, response: httpx.Response, kind: str, name: str,
                   missing_ok: bool, duplicate_ok: bool) -> dict[str, Any] | None:
        envelope = _json(response)
        status = response.status_code
        if status < 300:
            return envelope if envelope is not None else {}
        detail = ""
        if envelope is not None and envelope.get("cli_error"):
            detail = f": {envelope['cli_error']}"
        if status == 404:
            if missing_ok:
                return None
            raise PermanentDeviceError(self.http.device, f"{method} {path}: not found (HTTP 404){detail}",
                                       status=404, object_kind=kind, object_name=name)
        code = envelope.get("error") if envelope is not None else None
        if isinstance(code, int):
            if code == DUPLICATE and duplicate_ok:
                log.info("%s: %s %r already present after a retried create", self.http.device, kind, name)
                return None
            text = ERROR_TEXT.get(code, "error")
            raise PermanentDeviceError(self.http.device,
                                       f"{method} {path}: FortiOS error {code} ({text}){detail}",
                                       status=status, object_kind=kind, object_name=name)
        raise TransientDeviceError(self.http.device, f"{method} {path}: HTTP {status} without error code",
                                   status=status)

    # --- operations -----------------------------------------------------------------------------
    def list(self, kind: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        envelope = self.call("GET", self.collection(kind), params=params, kind=kind) or {}
        results = envelope.get("results", [])
        return [entry for entry in results if isinstance(entry, dict)] if isinstance(results, list) else []

    def create(self, kind: str, name: str, body: dict[str, Any]) -> Any:
        envelope = self.call("POST", self.collection(kind), body=body, kind=kind, name=name,
                             duplicate_ok_on_retry=True)
        return envelope.get("mkey") if envelope else None

    def update(self, kind: str, name: str, mkey: str | int, body: dict[str, Any]) -> None:
        self.call("PUT", self.item(kind, mkey), body=body, kind=kind, name=name)

    def delete(self, kind: str, name: str, mkey: str | int) -> None:
        if str(mkey) == "":
            raise ValueError("refusing a DELETE without a name: it would purge the whole table")
        self.call("DELETE", self.item(kind, mkey), kind=kind, name=name, missing_ok=True)

    def add_member(self, group: str, member: str, kind: str = "addrgrp") -> None:
        """Add `member` to the addrgrp (or addrgrp6, by `kind`) `group` through its member table."""
        self.call("POST", f"{self.item(kind, group)}/member", body={"name": member}, kind=kind,
                  name=group, duplicate_ok_on_retry=True)

    def remove_member(self, group: str, member: str, kind: str = "addrgrp") -> None:
        if not member:
            raise ValueError("refusing a member DELETE without a member name")
        self.call("DELETE", f"{self.item(kind, group)}/member/{segment(member)}", kind=kind,
                  name=group, missing_ok=True)

    def move(self, name: str, policyid: int, *, before: int | None = None, after: int | None = None) -> None:
        params: dict[str, Any] = {"action": "move"}
        if before is not None:
            params["before"] = before
        else:
            params["after"] = after
        self.call("PUT", self.item("policy", policyid), params=params, kind="policy", name=name)

    def status(self) -> dict[str, Any]:
        return self.call("GET", "/api/v2/monitor/system/status") or {}


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        value = response.json()
    except (json.JSONDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None
