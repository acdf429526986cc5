"""`POST /v1/flows`: devices behind the REST protocol push flow records (adapters/rest/openapi.yaml).

Contract of `FlowPush.answer`, in this order:
- 404 when flow pushes are not enabled (no `flows` section, or no `flows.tokenEnv`);
- 401 unless `Authorization: Bearer <the token of flows.tokenEnv>` (compared in constant time);
- 400 when the device is unknown: the query parameter `device` names a configured device of type
  `rest`; it may be left out when exactly one such device is configured;
- 411 without `Content-Length`, 413 when the body is larger than `max_body_bytes` (not read) or
  holds more than `max_records` records, 415 for a `Content-Type` other than JSON
  (`application/json` or `application/vnd.fusion-connector.v1+json`);
- 400 when the body is not a JSON array of records `{time, src, srcPort, dst, dstPort, protocol,
  action, rule}` (optional `count`; unknown keys ignored, as the protocol says): the error names
  the index and the field, nothing is taken, and the body's records are counted `malformed`
  (`count(device, "malformed", n)`; 1 for a body that is not an array);
- else 202 `{"accepted": N, "shed": M}`: the records are queued for attribution (`submit`), and
  those the pipeline cannot queue are shed (counted, as for syslog lines).
Errors are `{"error": {"code", "message", "index"?, "field"?}}`.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from connector.flows.record import FlowAction, FlowLine, parse_rfc3339
from connector.reports.serve import HttpAnswer, authorized

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_RECORDS = 10_000
MEDIA_TYPES = ("application/json", "application/vnd.fusion-connector.v1+json")
_ACTIONS: dict[str, FlowAction] = {"allow": "Allow", "deny": "Deny"}


class PushError(ValueError):
    """A record of the body is invalid: `index` and `field` name it."""

    def __init__(self, message: str, index: int | None = None, field: str | None = None) -> None:
        self.index = index
        self.field = field
        self.records = 1  # how many records the refused body held (1 when not an array)
        where = f"[{index}]" if index is not None else ""
        where += f".{field}" if field else ""
        super().__init__(f"{where}: {message}" if where else message)


def _error(status: int, code: str, message: str, *, index: int | None = None,
           field: str | None = None, headers: dict[str, str] | None = None) -> HttpAnswer:
    error: dict[str, Any] = {"code": code, "message": message}
    if index is not None:
        error["index"] = index
    if field is not None:
        error["field"] = field
    return HttpAnswer(status, (json.dumps({"error": error}) + "\n").encode(), "application/json",
                      headers or {})


def _address(item: dict[str, Any], index: int, field: str) -> str:
    value = item.get(field)
    if not isinstance(value, str):
        raise PushError("an IP address is required", index, field)
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise PushError(f"{value[:64]!r} is not an IP address", index, field) from None


def _port(item: dict[str, Any], index: int, field: str) -> int | None:
    value = item.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise PushError(f"{str(value)[:32]!r} is not a port (an integer 0-65535 or null)", index, field)
    return value


def _time(item: dict[str, Any], index: int) -> datetime:
    value = item.get("time")
    if not isinstance(value, str):
        raise PushError("an RFC 3339 time is required", index, "time")
    try:
        return parse_rfc3339(value)
    except ValueError as exc:
        raise PushError(str(exc)[:120], index, "time") from None


def parse_record(item: Any, index: int, device: str) -> FlowLine:
    """One pushed record as a FlowLine of `device`; PushError names the index and field."""
    if not isinstance(item, dict):
        raise PushError("a record must be a JSON object", index)
    protocol = item.get("protocol")
    if not isinstance(protocol, str) or not protocol.strip() or len(protocol) > 16:
        raise PushError("a protocol such as TCP, UDP or an IP protocol number is required", index,
                        "protocol")
    action = item.get("action")
    if not isinstance(action, str) or action.lower() not in _ACTIONS:
        raise PushError("Allow or Deny is required", index, "action")
    rule = item.get("rule")
    if rule is not None and (not isinstance(rule, str) or len(rule) > 255):
        raise PushError("the device's rule name (a string of at most 255 characters) or null",
                        index, "rule")
    count = item.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise PushError("a positive integer is required", index, "count")
    return FlowLine(time=_time(item, index), device=device, action=_ACTIONS[action.lower()],
                    src=_address(item, index, "src"), dst=_address(item, index, "dst"),
                    protocol=protocol.strip().upper(), src_port=_port(item, index, "srcPort"),
                    dst_port=_port(item, index, "dstPort"), device_rule=rule, count=count)


def parse_body(body: bytes, device: str, max_records: int = MAX_RECORDS) -> list[FlowLine]:
    """The pushed records of `body`; PushError when it is not a valid JSON array of records, or
    OverflowError when it holds more than `max_records`."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PushError("the body is not JSON") from None
    if not isinstance(data, list):
        raise PushError("the body must be a JSON array of flow records")
    if len(data) > max_records:
        raise OverflowError(f"{len(data)} records in one request; at most {max_records}")
    try:
        return [parse_record(item, index, device) for index, item in enumerate(data)]
    except PushError as exc:
        exc.records = len(data)
        raise


