"""The AS3 mock: `/mgmt/shared/appsvcs/{declare,task,info}` with AS3 3.56 semantics.

- POST `/declare[/<t1>,<t2>]` takes an AS3 request or a bare ADC. Invalid declarations → 422
  `declaration is invalid` (first error, path named; 400 for the 255-character path limit); nothing
  is deployed. Each tenant of the declaration (only those named in the path, when the path names
  some) REPLACES the stored tenant; other tenants are untouched (`updateMode: complete` removes them).
  A tenant without applications deletes it. Per tenant: `success`, `no change` (deep-equal), or
  `declaration failed` (code 422, mcpd error in `response`; also for a virtual server identical to
  another tenant's, `mocks.bigip.virtuals`); HTTP 200 all good, 207 mixed, 422 all
  failed. `?async=true` → 202 with a task id; `/task/<id>` shows `in progress` (code 0) until done.
- One configuration operation at a time: while a declaration or delete is processed, other writes
  get 503 "Configuration operation in progress on device …". GETs are served meanwhile.
- Processing time: `processing_model="none"` takes a fixed `processing_ms`; `"realistic"` takes
  `mocks.bigip.timing.declaration_seconds` of the tenants touched (times `processing_scale`), keeps
  a task record for every declaration as AS3 does, and answers a synchronous declare still running
  after 45 s (times the scale) with 202 and its task id, as AS3 swaps to async.
- GET `/declare` → 204 when nothing is declared; GET `/declare/<T>` → 404 when T is absent.
- DELETE `/declare[/<tenants>]` removes tenants.
- Auth: Basic or `X-F5-Auth-Token` (see `mocks.bigip.auth`).
Extra `/_mock/` endpoints: `POST /_mock/seed` (ADC or `{tenant: body}` stored as is, e.g. a foreign
tenant), `POST /_mock/config` (`processingMs`, `processingModel`, `processingScale`,
`tokenLifetime`), `POST /_mock/tokens/expire`,
`GET /_mock/tenants`.
Traffic (`mocks.bigip.traffic`, docs/mocks.md): `POST /_mock/traffic` decides a flow over the
declared tenants' AFM policies (optional key `routeDomain`) and answers `{"action", "rule",
"policy", "context", "staged", "logged"}` (`staged`: `{"action", "rule", "policy"}` of the staged
policy's match, else null; it decides nothing); logged matches, enforced and staged, are sent as
AFM log lines to the syslog target (`--syslog`, `GET|POST /_mock/syslog`, `format` rfc5424|splunk).
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from mocks.bigip.auth import TokenStore
from mocks.bigip.logline import FORMATS, afm_line
from mocks.bigip.provision import MODULES, unprovisioned_error
from mocks.bigip.schema import SchemaValidator
from mocks.bigip.timing import ASYNC_SWAP_SECONDS, declaration_seconds, tenant_size
from mocks.bigip.traffic import decide
from mocks.bigip.validate import Invalid, check_declaration, deploy_failure
from mocks.bigip.virtuals import conflict
from mocks.common.app import MockApp
from mocks.common.http import Request, Response, json_response
from mocks.common.syslog import SyslogEndpoint, SyslogTarget
from mocks.common.traffic import TrafficError, bad_request, parse_flow, traffic_request

APPSVCS = "/mgmt/shared/appsvcs"
VERSION = {"version": "3.56.0", "release": "10", "schemaCurrent": "3.56.0", "schemaMinimum": "3.0.0"}
BUSY = "Error: Configuration operation in progress on device localhost, please try again in 2 minutes"
MAX_TASKS = 25
ADC_HEADER = ("class", "schemaVersion", "id", "label", "remark", "updateMode")
PROCESSING_MODELS = ("none", "realistic")
HOSTNAME = "bigip1.mock.local"
MGMT_IP = "192.0.2.245"
DEVICE_VERSION = "17.1.0.0.0.0"


def _is_tenant(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("class") == "Tenant"


def _has_applications(tenant: Mapping[str, Any]) -> bool:
    return any(isinstance(v, Mapping) and "class" in v for v in tenant.values())


class BigIpApp(MockApp):
    name = "bigip"

    def __init__(self, username: str = "admin", password: str = "admin", *, token_lifetime: float = 1200.0,
                 processing_ms: int = 20, schema_path: str | None = None, processing_model: str = "none",
                 processing_scale: float = 1.0, syslog: SyslogTarget | None = None,
                 syslog_format: str = "rfc5424", unprovisioned: Collection[str] = ()) -> None:
        super().__init__()
        self.unprovisioned = _check_modules(unprovisioned)
        self.syslog = SyslogEndpoint(syslog, FORMATS, syslog_format)
        self.tokens = TokenStore(username, password, token_lifetime)
        self.processing_ms = processing_ms
        self.processing_model = _check_model(processing_model)
        self.processing_scale = _check_scale(processing_scale)
        self.schema = SchemaValidator(schema_path) if schema_path else None
        self._state_lock = threading.Lock()
        self._busy = threading.Lock()
        self.tenants: dict[str, dict[str, Any]] = {}
        self.header: dict[str, Any] = {}
        self.tasks: OrderedDict[str, dict[str, Any]] = OrderedDict()

    # --- MockApp hooks --------------------------------------------------------------------------
    def error(self, status: int, message: str) -> Response:
        if status == 503:
            return json_response(503, {"code": 503, "message": BUSY})
        return json_response(status, {"code": status, "message": message})

    def reset_state(self) -> None:
        with self._state_lock:
            self.tenants.clear()
            self.header.clear()
            self.tasks.clear()
        self.tokens.clear()
        self.syslog.reset()

    def custom_mock_route(self, request: Request) -> Response | None:
        path = request.path.rstrip("/")
        if path == "/_mock/traffic" and request.method == "POST":
            return self._traffic(request)
        if path == "/_mock/syslog":
            return self.syslog.route(request)
        if path == "/_mock/seed" and request.method == "POST":
            body = request.json() or {}
            source = body.get("declaration", body) if isinstance(body, dict) else {}
            seeded = []
            with self._state_lock:
                for name, tenant in source.items():
                    if _is_tenant(tenant):
                        self.tenants[name] = copy.deepcopy(tenant)
                        seeded.append(name)
            return json_response(200, {"seeded": seeded})
        if path == "/_mock/config" and request.method == "POST":
            body = request.json() or {}
            try:
                model = _check_model(body.get("processingModel", self.processing_model))
                scale = _check_scale(body.get("processingScale", self.processing_scale))
            except ValueError as exc:
                return json_response(400, {"error": str(exc)})
            self.processing_model, self.processing_scale = model, scale
            if "processingMs" in body:
                self.processing_ms = int(body["processingMs"])
            if "tokenLifetime" in body:
                self.tokens.lifetime = float(body["tokenLifetime"])
            if "unprovisioned" in body:
                try:
                    self.unprovisioned = _check_modules(body["unprovisioned"])
                except ValueError as exc:
                    return json_response(400, {"error": str(exc)})
            return json_response(200, {"processingMs": self.processing_ms, "processingModel": model,
                                       "processingScale": scale, "tokenLifetime": self.tokens.lifetime,
                                       "unprovisioned": sorted(self.unprovisioned)})
        if path == "/_mock/tokens/expire" and request.method == "POST":
            return json_response(200, {"expired": self.tokens.expire_all()})
        if path == "/_mock/tenants" and request.method == "GET":
            with self._state_lock:
                return json_response(200, copy.deepcopy(self.tenants))
        return None

    def _traffic(self, request: Request) -> Response:
        """Decide a flow (`mocks.bigip.traffic`) and send a line per logged match (enforced or
        staged) and flow."""
        try:
            flow = parse_flow(traffic_request(request.body), ("routeDomain",))
        except TrafficError as exc:
            return bad_request(exc)
        with self._state_lock:
            decision = decide(self.tenants, flow)
        fmt = self.syslog.format
        lines = [afm_line(hit, flow, hostname=HOSTNAME, mgmt_ip=MGMT_IP, version=DEVICE_VERSION, fmt=fmt)
                 for hit in decision.logged()]
        logged = self.syslog.emit(line for _ in range(flow.count) for line in lines) if lines else 0
        return json_response(200, {**decision.answer(), "logged": logged})

    # --- protocol ---------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if path == "/mgmt/shared/authn/login" and request.method == "POST":
            return self.tokens.login(request)
        denied = self.tokens.check(request)
        if denied is not None:
            return denied
        if path.startswith("/mgmt/shared/authz/tokens/") and request.method == "DELETE":
            token = path.rsplit("/", 1)[1]
            return json_response(200 if self.tokens.revoke(token) else 404, {"token": token})
        if path == f"{APPSVCS}/info" and request.method == "GET":
            return json_response(200, VERSION)
        if path == f"{APPSVCS}/declare" or path.startswith(f"{APPSVCS}/declare/"):
            names = [t for t in path[len(f"{APPSVCS}/declare"):].strip("/").split(",") if t]
            if request.method == "GET":
                return self._get(names)
            if request.method == "POST":
                return self._post(request, names)
            if request.method == "DELETE":
                return self._delete(request, names)
            return self.error(405, f"Method not allowed: {request.method}")
        if path == f"{APPSVCS}/task" and request.method == "GET":
            with self._state_lock:
                return json_response(200, {"items": copy.deepcopy(list(self.tasks.values()))})
        if path.startswith(f"{APPSVCS}/task/") and request.method == "GET":
            task_id = path.rsplit("/", 1)[1]
            with self._state_lock:
                record = self.tasks.get(task_id)
                record = copy.deepcopy(record) if record is not None else None
            if record is None:
                return json_response(404, {"code": 404, "message": f"No record found with ID of {task_id}"})
            return json_response(200, record)
        return self.error(404, f"Public URI path not registered: {request.path}")

    def _adc(self, tenants: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"class": "ADC", "schemaVersion": "3.56.0", "updateMode": "selective"}
        out.update({k: v for k, v in self.header.items() if k in ADC_HEADER})
        out["controls"] = {"archiveTimestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
        out.update(copy.deepcopy(dict(tenants)))
        return out

    def _get(self, names: list[str]) -> Response:
        with self._state_lock:
            if not names:
                return Response(204) if not self.tenants else json_response(200, self._adc(self.tenants))
            if not self.tenants:
                return self.error(404, "declaration in specified path not found")
            missing = [n for n in names if n not in self.tenants]
            if missing:
                quoted = ",".join(missing)
                return self.error(404, f"specified Tenant(s) '{quoted}' not found in declaration")
            return json_response(200, self._adc({n: self.tenants[n] for n in names}))

    def _post(self, request: Request, names: list[str]) -> Response:
        try:
            body = request.json()
        except ValueError as exc:
            return json_response(422, {"code": 422, "message": f"Invalid request: {exc}"})
        if not isinstance(body, dict):
            return json_response(422, {"code": 422, "message": "Invalid request: should be object"})
        dry_run = False
        declaration: Any = body
        if body.get("class") == "AS3":
            action = body.get("action", "deploy")
            if action not in ("deploy", "dry-run"):
                return json_response(422, {"code": 422, "message": "Invalid request: /action: should be "
                                           "equal to one of the allowed values [\"deploy\",\"dry-run\"]"})
            dry_run = action == "dry-run"
            declaration = body.get("declaration")
            if not isinstance(declaration, dict):
                return json_response(422, {"code": 422, "message": "Invalid request: should have required "
                                           "property 'declaration'"})
        controls = declaration.get("controls") if isinstance(declaration.get("controls"), dict) else {}
        dry_run = dry_run or bool(controls.get("dryRun"))
        tenants = [t for t, v in declaration.items() if _is_tenant(v) and (not names or t in names
                                                                           or t == "Common")]
        # AS3 holds its lock while it validates: a concurrent write meanwhile gets 503
        if not self._busy.acquire(blocking=False):
            return self.error(503, BUSY)
        try:
            error = self._validation_error(declaration)
        except Invalid as exc:
            self._busy.release()
            return json_response(exc.status, {"code": exc.status, "message": str(exc)})
        except BaseException:
            self._busy.release()
            raise
        if error is not None:
            self._busy.release()
            return json_response(422, {"code": 422, "message": "declaration is invalid", "errors": [error],
                                       "declarationFullId": str(declaration.get("id", "")),
                                       "host": "localhost", "tenant": tenants})
        realistic = self.processing_model == "realistic"
        try:
            delay = self._declare_delay(declaration, tenants, names)
        except BaseException:
            self._busy.release()
            raise
        if not realistic and request.arg("async") != "true":
            try:
                status, payload = self._deploy(declaration, tenants, names, dry_run, delay)
            finally:
                self._busy.release()
            return json_response(status, payload)
        job = self._submit(declaration, tenants, names, dry_run, delay)
        if request.arg("async") != "true" and job.done.wait(ASYNC_SWAP_SECONDS * self.processing_scale):
            return json_response(job.status, job.payload)
        return json_response(202, {"id": job.task_id, "results": [{
            "message": "Declaration successfully submitted", "tenant": "", "runTime": 0, "code": 0,
            "host": ""}], "declaration": {}, "selfLink": f"https://localhost{APPSVCS}/task/{job.task_id}"})

    def _validation_error(self, declaration: dict[str, Any]) -> str | None:
        """AS3's first error line for the declaration (schema, then the checks of
        `mocks.bigip.validate`, then module provisioning), or None; raises `Invalid` for errors AS3
        answers with another status than 422."""
        if self.schema is not None:
            error = self.schema.first_error(declaration)
            if error is not None:
                return error
        with self._state_lock:
            stored = copy.deepcopy(self.tenants)
        try:
            check_declaration(declaration, stored)
        except Invalid as exc:
            if exc.status != 422:
                raise
            return str(exc)
        provisioned = [module for module in MODULES if module not in self.unprovisioned]
        return unprovisioned_error(declaration, provisioned)

    def _declare_delay(self, declaration: dict[str, Any], tenants: list[str], names: list[str]) -> float:
        """Seconds the declaration takes under the current processing model."""
        if self.processing_model != "realistic":
            return self.processing_ms / 1000
        with self._state_lock:
            stored = {name: tenant_size(body) for name, body in self.tenants.items()}
        touched = {t: tenant_size(declaration[t]).larger(stored.get(t, tenant_size(None))) for t in tenants}
        if declaration.get("updateMode") == "complete" and not names:
            touched.update({t: size for t, size in stored.items() if t not in touched and t != "Common"})
        return declaration_seconds(touched.values()) * self.processing_scale

    def _submit(self, declaration: dict[str, Any], tenants: list[str], names: list[str], dry_run: bool,
                delay: float) -> _Job:
        """Record a task and process the declaration in the background (the busy lock is held)."""
        job = _Job(str(uuid.uuid4()))
        record = {"id": job.task_id, "results": [{"message": "in progress", "tenant": "", "host": "",
                                                  "runTime": 0, "code": 0}],
                  "declaration": {}, "selfLink": f"https://localhost{APPSVCS}/task/{job.task_id}"}
        with self._state_lock:
            self.tasks[job.task_id] = record
            while len(self.tasks) > MAX_TASKS:
                self.tasks.popitem(last=False)
        worker = threading.Thread(target=self._run_task, args=(job, declaration, tenants, names, dry_run,
                                                               delay), daemon=True)
        worker.start()
        return job

    def _run_task(self, job: _Job, declaration: dict[str, Any], tenants: list[str], names: list[str],
                  dry_run: bool, delay: float) -> None:
        try:
            job.status, job.payload = self._deploy(declaration, tenants, names, dry_run, delay)
        finally:
            self._busy.release()
        with self._state_lock:
            if job.task_id in self.tasks:
                self.tasks[job.task_id].update(job.payload)
        job.done.set()

    def _deploy(self, declaration: dict[str, Any], tenants: list[str], names: list[str],
                dry_run: bool, delay: float) -> tuple[int, dict[str, Any]]:
        started = time.monotonic()
        if delay > 0:
            time.sleep(delay)
        results: list[dict[str, Any]] = []
        deployed: dict[str, Any] = {}
        with self._state_lock:
            if declaration.get("updateMode") == "complete" and not names and not dry_run:
                for gone in [t for t in self.tenants if t not in tenants and t != "Common"]:
                    del self.tenants[gone]
                    results.append(self._result(gone, 200, "success", started))
            for tenant in tenants:
                body = copy.deepcopy(declaration[tenant])
                if not _has_applications(body):
                    existed = tenant in self.tenants
                    if existed and not dry_run:
                        del self.tenants[tenant]
                    results.append(self._result(tenant, 200, "success" if existed else "no change", started))
                    continue
                failure = deploy_failure(tenant, body) or conflict(
                    tenant, body, {**self.tenants, **deployed})
                if failure is not None:
                    result = self._result(tenant, 422, "declaration failed", started)
                    result["response"] = failure
                    results.append(result)
                    continue
                if self.tenants.get(tenant) == body:
                    results.append(self._result(tenant, 200, "no change", started))
                else:
                    if not dry_run:
                        self.tenants[tenant] = body
                    results.append(self._result(tenant, 200, "success", started))
                deployed[tenant] = body
            if not dry_run:
                self.header = {k: v for k, v in declaration.items() if k in ADC_HEADER}
        if not results:
            results.append(self._result("", 200, "no change", started))
        response_declaration = self._adc(deployed)
        if dry_run:
            response_declaration["controls"]["dryRun"] = True
        failed = [r for r in results if r["code"] != 200]
        status = 200 if not failed else 422 if len(failed) == len(results) else 207
        return status, {"results": results, "declaration": response_declaration}

    @staticmethod
    def _result(tenant: str, code: int, message: str, started: float) -> dict[str, Any]:
        return {"code": code, "message": message, "lineCount": 0, "host": "localhost", "tenant": tenant,
                "runTime": int((time.monotonic() - started) * 1000)}

    def _delete(self, request: Request, names: list[str]) -> Response:
        if not self._busy.acquire(blocking=False):
            return self.error(503, BUSY)
        started = time.monotonic()
        try:
            if self.processing_model == "realistic":
                with self._state_lock:
                    sizes = [tenant_size(self.tenants.get(t)) for t in (names or list(self.tenants))]
                time.sleep(declaration_seconds(sizes) * self.processing_scale)
            elif self.processing_ms:
                time.sleep(self.processing_ms / 1000)
            with self._state_lock:
                targets = names or list(self.tenants)
                results = []
                for tenant in targets:
                    existed = self.tenants.pop(tenant, None) is not None
                    results.append(self._result(tenant, 200, "success" if existed else "no change", started))
                remaining = self._adc(self.tenants)
        finally:
            self._busy.release()
        return json_response(200, {"results": results, "declaration": remaining})


@dataclass
class _Job:
    """One declaration processed in the background; `done` is set when `status`/`payload` are final."""

    task_id: str
    done: threading.Event = field(default_factory=threading.Event)
    status: int = 0
    payload: dict[str, Any] = field(default_factory=dict)


def _check_model(model: Any) -> str:
    if model not in PROCESSING_MODELS:
        raise ValueError(f"processing model must be one of {', '.join(PROCESSING_MODELS)}, not {model!r}")
    return str(model)


def _check_modules(modules: Any) -> frozenset[str]:
    if isinstance(modules, str) or not isinstance(modules, Collection) \
            or any(module not in MODULES for module in modules):
        raise ValueError(f"unprovisioned modules must be a list of {', '.join(MODULES)}, not {modules!r}")
    return frozenset(modules)


def _check_scale(scale: Any) -> float:
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
        raise ValueError(f"processing scale must be a number > 0, not {scale!r}")
    return float(scale)
