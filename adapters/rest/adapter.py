"""The generic REST adapter (`type: rest`): the protocol of `adapters/rest/openapi.yaml`.

- `render`: address, group, service and rule objects named by `adapters.base.naming`; a group
  that includes others goes by reference when the receiver declares `groupReferences` (`GET /`
  capabilities), else flattened (see `adapters.rest.objects`).
- `read`: `GET /state`, every object with the owner found on it; remembers the state revision.
- `apply`: the whole plan as ONE atomic `POST /changes` (split only when the receiver's
  `maxChangesPerSet` is smaller than the plan), with an `Idempotency-Key` derived from the plan
  checksum and the revision read, so a retried POST is replayed rather than reapplied while a
  repeated plan against a changed device is applied afresh. An empty plan sends nothing. Group
  changes go in reference order (a group after the groups it includes, deleted before them); a
  group update that changes only members is a `members` op (the added and removed addresses)
  when the receiver declares `memberChanges`.
- Bearer token and the optional HMAC secret come from `Secrets`; they are never logged.
- Errors: 409/413/422 raise `PermanentDeviceError` naming the failing change's object.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import httpx

from adapters.base.http import DeviceHttp, RetryPolicy, tls_verify
from adapters.base.memo import RenderMemo
from adapters.rest.capacity import table_usage as rest_tables
from adapters.rest.config import RestDevice
from adapters.rest.members import GroupMembers
from adapters.rest.objects import (
    MalformedObject,
    RestNames,
    dependency_order,
    parse_state,
    references,
    render,
    wire_change,
)
from adapters.rest.protocol import IDEMPOTENCY_HEADER, KINDS, MEDIA_TYPE, PROTOCOL, SigningTransport
from connector.adapter import Adapter, ApplyResult, PermanentDeviceError, RuleNumbers
from connector.config import Secrets
from connector.model import Capabilities, DeviceState
from connector.planner.capacity import TableUsage
from connector.planner.types import Change, DeviceObject, Plan

log = logging.getLogger(__name__)

DEFAULT_MAX_CHANGES = 10_000
_CHANGE_ERRORS = (400, 409, 413, 422)


class RestAdapter(Adapter):
    type_name = "rest"
    capabilities: ClassVar[Capabilities] = Capabilities(fqdn=True, wildcard_fqdn=False, ipv6=True,
                                                        logging=True, incremental_members=False)
    kind_order: ClassVar[tuple[str, ...]] = KINDS
    ordered_kinds: ClassVar[frozenset[str]] = frozenset({"rule"})
    emptied_fields: ClassVar[Mapping[str, Mapping[str, Any]]] = {"group": {"members": [], "groups": None}}

    def __init__(self, config: RestDevice, cluster: str, secrets: Secrets,
                 transport: httpx.BaseTransport | None = None, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(config.name, cluster)
        self.config = config
        token = secrets.optional(config.auth.token_env, f"device {config.name} token")
        hmac_secret = secrets.optional(config.auth.hmac_secret_env, f"device {config.name} HMAC secret")
        verify = tls_verify(config.verify_tls, config.ca_bundle)
        inner = transport or httpx.HTTPTransport(verify=verify)
        if hmac_secret is not None:
            inner = SigningTransport(inner, hmac_secret.get_secret_value)

        def auth() -> Mapping[str, str]:
            headers = {"Accept": MEDIA_TYPE}
            if token is not None:
                headers["Authorization"] = f"Bearer {token.get_secret_value()}"
            return headers

        self.http = DeviceHttp(config.name, config.url, verify=verify, timeout=config.timeout, retry=retry,
                               auth=auth, transport=inner)
        self.revision: int | None = None
        self._device_info: dict[str, Any] | None = None
        self._memo = RenderMemo()
        self._names = RestNames()
        self._members = GroupMembers()

    @classmethod
    def configured_capabilities(cls, config: Any) -> Capabilities:
        """Wildcard FQDNs are compiled for a receiver configured with `wildcardFqdn: true`."""
        wildcards = bool(getattr(config, "wildcard_fqdn", False))
        return dataclasses.replace(cls.capabilities, wildcard_fqdn=wildcards)

    # --- contract -------------------------------------------------------------------------------
    def render(self, state: DeviceState) -> list[DeviceObject]:
        """Asks the receiver's capabilities (`GET /`) once when not known yet. A wildcard name in
        `state` (compiled because the device is configured `wildcardFqdn: true`) needs the
        receiver to advertise `wildcardFqdn`: otherwise PermanentDeviceError naming it."""
        if not self.feature("wildcardFqdn"):
            wildcard = next((f"ExternalService {d.namespace}/{d.name}: {f}"
                             for d in state.destinations.values() for f in d.fqdns if f.startswith("*.")),
                            None)
            if wildcard is not None:
                raise PermanentDeviceError(
                    self.name, f"wildcardFqdn is configured but GET / does not advertise it; {wildcard}"
                    " cannot be sent (set wildcardFqdn: false to leave wildcards off with"
                    " WildcardFQDNUnsupported)")
        return render(state, self.cluster, self.owner_mark, self._memo,
                      group_references=self.feature("groupReferences"), names=self._names,
                      members=self._members)

    def rule_references(self, state: DeviceState) -> Mapping[str, str]:
        """Each rule's object name (the `rule` of a pushed flow record) -> its key."""
        self._names.claim(self.cluster, state)
        return {self._names.name("rule", rule.key): rule.key for rule in state.rules}

    def rule_numbers(self, state: DeviceState, held: Sequence[DeviceObject]) -> RuleNumbers:
        """Each rule of ours in `held` (as `GET /state` lists them, in evaluation order) standing
        for a rule of `state` -> its place in the receiver's rule list, from 1, every owner's
        rules counted."""
        names = self.rule_references(state)
        numbers: dict[str, tuple[str, ...]] = {}
        rules = [obj for obj in held if obj.kind == "rule"]
        for number, obj in enumerate(rules, 1):
            key = names.get(obj.name) if obj.owner == self.owner_mark else None
            if key is not None:
                numbers[key] = (*numbers.get(key, ()), str(number))
        return RuleNumbers("rule-position", "rule", numbers)

    def arrange(self, plan: Plan) -> Plan:
        """Group changes in reference order (`dependency_order`)."""
        changes = dependency_order(plan.changes)
        return plan if changes is plan.changes else dataclasses.replace(plan, changes=changes)

    def references(self, obj: DeviceObject) -> Iterable[tuple[str, str]]:
        return references(obj)

    def table_usage(self, objects: Sequence[DeviceObject]) -> Sequence[TableUsage]:
        return rest_tables(objects, self.config.capacity, self.device_info)

    def read(self) -> list[DeviceObject]:
        document = self._get_json("/state")
        try:
            objects = parse_state(document)
        except MalformedObject as exc:
            raise PermanentDeviceError(self.name, f"GET /state: {exc}") from exc
        revision = document.get("revision")
        self.revision = revision if isinstance(revision, int) else None
        return objects

    @property
    def writes(self) -> int:
        return self.http.writes

    def _apply(self, plan: Plan, desired: Sequence[DeviceObject], result: ApplyResult) -> None:
        chunks = _chunks(dependency_order(plan.changes), self.max_changes_per_set())
        keys: list[str] = []
        result.details = {"changeSets": len(chunks), "idempotencyKeys": keys, "revision": self.revision}
        for index, chunk in enumerate(chunks):
            key = self.idempotency_key(plan, index)
            keys.append(key)
            response = self._post_changes(chunk, key)
            result.applied += int(response.get("applied", len(chunk)))
            if isinstance(response.get("revision"), int):
                self.revision = response["revision"]
                result.details["revision"] = self.revision
        log.info("%s: applied %d changes in %d change set(s)", self.name, result.applied, len(chunks))

    def close(self) -> None:
        self.http.close()

    # --- protocol -------------------------------------------------------------------------------
    def device_info(self) -> dict[str, Any]:
        """`GET /` (cached): protocol and capabilities; refuses a receiver of another protocol."""
        if self._device_info is None:
            info = self._get_json("/")
            if info.get("protocol") != PROTOCOL:
                raise PermanentDeviceError(self.name, f"GET /: protocol {info.get('protocol')!r}, "
                                                      f"expected {PROTOCOL!r}")
            self._device_info = info
        return self._device_info

    def device_capabilities(self) -> Capabilities:
        """What this receiver declares it can enforce (wildcard FQDNs only with `wildcardFqdn: true`)."""
        caps = self.device_info().get("capabilities") or {}
        return Capabilities(fqdn=bool(caps.get("fqdn", True)), wildcard_fqdn=self.feature("wildcardFqdn"),
                            ipv6=bool(caps.get("ipv6", True)),
                            logging=bool(caps.get("logging", True)),
                            incremental_members=self.feature("memberChanges"))

    def feature(self, name: str) -> bool:
        """Whether the receiver declares the optional protocol feature `name` (`groupReferences`,
        `memberChanges`) among its `GET /` capabilities."""
        return (self.device_info().get("capabilities") or {}).get(name) is True

    def max_changes_per_set(self) -> int:
        value = (self.device_info().get("capabilities") or {}).get("maxChangesPerSet")
        return value if isinstance(value, int) and value > 0 else DEFAULT_MAX_CHANGES

    def idempotency_key(self, plan: Plan, chunk: int = 0) -> str:
        """Same plan against the same revision → same key; anything else → a new key."""
        text = f"{plan.checksum()}:{self.revision}:{chunk}"
        return "fc-" + hashlib.sha256(text.encode()).hexdigest()

    def _get_json(self, path: str) -> dict[str, Any]:
        response = self.http.request("GET", path)
        try:
            document = response.json()
        except ValueError as exc:
            raise PermanentDeviceError(self.name, f"GET {path}: the answer is not JSON") from exc
        if not isinstance(document, dict):
            raise PermanentDeviceError(self.name, f"GET {path}: the answer is not a JSON object")
        return document

    def _post_changes(self, changes: Sequence[Change], key: str) -> dict[str, Any]:
        members = self.feature("memberChanges")
        body = {"owner": self.owner_mark, "description": f"fusion-connector cluster {self.cluster}",
                "changes": [wire_change(change, members) for change in changes]}
        content = json.dumps(body, separators=(",", ":")).encode()
        response = self.http.request("POST", "/changes", content=content, expected=_CHANGE_ERRORS,
                                     headers={"Content-Type": MEDIA_TYPE, IDEMPOTENCY_HEADER: key})
        if response.status_code in _CHANGE_ERRORS:
            raise self._change_error(response, changes)
        try:
            document = response.json()
        except ValueError:
            document = {}
        return document if isinstance(document, dict) else {}

    def _change_error(self, response: httpx.Response, changes: Sequence[Change]) -> PermanentDeviceError:
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        code = str(error.get("code") or "error")
        message = str(error.get("message") or response.text[:300])
        kind, name = str(error.get("kind") or ""), str(error.get("name") or "")
        index = error.get("index")
        if isinstance(index, int) and 0 <= index < len(changes):
            change = changes[index]
            kind, name = kind or change.kind, name or change.name
            message = f"change {index} ({change.op.value}): {code}: {message}"
        else:
            message = f"{code}: {message}"
        return PermanentDeviceError(self.name, f"POST /changes: HTTP {response.status_code}: {message}",
                                    status=response.status_code, object_kind=kind, object_name=name)


def _chunks(changes: Sequence[Change], size: int) -> list[Sequence[Change]]:
    return [changes[i:i + size] for i in range(0, len(changes), size)]