def not_enabled() -> HttpAnswer:
    """The answer when flow pushes are not enabled (404)."""
    return _error(404, "not_found", "flow pushes are not enabled (flows.tokenEnv)")


class FlowPush:
    """The endpoint (see the module docstring). `token` None disables it; `rest_devices` are the
    configured devices of type rest; `submit(lines)` queues lines and returns how many it took."""

    def __init__(self, token: str | None, rest_devices: Sequence[str],
                 submit: Callable[[list[FlowLine]], int], *, max_body_bytes: int = MAX_BODY_BYTES,
                 max_records: int = MAX_RECORDS,
                 count: Callable[[str, str, int], None] = lambda device, result, n: None) -> None:
        self.token = token
        self.rest_devices = tuple(rest_devices)
        self.submit = submit
        self.count = count
        self.max_body_bytes = max_body_bytes
        self.max_records = max_records

    def device(self, query: str) -> str:
        """The device a push is from; PushError when not a configured rest device."""
        named = parse_qs(query).get("device")
        if named:
            if named[0] not in self.rest_devices:
                raise PushError(f"{named[0][:64]!r} is not a configured device of type rest", field="device")
            return named[0]
        if len(self.rest_devices) == 1:
            return self.rest_devices[0]
        raise PushError("name the pushing device with ?device=NAME (a configured device of type rest; "
                        f"configured: {', '.join(self.rest_devices) or 'none'})", field="device")

    def answer(self, query: str, authorization: str | None, content_type: str | None,
               content_length: int | None, read: Callable[[int], bytes]) -> HttpAnswer:
        if not self.token:
            return not_enabled()
        if not authorization or not authorized(authorization, self.token):
            return _error(401, "unauthorized", "a valid bearer token is required",
                          headers={"WWW-Authenticate": 'Bearer realm="fusion-connector"'})
        try:
            device = self.device(query)
        except PushError as exc:
            return _error(400, "bad_request", str(exc), field=exc.field)
        if content_length is None:
            return _error(411, "length_required", "Content-Length is required")
        if content_length > self.max_body_bytes:
            return _error(413, "too_large", f"the body has {content_length} bytes; at most "
                          f"{self.max_body_bytes}")
        media = (content_type or "application/json").split(";", 1)[0].strip().lower()
        if media not in MEDIA_TYPES:
            return _error(415, "unsupported_media_type", f"{media!r}: send {MEDIA_TYPES[0]}")
        body = read(content_length)
        try:
            lines = parse_body(body, device, self.max_records)
        except OverflowError as exc:
            return _error(413, "too_many_records", str(exc))
        except PushError as exc:
            self.count(device, "malformed", exc.records)
            return _error(400, "invalid", str(exc), index=exc.index, field=exc.field)
        accepted = self.submit(lines) if lines else 0
        return HttpAnswer(202, (json.dumps({"accepted": accepted, "shed": len(lines) - accepted}) + "\n")
                          .encode(), "application/json")
