"""The generic REST receiver mock: `adapters/rest/openapi.yaml`, served faithfully and statefully.

Enforced: bearer token, media type (415/406), the optional HMAC-SHA256 signature with its replay
window, `Idempotency-Key` (replays of applied change sets, 422 on reuse with another body),
atomic ordered change sets with referential integrity and ownership, object limits, group
references and member changes (features that can be switched off to act as an older receiver),
and `limits` on the numbers of groups and rules.

Extra `/_mock/` endpoints (no auth), besides faults, requests and reset:
- `GET /_mock/state`: the state as `GET /state` returns it;
- `POST /_mock/seed`: `{"groups": [...], "addresses": [...], "services": [...], "rules": [...]}`
  creates or replaces objects by hand, each with the `owner` it names (default null), as an
  operator at the console would; rules are checked for references;
- `POST /_mock/delete`: `{"kind": K, "name": N}` deletes one object by hand (refused while in use).
Both bump the revision like any change on a real device. An extra fault kind,
`{"dropAfterApply": N}`, applies the next N change sets and then drops the connection without
answering (the answer is lost; a retry with the same Idempotency-Key must be a replay).
Traffic (`mocks.rest.traffic`, docs/mocks.md): `POST /_mock/traffic` decides a flow by the held
rules and answers `{"action": "allow"|"deny", "rule", "pushed"}`; flows of rules with `log: true`
are pushed as one JSON array of records to the flows target (`--flows URL`, `--flows-token`,
`GET|POST /_mock/flows`).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from mocks.common.app import MockApp
from mocks.common.http import DropConnection, Request, Response, json_response
from mocks.common.traffic import TrafficError, bad_request, parse_flow, traffic_request
from mocks.rest.push import FlowsEndpoint
from mocks.rest.state import COLLECTION, FEATURES, KINDS, LIMITED, ChangeError, Store, validate_object
from mocks.rest.traffic import decide, flow_record

MEDIA_TYPE = "application/vnd.fusion-connector.v1+json"
REPLAY_WINDOW = 300
REMEMBERED_KEYS = 10_000


class RestMock(MockApp):
    name = "rest"

    def __init__(self, token: str = "mock-token", hmac_secret: str | None = None,
                 max_objects: int = 100_000, max_changes: int = 10_000,
                 limits: Mapping[str, int | None] | None = None,
                 features: Iterable[str] = FEATURES, flows: str | None = None,
                 flows_token: str | None = None) -> None:
        """`limits`: most groups and rules held (`{"groups": N, "rules": M}`, None = no limit);
        `features`: the optional protocol features supported (default all of `FEATURES`);
        `flows`/`flows_token`: where logged flows are pushed (the connector's `POST /v1/flows`)."""
        super().__init__()
        self.flows = FlowsEndpoint(flows, flows_token)
        self.token = token
        self.hmac_secret = hmac_secret
        self.max_objects = max_objects
        self.max_changes = max_changes
        self.limits: dict[str, int | None] = {**dict.fromkeys(LIMITED), **(limits or {})}
        unknown = (set(self.limits) - set(LIMITED)) | (set(features) - set(FEATURES))
        if unknown:
            raise ValueError(f"unknown limits or features: {sorted(unknown)}")
        self.features = frozenset(features)
        self._lock = threading.Lock()
        self.store = self._empty_store()
        self._keys: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()
        self._drop_after_apply = 0

    def clear_requests(self) -> None:
        """Forget the request log, as `DELETE /_mock/requests` does."""
        with self._log_lock:
            self._log.clear()

    def _empty_store(self) -> Store:
        return Store(self.max_objects, limits=dict(self.limits), features=self.features)

    # --- MockApp ----------------------------------------------------------------------------------
    def error(self, status: int, message: str) -> Response:
        code = {429: "too_many_requests", 503: "unavailable"}.get(status, "error")
        return self._json(status, ChangeError(status, code, message).to_json())

    def reset_state(self) -> None:
        with self._lock:
            self.store = self._empty_store()
            self._keys.clear()
            self._drop_after_apply = 0
        self.flows.reset()

    def custom_fault(self, spec: dict[str, Any]) -> bool:
        if "dropAfterApply" not in spec:
            return False
        if set(spec) != {"dropAfterApply"}:
            raise ValueError("dropAfterApply takes no other keys")
        with self._lock:
            self._drop_after_apply = int(spec["dropAfterApply"])
        return True

    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if path == "/healthz" and request.method == "GET":
            return self._json(200, {"status": "ok"})
        problem = self._authenticate(request) or self._check_media(request)
        if problem is not None:
            return problem
        if path == "/" and request.method == "GET":
            return self._json(200, self.capabilities())
        if path == "/state" and request.method == "GET":
            with self._lock:
                return self._json(200, self.store.state())
        if path == "/changes" and request.method == "POST":
            return self._post_changes(request)
        if path in ("/", "/state", "/changes", "/healthz"):
            return self._problem(405, "method_not_allowed", f"{request.method} is not allowed on {path}")
        return self._problem(404, "not_found", f"no endpoint {path}")

    def custom_mock_route(self, request: Request) -> Response | None:
        path = request.path.rstrip("/")
        if path == "/_mock/state" and request.method == "GET":
            with self._lock:
                return json_response(200, self.store.state())
        if path == "/_mock/seed" and request.method == "POST":
            return self._seed(request)
        if path == "/_mock/delete" and request.method == "POST":
            return self._hand_delete(request)
        if path == "/_mock/traffic" and request.method == "POST":
            return self._traffic(request)
        return self.flows.route(request)

    def _traffic(self, request: Request) -> Response:
        """Decide a flow (`mocks.rest.traffic`) and push its records when the rule logs."""
        try:
            flow = parse_flow(traffic_request(request.body))
        except TrafficError as exc:
            return bad_request(exc)
        with self._lock:
            decision = decide(self.store, flow, self.flows.log_default)
        pushed = decision.logged and self.flows.push([flow_record(decision, flow)] * flow.count)
        return json_response(200, {**decision.answer(), "pushed": flow.count if pushed else 0})

    # --- protocol -------------------------------------------------------------------------------
    def capabilities(self) -> dict[str, Any]:
        return {"protocol": "fusion-connector.v1", "vendor": "fusion-connector mock receiver",
                "capabilities": {"fqdn": True, "ipv6": True, "logging": True,
                                 "signature": self.hmac_secret is not None,
                                 "maxObjects": self.max_objects, "maxChangesPerSet": self.max_changes,
                                 "groupReferences": "groupReferences" in self.features,
                                 "memberChanges": "memberChanges" in self.features,
                                 "wildcardFqdn": "wildcardFqdn" in self.features,
                                 "limits": dict(self.limits)}}

    def _authenticate(self, request: Request) -> Response | None:
        supplied = request.header("Authorization") or ""
        if not hmac.compare_digest(supplied.encode(), f"Bearer {self.token}".encode()):
            return self._problem(401, "unauthorized", "a valid bearer token is required",
                                 {"WWW-Authenticate": 'Bearer realm="fusion-connector"'})
        if self.hmac_secret is None:
            return None
        timestamp = request.header("X-FC-Timestamp") or ""
        digest = request.header("X-FC-Content-SHA256") or ""
        sig = request.header("X-FC-Signature") or ""
        if not (timestamp.isdigit() and digest and sig):
            return self._problem(401, "invalid_signature", "X-FC-Timestamp, X-FC-Content-SHA256 and "
                                                          "X-FC-Signature are required")
        if abs(time.time() - int(timestamp)) > REPLAY_WINDOW:
            return self._problem(401, "signature_expired", f"timestamp outside the {REPLAY_WINDOW} s window")
        if not hmac.compare_digest(digest, hashlib.sha256(request.body).hexdigest()):
            return self._problem(401, "invalid_signature", "X-FC-Content-SHA256 does not match the body")
        target = request.raw_path + ("?" + urlencode(request.query, doseq=True) if request.query else "")
        text = "\n".join((request.method.upper(), target, timestamp, digest,
                          request.header("Idempotency-Key") or ""))
        expected = "v1=" + hmac.new(self.hmac_secret.encode(), text.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig.encode(), expected.encode()):
            return self._problem(401, "invalid_signature", "the signature does not match")
        return None

    def _check_media(self, request: Request) -> Response | None:
        accept = request.header("Accept")
        if accept:
            accepted = {part.split(";")[0].strip().lower() for part in accept.split(",")}
            if not accepted & {MEDIA_TYPE, "*/*", "application/*"}:
                return self._problem(406, "not_acceptable", f"only {MEDIA_TYPE} is produced")
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
            if content_type != MEDIA_TYPE:
                return self._problem(415, "unsupported_media_type",
                                     f"send {MEDIA_TYPE}, not {content_type!r}")
        return None

    def _post_changes(self, request: Request) -> Response:
        key = request.header("Idempotency-Key") or ""
        if not key or len(key) > 255 or not all(0x21 <= ord(c) <= 0x7E for c in key):
            return self._problem(400, "bad_request", "an Idempotency-Key header (1-255 printable characters) "
                                                     "is required")
        try:
            body = request.json()
        except ValueError:
            return self._problem(400, "bad_request", "the body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("owner"), str) or not body["owner"] \
                or not isinstance(body.get("changes"), list) or not body["changes"]:
            return self._problem(422, "invalid", "a change set needs 'owner' and a non-empty 'changes' list")
        digest = hashlib.sha256(request.body).hexdigest()
        with self._lock:
            remembered = self._keys.get(key)
            if remembered is not None:
                if remembered[0] != digest:
                    return self._problem(422, "idempotency_key_reused",
                                         "this Idempotency-Key was used for another change set")
                return self._json(200, remembered[1], {"Idempotent-Replayed": "true"})
            if len(body["changes"]) > self.max_changes:
                return self._problem(413, "too_many_changes",
                                     f"{len(body['changes'])} changes > maxChangesPerSet={self.max_changes}")
            try:
                self.store = self.store.apply(body["owner"], body["changes"])
            except ChangeError as error:
                return self._json(error.status, error.to_json())
            result = {"applied": len(body["changes"]), "revision": self.store.revision}
            self._keys[key] = (digest, result)
            while len(self._keys) > REMEMBERED_KEYS:
                self._keys.popitem(last=False)
            if self._drop_after_apply > 0:
                self._drop_after_apply -= 1
                raise DropConnection()
        return self._json(200, result)

    # --- hand edits -----------------------------------------------------------------------------
    def _seed(self, request: Request) -> Response:
        try:
            body = request.json() or {}
        except ValueError:
            return json_response(400, {"error": "the body is not JSON"})
        if not isinstance(body, dict):
            return json_response(400, {"error": "a JSON object is required"})
        with self._lock:
            work = self.store.copy()
            try:
                for kind in ("address", "group", "service", "rule"):
                    for item in body.get(COLLECTION[kind]) or []:
                        obj = validate_object(kind, item, "groupReferences" in self.features,
                                              "wildcardFqdn" in self.features)
                        owner = item.get("owner")
                        work.put(kind, obj, owner if isinstance(owner, str) else None)
            except ChangeError as error:
                return json_response(error.status, error.to_json())
            work.revision += 1
            self.store = work
            return json_response(200, self.store.state())

    def _hand_delete(self, request: Request) -> Response:
        try:
            body = request.json() or {}
        except ValueError:
            return json_response(400, {"error": "the body is not JSON"})
        kind, name = body.get("kind"), body.get("name")
        with self._lock:
            if kind not in KINDS or name not in self.store.objects[kind]:
                return json_response(404, {"error": f"no {kind} {name!r}"})
            try:
                self.store.remove(kind, name)
            except ChangeError as error:
                return json_response(error.status, error.to_json())
            self.store.revision += 1
            return json_response(200, self.store.state())

    # --- helpers --------------------------------------------------------------------------------
    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        return json_response(status, payload, headers, content_type=MEDIA_TYPE)

    def _problem(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> Response:
        return self._json(status, ChangeError(status, code, message).to_json(), headers)
