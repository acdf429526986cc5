"""`GET /report` for the controller's HTTP server: read-only, from the store and the latest compile.

`answer_report(build, query, authorization)` turns a request into an `HttpAnswer`: query
parameters `format` (html by default, json or csv), `since` (a window such as 7d, default 7d) and
`device` (a configured device, else 404); a malformed or out-of-range parameter answers 400. When
the environment variable `FUSION_CONNECTOR_REPORT_TOKEN` is set, the request must carry
`Authorization: Bearer <that token>` (compared in constant time), else 401.
`report_from_engine` builds the report in its own read transaction; `serve_report` is the whole
endpoint for the controller (503 until it has compiled the cluster and opened the store). The HTTP
server routes `/report` to any probes object that is a `ReportProbe`.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qs

from sqlalchemy import Engine

from connector.cluster import ClusterView
from connector.compiler import CompileResult
from connector.planner.capacity import CapacityReport
from connector.reports.build import DEFAULT_WINDOW, build_report, parse_window
from connector.reports.model import Report
from connector.reports.render import CONTENT_TYPES, ReportFormat, render
from connector.security import TransportWarning
from connector.store import Store, session_factory
from connector.store.bulk import utcnow

log = logging.getLogger(__name__)

REPORT_TOKEN_ENV = "FUSION_CONNECTOR_REPORT_TOKEN"

ReportBuilder = Callable[[timedelta, str | None], Report]


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> HttpAnswer:
    body = (json.dumps({"error": message}) + "\n").encode()
    return HttpAnswer(status, body, "application/json", headers or {})


def authorized(authorization: str | None, token: str | None) -> bool:
    """True when no token is required, or `authorization` is `Bearer <token>`."""
    if not token:
        return True
    scheme, _, presented = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


@runtime_checkable
class ReportProbe(Protocol):
    """What the HTTP server needs to serve `/report`."""

    def report_answer(self, query: str, authorization: str | None) -> HttpAnswer: ...


def _window(text: str) -> timedelta:
    """The window of `since=text`; ValueError naming the parameter when malformed or too long."""
    try:
        return parse_window(text)
    except ValueError as exc:
        raise ValueError(f"since: {exc}") from None


def answer_report(build: ReportBuilder, query: str, authorization: str | None, *,
                  token: str | None = None, ready: bool = True,
                  devices: Collection[str] | None = None) -> HttpAnswer:
    """Answer `GET /report?<query>`; `token` defaults to the environment variable
    `FUSION_CONNECTOR_REPORT_TOKEN` (unset or empty: no authentication); 503 when not `ready`;
    400 for a bad `format` or `since`; 404 when `device` is not one of `devices` (when given)."""
    if token is None:
        token = os.environ.get(REPORT_TOKEN_ENV) or None
    if not authorized(authorization, token):
        return _error(401, "a bearer token is required", {"WWW-Authenticate": 'Bearer realm="report"'})
    if not ready:
        return _error(503, "not ready: the cluster is not compiled yet", {"Retry-After": "5"})
    params = {key: values[-1] for key, values in parse_qs(query, keep_blank_values=True).items()}
    try:
        fmt = ReportFormat(params.get("format") or "html")
    except ValueError:
        return _error(400, "format must be html, json or csv")
    try:
        window = _window(params["since"]) if params.get("since") else DEFAULT_WINDOW
    except ValueError as exc:
        return _error(400, str(exc))
    device = params.get("device") or None
    if device is not None and devices is not None and device not in devices:
        known = ", ".join(sorted(devices)) or "none"
        return _error(404, f"no device named {device!r} in the configuration (devices: {known})")
    report = build(window, device)
    headers = {"Cache-Control": "no-store"}
    if fmt is ReportFormat.CSV:
        headers["Content-Disposition"] = 'attachment; filename="fusion-connector-report.csv"'
    return HttpAnswer(200, render(report, fmt), CONTENT_TYPES[fmt], headers)


def report_from_engine(engine: Engine, cluster: str, compiled: CompileResult, *, view: ClusterView | None,
                       window: timedelta = DEFAULT_WINDOW, device: str | None = None,
                       configured: Collection[str] | None = None,
                       capacity: Mapping[str, CapacityReport] | None = None,
                       transport: Sequence[TransportWarning] = ()) -> Report:
    """`build_report` over [now - window, now) in a read transaction of its own."""
    until = utcnow()
    with session_factory(engine).begin() as session:
        return build_report(compiled, Store(session, cluster), view=view, since=until - window, until=until,
                            device=device, configured=configured, capacity=capacity, transport=transport)


def serve_report(query: str, authorization: str | None, *, engine: Engine | None, cluster: str,
                 compiled: Callable[[], CompileResult], view: ClusterView | None,
                 configured: Collection[str], ready: bool,
                 capacity: Callable[[], Mapping[str, CapacityReport]] | None = None,
                 transport: Callable[[], Sequence[TransportWarning]] | None = None) -> HttpAnswer:
    """The controller's `GET /report`: `compiled()` is its latest compile result, `view` its cache,
    `capacity()` each device's table usage as of its latest sync, `transport()` the weakenings of
    transport security found at start; 503 until `ready` and the store `engine` is open."""
    def build(window: timedelta, device: str | None) -> Report:
        assert engine is not None
        return report_from_engine(engine, cluster, compiled(), view=view, window=window, device=device,
                                  configured=configured, capacity=capacity() if capacity else None,
                                  transport=transport() if transport else ())

    return answer_report(build, query, authorization, ready=ready and engine is not None,
                         devices=configured)
