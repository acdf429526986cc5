"""FortiGate REST API mock (FortiOS 6.4 cmdb subset); see docs/adapters.md, "Testing against the mock".

Routes (every one takes `?vdom=`; default `root`, unknown → 404 error envelope):
  GET|POST   /api/v2/cmdb/<table>                     list (filter/format/start/count) / create
  DELETE     /api/v2/cmdb/<table>                     purge every unreferenced entry (like FortiOS)
  GET|PUT|DELETE /api/v2/cmdb/<table>/<mkey>          read / partial update / delete
  PUT        /api/v2/cmdb/firewall/policy/<id>?action=move&before=<id>|after=<id>
  GET|POST   /api/v2/cmdb/firewall/addrgrp[6]/<grp>/member
  GET|DELETE /api/v2/cmdb/firewall/addrgrp[6]/<grp>/member/<name>
  GET        /api/v2/cmdb/<table>?action=schema       the table's schema (`mocks.fortigate.schema`)
  GET        /api/v2/cmdb?action=schema               every served table's schema
  GET        /api/v2/monitor/system/status            the status probe of fortigate-api's login
  GET        /api/v2/cmdb/system/status               the status probe of fortiosapi's tokenlogin
Any other `/api/...` path answers FortiOS's JSON 404 envelope; paths outside `/api/` an HTML 404.
`global=1`, `vdom=*` (every VDOM) and `vdom=a,b` answer a JSON list with one envelope per VDOM, in
that order, with the HTTP status of the first VDOM that failed (else 200).
Table sizes (`table_sizes`, also `--table-size PATH=N`): a create in a full table answers HTTP 500
with FortiOS error -4. `GET /_mock/tables` shows them with each VDOM's usage; `POST /_mock/tables`
`{"firewall/address": 100, "firewall/policy": null}` sets or (null) lifts limits at run time; a
reset restores the sizes given at start.
Traffic (`mocks.fortigate.traffic`, docs/mocks.md): `POST /_mock/traffic` decides a flow by
first match over a VDOM's policies (`vdom`, `srcintf`, `dstintf` optional keys) and answers
`{"action", "rule": policyid, "policyname", "logged"}`; sessions a policy logs are sent as FortiOS
traffic log lines to the syslog target (`--syslog`, `GET|POST /_mock/syslog`, options `format`
default|rfc5424 and `fwpolicyImplicitLog`).
Auth: `Authorization: Bearer <token>` or `?access_token=<token>`; otherwise an HTML 401.
Path segments are percent-decoded one by one, so names may contain `/`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from mocks.common.app import MockApp
from mocks.common.http import Request, Response, json_response
from mocks.common.syslog import SyslogEndpoint, SyslogTarget
from mocks.common.traffic import TrafficError, bad_request, parse_flow, traffic_request
from mocks.fortigate.logline import FORMATS, traffic_line
from mocks.fortigate.query import QueryError, compile_filters, project, window
from mocks.fortigate.schema import table_schema, tree_schema
from mocks.fortigate.store import DEFAULT_INTERFACES, GROUPS, POLICY, TABLES, CmdbError, Vdom
from mocks.fortigate.traffic import decide

VERSION = "v6.4.14"
BUILD = 2093
SERIAL = "FGVM02TM24000001"
HOSTNAME = "FGVM-MOCK"
IMPLICIT_LOG = "fwpolicyImplicitLog"
CMDB = "/api/v2/cmdb/"


def _html(status: int, title: str) -> Response:
    body = (f"<html><head><title>{status} {title}</title></head>"
            f"<body><h1>{title}</h1></body></html>").encode()
    return Response(status=status, body=body, headers={"Content-Type": "text/html"})


class FortigateMock(MockApp):
    name = "fortigate"

    def __init__(self, token: str = "mock-token", vdoms: tuple[str, ...] = ("root",),
                 interfaces: tuple[str, ...] | None = None,
                 table_sizes: Mapping[str, int] | None = None, syslog: SyslogTarget | None = None,
                 syslog_format: str = "default", implicit_log: bool = False) -> None:
        super().__init__()
        self.syslog = SyslogEndpoint(syslog, FORMATS, syslog_format, {IMPLICIT_LOG: implicit_log})
        self._sessions = itertools.count(100_001)
        self.token = token
        self.vdom_names = vdoms
        self.interfaces = frozenset(interfaces or DEFAULT_INTERFACES)
        self.initial_table_sizes = check_table_sizes(dict(table_sizes or {}))
        self.table_sizes: dict[str, int] = {}
        self._lock = threading.RLock()
        self._revision = 0
        self.vdoms: dict[str, Vdom] = {}
        self.reset_state()

    def reset_state(self) -> None:
        with self._lock:
            self.table_sizes = dict(self.initial_table_sizes)
            self.vdoms = {name: Vdom(name, self.interfaces, table_sizes=self.table_sizes)
                          for name in self.vdom_names}
            self._revision = 0
        self.syslog.reset()

    def custom_mock_route(self, request: Request) -> Response | None:
        path = request.path.rstrip("/")
        if path == "/_mock/traffic" and request.method == "POST":
            return self._traffic(request)
        if path == "/_mock/syslog":
            return self.syslog.route(request)
        if path != "/_mock/tables":
            return None
        if request.method == "POST":
            try:
                body = request.json()
                if not isinstance(body, dict):
                    raise ValueError("a JSON object of table -> size (or null)")
                lifted = [table for table, size in body.items() if size is None]
                sizes = check_table_sizes({t: s for t, s in body.items() if s is not None})
                for table in lifted:
                    check_table_sizes({table: 0})
            except ValueError as exc:
                return json_response(400, {"error": str(exc)})
            with self._lock:
                for table in lifted:
                    self.table_sizes.pop(table, None)
                self.table_sizes.update(sizes)
        elif request.method != "GET":
            return json_response(405, {"error": f"{request.method} is not allowed on /_mock/tables"})
        with self._lock:
            usage = {name: {table: len(vdom.entries(table)) for table in TABLES}
                     for name, vdom in self.vdoms.items()}
            return json_response(200, {"tables": dict(self.table_sizes), "usage": usage})

    def _traffic(self, request: Request) -> Response:
        """Decide a flow (`mocks.fortigate.traffic`) and send the log lines of logged sessions."""
        try:
            flow = parse_flow(traffic_request(request.body), ("vdom", "srcintf", "dstintf"))
        except TrafficError as exc:
            return bad_request(exc)
        vdom_name = flow.extra.get("vdom", "root")
        with self._lock:
            vdom = self.vdoms.get(vdom_name)
            if vdom is None:
                return bad_request(TrafficError(f"vdom {vdom_name!r} does not exist"))
            match = decide(vdom, flow, self.syslog.option(IMPLICIT_LOG))
        logged = 0
        if match.logged:
            fmt = self.syslog.format
            logged = self.syslog.emit(
                traffic_line(match, flow, vdom=vdom_name, devname=HOSTNAME, devid=SERIAL,
                             sessionid=next(self._sessions), fmt=fmt)
                for _ in range(flow.count))
        return json_response(200, {**match.answer(), "logged": logged})

    # --- envelope ------------------------------------------------------------------------------
    def _revision_text(self) -> str:
        return hashlib.md5(str(self._revision).encode(), usedforsecurity=False).hexdigest()

    def _envelope(self, method: str, vdom: str, table: str, status: int, **extra: Any) -> dict[str, Any]:
        path, _, name = table.rpartition("/")
        out: dict[str, Any] = {"http_method": method, "revision": self._revision_text()}
        out.update(extra)
        out.update({"vdom": vdom, "path": path, "name": name,
                    "status": "success" if status == 200 else "error", "http_status": status,
                    "serial": SERIAL, "version": VERSION, "build": BUILD})
        return out

    def error(self, status: int, message: str) -> Response:
        if status in (401, 429):
            return _html(status, "Unauthorized" if status == 401 else "Too Many Requests")
        return json_response(status, {"http_method": "", "status": "error", "http_status": status,
                                      "serial": SERIAL, "version": VERSION, "build": BUILD})

    # --- dispatch ------------------------------------------------------------------------------
    def _authorized(self, request: Request) -> bool:
        header = request.header("Authorization") or ""
        if header == f"Bearer {self.token}":
            return True
        return request.arg("access_token") == self.token

    def handle(self, request: Request) -> Response:
        if not self._authorized(request):
            return _html(401, "Unauthorized")
        raw = request.raw_path
        if not raw.startswith("/api/"):
            return _html(404, "Not Found")
        if raw.rstrip("/") == "/api/v2/monitor/system/status" and request.method == "GET":
            return self._status(request)
        names, several = self._target_vdoms(request)
        if not several:
            return self._one(request, names[0])
        answers = [self._one(request, name) for name in names]
        status = next((answer.status for answer in answers if answer.status != 200), 200)
        return json_response(status, [json.loads(answer.body) for answer in answers])

    def _target_vdoms(self, request: Request) -> tuple[list[str], bool]:
        """The VDOMs a request addresses and whether it asked for several (one envelope each):
        `global=1` and `vdom=*` mean every VDOM, `vdom=a,b` those; default `root`."""
        if request.arg("global") in ("1", "true"):
            return list(self.vdom_names), True
        text = request.arg("vdom") or "root"
        if text == "*":
            return list(self.vdom_names), True
        names = [name for name in text.split(",") if name] or ["root"]
        return names, len(names) > 1

    def _one(self, request: Request, vdom_name: str) -> Response:
        """The answer of one VDOM."""
        raw = request.raw_path
        method = request.method
        if raw.rstrip("/") == "/api/v2/cmdb/system/status" and method == "GET":
            return self._cmdb_status(vdom_name)
        if raw.rstrip("/") == CMDB.rstrip("/") and method == "GET" and request.arg("action") == "schema":
            return json_response(200, self._envelope(method, vdom_name, "/", 200, results=tree_schema(),
                                                     action="schema"))
        if not raw.startswith(CMDB):
            return self._unknown_path(method, vdom_name, raw)
        segments = [unquote(part) for part in raw[len(CMDB):].split("/")]
        if segments and segments[-1] == "" and len(segments) > 2:
            segments.pop()
        table = "/".join(segments[:2])
        if len(segments) < 2 or table not in TABLES:
            return self._unknown_path(method, vdom_name, raw)
        with self._lock:
            vdom = self.vdoms.get(vdom_name)
            if vdom is None:
                return json_response(404, self._envelope(method, vdom_name, table, 404, error=-3,
                                                         cli_error=f"vdom {vdom_name!r} not found"))
            try:
                return self._route(request, vdom, table, segments[2:])
            except CmdbError as exc:
                extra: dict[str, Any] = {"revision_changed": False}
                if exc.code is not None:
                    extra["error"] = exc.code
                extra["cli_error"] = exc.message
                envelope = self._envelope(method, vdom_name, table, exc.http_status, **extra)
                return json_response(exc.http_status, envelope)
            except QueryError as exc:
                return json_response(400, self._envelope(method, vdom_name, table, 400, cli_error=str(exc)))

    def _unknown_path(self, method: str, vdom: str, raw: str) -> Response:
        """FortiOS's JSON 404 for an API path it does not serve: `path`/`name` (and `action`) are the
        segments after the tree (`/api/v2/<tree>/<path>/<name>[/<action>]`)."""
        parts = [unquote(part) for part in raw.split("?", 1)[0].split("/")[4:] if part]
        out: dict[str, Any] = {"http_method": method, "vdom": vdom}
        if len(parts) > 0:
            out["path"] = parts[0]
        if len(parts) > 1:
            out["name"] = parts[1]
        if len(parts) > 2:
            out["action"] = parts[2]
        out.update({"status": "error", "http_status": 404, "serial": SERIAL, "version": VERSION,
                    "build": BUILD})
        return json_response(404, out)

    def _route(self, request: Request, vdom: Vdom, table: str, rest: list[str]) -> Response:
        method = request.method
        if not rest:
            if method == "GET" and request.arg("action") == "schema":
                return json_response(200, self._envelope(method, vdom.name, table, 200,
                                                         results=table_schema(table), action="schema"))
            if method == "GET":
                return self._list(request, vdom, table)
            if method == "POST":
                return self._write(method, vdom, table, lambda: vdom.create(table, self._body(request)))
            if method == "DELETE":
                return self._write(method, vdom, table, lambda: vdom.purge(table))
            return self._not_allowed(method, vdom, table)
        mkey = rest[0]
        if len(rest) == 1:
            if method == "GET":
                entry = vdom.get(table, mkey)
                if entry is None:
                    raise CmdbError(404, None, f"{mkey!r} not found")
                return json_response(200, self._envelope(method, vdom.name, table, 200, results=[entry],
                                                         matched_count=1, mkey=_mkey(table, mkey)))
            if method == "PUT" and request.arg("action") == "move":
                if table != POLICY:
                    return self._not_allowed(method, vdom, table)
                before, after = request.arg("before"), request.arg("after")
                if (before is None) == (after is None):
                    raise CmdbError(400, None, "move needs exactly one of before= and after=")
                return self._write(method, vdom, table, lambda: vdom.move(mkey, before, after), action="move")
            if method == "PUT":
                return self._write(method, vdom, table, lambda: vdom.update(table, mkey, self._body(request)))
            if method == "DELETE":
                return self._write(method, vdom, table, lambda: vdom.delete(table, mkey))
            return self._not_allowed(method, vdom, table)
        if table in GROUPS and rest[1] == "member" and len(rest) in (2, 3):
            return self._member(request, vdom, table, mkey, rest[2] if len(rest) == 3 else None)
        raise CmdbError(404, None, "no such child table")

    def _member(self, request: Request, vdom: Vdom, table: str, group: str,
                member: str | None) -> Response:
        method = request.method
        entry = vdom.get(table, group)
        if entry is None:
            raise CmdbError(404, None, f"{table} {group!r} not found")
        if member is None and method == "GET":
            members = entry["member"]
            return json_response(200, self._envelope(method, vdom.name, table, 200, results=members))
        if member is None and method == "POST":
            return self._write(method, vdom, table,
                               lambda: vdom.add_member(group, self._body(request), table))
        if member is not None and method == "GET":
            found = [m for m in entry["member"] if m["name"] == member]
            if not found:
                raise CmdbError(404, None, f"member {member!r} not found")
            return json_response(200, self._envelope(method, vdom.name, table, 200, results=found))
        if member is not None and method == "DELETE":
            return self._write(method, vdom, table, lambda: vdom.delete_member(group, member, table))
        return self._not_allowed(method, vdom, table)

    def _not_allowed(self, method: str, vdom: Vdom, table: str) -> Response:
        return json_response(405, self._envelope(method, vdom.name, table, 405))

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError as exc:
            raise CmdbError(400, None, "body is not JSON") from exc
        if not isinstance(body, dict):
            raise CmdbError(400, None, "body must be a JSON object")
        return body

    def _list(self, request: Request, vdom: Vdom, table: str) -> Response:
        predicate = compile_filters(request.query.get("filter", []))
        matched = [entry for entry in vdom.entries(table) if predicate(entry)]
        page = window(matched, request.arg("start"), request.arg("count"))
        results = [project(entry, request.arg("format")) for entry in page]
        return json_response(200, self._envelope("GET", vdom.name, table, 200, results=results,
                                                 size=len(vdom.entries(table)), matched_count=len(matched)))

    def _write(self, method: str, vdom: Vdom, table: str, operation: Any,
               action: str | None = None) -> Response:
        old = self._revision_text()
        mkey = operation()
        self._revision += 1
        extra: dict[str, Any] = {"old_revision": old, "revision_changed": True, "mkey": mkey}
        if action:
            extra["action"] = action
        body = self._envelope(method, vdom.name, table, 200, **extra)
        return json_response(200, body)

    def _cmdb_status(self, vdom: str) -> Response:
        """`GET /api/v2/cmdb/system/status`: the probe fortiosapi's `tokenlogin` makes (it reads only
        `version`); FortiOS 6.4/7.2 answer it, 7.4.5 answers 404."""
        return json_response(200, {
            "http_method": "GET", "results": {"hostname": HOSTNAME, "serial": SERIAL, "version": VERSION,
                                              "build": BUILD},
            "vdom": vdom, "path": "system", "name": "status", "status": "success", "http_status": 200,
            "serial": SERIAL, "version": VERSION, "build": BUILD})

    def _status(self, request: Request) -> Response:
        vdom = request.arg("vdom") or "root"
        return json_response(200, {
            "http_method": "GET",
            "results": {"model_name": "FortiGate", "model_number": "VM64", "model": "FGVMK6",
                        "hostname": HOSTNAME, "log_disk_status": "available"},
            "vdom": vdom, "path": "system", "name": "status", "action": "", "status": "success",
            "serial": SERIAL, "version": VERSION, "build": BUILD})

    # --- inspection for tests (no HTTP) --------------------------------------------------------
    def snapshot(self, vdom: str = "root") -> dict[str, Any]:
        with self._lock:
            v = self.vdoms[vdom]
            out: dict[str, Any] = json.loads(json.dumps({table: v.entries(table) for table in TABLES}))
            return out


def check_table_sizes(sizes: dict[str, Any]) -> dict[str, int]:
    """`sizes` when every key is a known cmdb table and every size an integer >= 0; else ValueError."""
    for table, size in sizes.items():
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r} (one of {', '.join(TABLES)})")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"size of {table} must be an integer >= 0, not {size!r}")
    return sizes


def _mkey(table: str, mkey: str) -> str | int:
    return int(mkey) if table == POLICY and mkey.isdigit() else mkey
