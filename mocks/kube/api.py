"""The object operations of the API server: create, read, list, replace, patch, delete.

`Api` owns the store and the registry and applies the server-side rules a client can observe:
metadata stamping (uid, creationTimestamp, resourceVersion, generation), optimistic concurrency,
the status subresource, CRD schema pruning/defaulting/validation, unknown fields
(`fieldValidation`), field ownership (`managedFields`, server-side apply), Event validation,
finalizers, graceful pod deletion (a `Reaper` removes the pod when its grace period ends), namespace
existence and finalization (Terminating, content deleted, then the namespace), CRD registration.
Options of the current request (fieldManager, fieldValidation, force, gracePeriodSeconds) come from
`mocks.kube.context`. Every committed change is passed to the listeners (the controllers) after
the store lock is released, outside the request's context.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import copy
import gc
import json
import logging
from collections.abc import Callable
from typing import Any

from mocks.kube import context, crds, fields, meta, schema
from mocks.kube import events as event_rules
from mocks.kube.errors import (
    ApiError,
    already_exists,
    bad_request,
    cause,
    conflict,
    gone,
    invalid,
    not_found,
    success_status,
)
from mocks.kube.graceful import Reaper
from mocks.kube.ipam import IpPool
from mocks.kube.patch import MERGE_PATCH, STRATEGIC_PATCH, apply_patch
from mocks.kube.resources import CRD_KEY, NAMESPACE_KEY, Registry, ResourceType
from mocks.kube.selectors import Predicate, combine, parse_field_selector, parse_label_selector
from mocks.kube.store import DELETED, Event, Store

Obj = dict[str, Any]
Listener = Callable[[Event], None]
log = logging.getLogger(__name__)

SERVICE_KEY = ("", "services")
POD_KEY = ("", "pods")
EVENT_KEYS = (("", "events"), ("events.k8s.io", "events"))
DRY_RUN: contextvars.ContextVar[bool] = contextvars.ContextVar("dry_run", default=False)
"""True while serving a `dryRun=All` request: everything is checked and answered, nothing stored."""
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_CIDR_V6 = "fd00:10:96::/112"
NODE_PORTS = (30000, 32767)
EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You "
    "can start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)
LATEST = -1
"""The resourceVersion of a continue token that continues at the latest state (after expiry)."""


def namespace_terminating(rtype: ResourceType, namespace: str, name: str) -> ApiError:
    """403 for new content in a namespace being deleted, worded as the real server's."""
    qualified = rtype.qualified
    subject = f'{qualified} "{name}"' if name else qualified
    details: Obj = {
        "name": name,
        "kind": rtype.plural,
        "causes": [
            cause("metadata.namespace", f"namespace {namespace} is being terminated", "NamespaceTerminating")
        ],
    }
    if rtype.group:
        details["group"] = rtype.group
    return ApiError(
        403,
        f"{subject} is forbidden: unable to create new content in namespace {namespace} because it is "
        "being terminated",
        "Forbidden",
        details,
    )


def encode_continue(rv: int, namespace: str, name: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": [namespace, name]}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
        start = data["start"]
        return int(data["rv"]), (str(start[0]), str(start[1]))
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error) as exc:
        raise bad_request(f"continue key is not valid: {exc}") from exc


class Api:
    """`pod_grace_seconds`: the grace period of a pod deleted without one (None: the pod's
    `spec.terminationGracePeriodSeconds`, 30 by default)."""

    def __init__(self, history_size: int = 50_000, pod_grace_seconds: float | None = None) -> None:
        self.store = Store(history_size)
        self.pod_grace_seconds = pod_grace_seconds
        self.reaper = Reaper()
        self.registry = Registry()
        self.listeners: list[Listener] = []
        self.service_ips = IpPool(SERVICE_CIDR)
        self.service_ips_v6 = IpPool(SERVICE_CIDR_V6)
        self._node_ports = 0
        self.bootstrap()

    # --- lifecycle ------------------------------------------------------------------------------
    def bootstrap(self) -> None:
        """Create the namespaces every cluster has."""
        for name in SYSTEM_NAMESPACES:
            if self.store.get(NAMESPACE_KEY, "", name) is None:
                self.create(self.type_of(NAMESPACE_KEY), "", {"metadata": {"name": name}})

    def reset(self) -> None:
        self.reaper.clear()
        self._node_ports = 0
        self.store.clear()
        self.registry.reset()
        self.service_ips.reset()
        self.service_ips_v6.reset()
        self.bootstrap()

    def type_of(self, key: tuple[str, str]) -> ResourceType:
        for rtype in self.registry.all():
            if rtype.key == key:
                return rtype
        raise KeyError(key)

    def _notify(self, events: list[Event]) -> None:
        token = context.REQUEST.set(None)  # controllers write as themselves, not as the client
        try:
            self._notify_listeners(events)
        finally:
            context.REQUEST.reset(token)

    def _notify_listeners(self, events: list[Event]) -> None:
        for event in events:
            for listener in self.listeners:
                try:
                    listener(event)
                except ApiError as exc:
                    log.debug("controller write refused: %s", exc)
                except Exception:
                    # a controller failure must not fail the client's request that triggered it
                    log.exception("controller failed on %s %s", event.type, event.key)

    # --- helpers --------------------------------------------------------------------------------
    def _namespace_of(self, rtype: ResourceType, namespace: str) -> str:
        return namespace if rtype.namespaced else ""

    def _require(self, rtype: ResourceType, namespace: str, name: str) -> Obj:
        current = self.store.get(rtype.key, self._namespace_of(rtype, namespace), name)
        if current is None:
            raise not_found(rtype.plural, rtype.group, name)
        return current

    def _check_body(self, rtype: ResourceType, namespace: str, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise bad_request("the body of the request is not a JSON object")
        api_version = body.get("apiVersion")
        if (
            api_version
            and api_version != rtype.api_version
            and not (rtype.custom and api_version.rpartition("/")[0] == rtype.group)
        ):
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({rtype.api_version})"
            )
        kind = body.get("kind")
        if kind and kind != rtype.kind:
            raise bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({rtype.kind})"
            )
        body["apiVersion"] = api_version or rtype.api_version
        body["kind"] = rtype.kind
        metadata = body.get("metadata")
        if metadata is None:
            metadata = body["metadata"] = {}
        if not isinstance(metadata, dict):
            raise bad_request("metadata must be an object")
        if rtype.namespaced:
            if metadata.get("namespace") and metadata["namespace"] != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        return body

    def _validate(self, rtype: ResourceType, obj: Obj, old: Obj | None) -> Obj:
        """Prune, default and validate; returns the object to store."""
        metadata = obj.get("metadata")
        if isinstance(metadata, dict) and any(metadata.get(k) in ({}, []) for k in meta.OMITTED_EMPTY):
            # ObjectMeta's maps and lists are `omitempty`: empty ones are not stored
            obj["metadata"] = {
                k: v for k, v in metadata.items() if not (k in meta.OMITTED_EMPTY and v in ({}, []))
            }
        causes = meta.metadata_causes(obj)
        if not rtype.custom:
            causes.extend(meta.builtin_causes(rtype, obj))
            obj = self._drop_unknown(rtype, obj, fields.builtin_unknown(rtype, obj))
            if rtype.key in EVENT_KEYS:
                causes.extend(event_rules.causes(obj, rtype.group == "events.k8s.io"))
        if rtype.custom and rtype.schema:
            pruned = schema.prepare(obj, rtype.schema)
            self._drop_unknown(rtype, obj, fields.pruned_paths(obj, pruned))
            obj = pruned
            causes.extend(schema.validate(obj, rtype.schema, old))
        if rtype.key == CRD_KEY:
            crds.validate_crd(obj)
        if causes:
            raise invalid(rtype.kind, rtype.group, obj["metadata"].get("name", ""), causes)
        return obj

    def _drop_unknown(self, rtype: ResourceType, obj: Obj, unknown: list[str]) -> Obj:
        """Apply the request's fieldValidation to the unknown fields of `obj`: Strict refuses (400),
        Warn adds a warning per field; both Warn and Ignore drop the root and metadata fields of a
        built-in kind (custom resources are pruned by their schema)."""
        options = context.current()
        if not unknown or options is None:
            return obj
        if options.field_validation == "Strict":
            if options.applying:
                raise fields.apply_schema_error(rtype, unknown)
            raise fields.strict_error(rtype, unknown)
        if options.field_validation == "Warn":
            for path in unknown:
                context.warn(f'unknown field "{path}"')
        if rtype.custom:
            return obj
        dropped = {
            k: v for k, v in obj.items() if k in ("apiVersion", "kind", "metadata") or k not in unknown
        }
        metadata = obj.get("metadata")
        if isinstance(metadata, dict):
            dropped["metadata"] = {k: v for k, v in metadata.items() if f"metadata.{k}" not in unknown}
        return dropped

    def _record_fields(self, rtype: ResourceType, old: Obj | None, new: Obj, subresource: str | None) -> None:
        """managedFields for a client's write (not for controllers, nor without a request)."""
        options = context.current()
        if options is None or not options.field_manager or options.applying:
            return
        fields.record_update(
            old, new, options.field_manager, rtype.api_version, subresource if subresource == "status" else ""
        )

    def _stamp(self, obj: Obj) -> Obj:
        """Give `obj` the next resourceVersion (lock held)."""
        obj["metadata"] = {**obj["metadata"], "resourceVersion": str(self.store.next_rv())}
        return obj

    # --- create ---------------------------------------------------------------------------------
    def create(self, rtype: ResourceType, namespace: str, body: Any) -> Obj:
        obj = self._check_body(rtype, namespace, body)
        metadata = obj["metadata"]
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = meta.generated_name(str(metadata["generateName"]))
        name = str(metadata.get("name") or "")
        causes = meta.name_causes(rtype, name)
        if causes:
            raise invalid(rtype.kind, rtype.group, name, causes)
        for key in (
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "generation",
            "managedFields",
            "selfLink",
        ):
            metadata.pop(key, None)
        self._prepare_create(rtype, obj)
        obj = self._validate(rtype, obj, None)
        namespace = self._namespace_of(rtype, namespace)
        with self.store.lock:
            if rtype.namespaced:
                owner = self.store.get(NAMESPACE_KEY, "", namespace)
                if owner is None:
                    raise not_found("namespaces", "", namespace)
                if (owner.get("status") or {}).get("phase") == "Terminating":
                    raise namespace_terminating(rtype, namespace, name)
            if self.store.get(rtype.key, namespace, name) is not None:
                raise already_exists(rtype.plural, rtype.group, name)
            metadata = obj["metadata"]
            metadata["uid"] = meta.new_uid()
            metadata["creationTimestamp"] = meta.now()
            if meta.tracks_generation(rtype):
                metadata["generation"] = 1
            options = context.current()
            if options is not None and options.applied is not None:
                managed = fields.apply(obj, options.applied, options.field_manager, rtype.api_version, True)
                obj["metadata"]["managedFields"] = managed["metadata"].get("managedFields") or []
            else:
                self._record_fields(rtype, None, obj, None)
            if DRY_RUN.get():
                return obj
            self._allocate(rtype, obj)
            if rtype.key == CRD_KEY:
                self._register_crd(obj)
            event = self.store.put(rtype.key, namespace, name, self._stamp(obj))
        self._notify([event])
        return event.obj

    def _prepare_create(self, rtype: ResourceType, obj: Obj) -> None:
        key = rtype.key
        if key == NAMESPACE_KEY:
            name = obj["metadata"].get("name", "")
            obj["metadata"]["labels"] = {
                **(obj["metadata"].get("labels") or {}),
                "kubernetes.io/metadata.name": name,
            }
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
        elif key == ("", "pods"):
            meta.pod_defaults(obj)
            status = obj.get("status")
            if not (isinstance(status, dict) and status.get("phase")):
                obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif key == ("", "services"):
            meta.service_defaults(obj)
        elif key == CRD_KEY:
            obj["status"] = crds.established_status(obj, meta.now())
        elif rtype.custom and rtype.status_subresource:
            obj.pop("status", None)

    def _allocate(self, rtype: ResourceType, obj: Obj) -> None:
        if rtype.key != ("", "services"):
            return
        spec = obj["spec"]
        if spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
            spec.setdefault("ipFamilies", ["IPv4"])
            return
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            for port in spec.get("ports") or []:
                if isinstance(port, dict) and not port.get("nodePort"):
                    port["nodePort"] = self._node_port()
        families = spec.get("ipFamilies") or ["IPv4"]
        spec["ipFamilies"] = families
        spec.setdefault("ipFamilyPolicy", "SingleStack" if len(families) == 1 else "RequireDualStack")
        if not spec.get("clusterIP"):
            ips = [(self.service_ips if f == "IPv4" else self.service_ips_v6).allocate() for f in families]
            spec["clusterIP"] = ips[0]
            spec["clusterIPs"] = ips
        else:
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            for ip in spec["clusterIPs"]:
                self.service_ips.reserve(ip)
                self.service_ips_v6.reserve(ip)

    def _node_port(self) -> int:
        """The next node port of 30000-32767 (lock held), as the real allocator's default range."""
        port = NODE_PORTS[0] + self._node_ports % (NODE_PORTS[1] - NODE_PORTS[0] + 1)
        self._node_ports += 1
        return port

    def _register_crd(self, crd: Obj) -> None:
        crds.check_conflicts(crd, self.registry.all())
        spec = crd["spec"]
        self.registry.remove_group_plural(spec["group"], spec["names"]["plural"])
        for rtype, storage in crds.resource_types(crd):
            self.registry.add(rtype, preferred=storage)

    # --- read -----------------------------------------------------------------------------------
    def get(self, rtype: ResourceType, namespace: str, name: str) -> Obj:
        return self._require(rtype, namespace, name)

    def predicate(self, rtype: ResourceType, query: dict[str, list[str]]) -> Predicate | None:
        def arg(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        return combine(
            parse_label_selector(arg("labelSelector")), parse_field_selector(arg("fieldSelector"), rtype.key)
        )

    def list_objects(self, rtype: ResourceType, namespace: str | None, query: dict[str, list[str]]) -> Obj:
        def arg(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        match = self.predicate(rtype, query)
        limit_text = arg("limit")
        try:
            limit = int(limit_text) if limit_text else 0
        except ValueError as exc:
            raise bad_request(f"invalid limit {limit_text!r}") from exc
        start: tuple[str, str] | None = None
        token = arg("continue")
        list_rv: int | None = None
        if token:
            list_rv, start = decode_continue(token)
            if list_rv == LATEST:
                list_rv = None
            elif list_rv < self.store.floor:
                expired = gone(EXPIRED_CONTINUE)
                expired.status["metadata"] = {"continue": encode_continue(LATEST, *start)}
                raise expired
        rv, objects = self.store.snapshot(rtype.key, namespace if rtype.namespaced else None, start)
        items: list[Obj] = []
        next_token = ""
        remaining = 0
        for obj in objects:
            if match is not None and not match(obj):
                continue
            if limit and len(items) == limit:
                last = items[-1]["metadata"]
                next_token = encode_continue(list_rv or rv, last.get("namespace") or "", last["name"])
                if match is None:  # as the real server: no remainingItemCount with selectors
                    remaining = self.store.count_after(
                        rtype.key,
                        namespace if rtype.namespaced else None,
                        (last.get("namespace") or "", last["name"]),
                    )
                break
            items.append(obj)
        list_meta: Obj = {"resourceVersion": str(list_rv or rv)}
        if next_token:
            list_meta["continue"] = next_token
            if match is None:
                list_meta["remainingItemCount"] = remaining
        return {
            "kind": rtype.list_kind_name,
            "apiVersion": rtype.api_version,
            "metadata": list_meta,
            "items": items,
        }

    # --- update ---------------------------------------------------------------------------------
    def replace(
        self, rtype: ResourceType, namespace: str, name: str, body: Any, subresource: str | None = None
    ) -> Obj:
        obj = self._check_body(rtype, namespace, body)
        if obj["metadata"].get("name") not in (None, name):
            raise bad_request(
                f"the name of the object ({obj['metadata'].get('name')}) does not match the name "
                f"on the URL ({name})"
            )
        obj["metadata"]["name"] = name
        return self._update(rtype, namespace, name, lambda current: obj, subresource)

    def patch(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        body: Any,
        subresource: str | None = None,
    ) -> Obj:
        def build(current: Obj) -> Obj:
            patched = apply_patch(content_type, copy.deepcopy(current), body, rtype.custom)
            if not isinstance(patched, dict):
                raise bad_request("the patch did not produce an object")
            patched_meta = patched.get("metadata")
            if not isinstance(patched_meta, dict):
                patched["metadata"] = patched_meta = {}
            patched_meta["name"] = name
            if rtype.namespaced:
                patched_meta["namespace"] = self._namespace_of(rtype, namespace)
            patched["apiVersion"] = current["apiVersion"]
            patched["kind"] = rtype.kind
            return patched

        return self._update(rtype, namespace, name, build, subresource)

    def update_with(self, rtype: ResourceType, namespace: str, name: str, build: Callable[[Obj], Obj]) -> Obj:
        """Controller write: `build` (called under the store lock with the current object) returns the
        new object, spec and status together, in one MODIFIED event."""
        return self._update(rtype, namespace, name, lambda current: build(copy.deepcopy(current)), "*")

    def apply(
        self, rtype: ResourceType, namespace: str, name: str, body: Any, subresource: str | None
    ) -> Obj:
        """Server-side apply: create when absent, otherwise merge the applied configuration. Within
        a request with a field manager, field ownership is tracked (`mocks.kube.fields`): fields
        another manager owns with a different value conflict (409) unless the request forces."""
        if not isinstance(body, dict):
            raise bad_request("the applied configuration must be an object")
        if not body.get("apiVersion") or not body.get("kind"):
            raise bad_request(
                f"invalid object type: {body.get('apiVersion', '')}, Kind={body.get('kind', '')}"
            )
        options = context.current()
        if options is not None and not options.field_manager:
            raise bad_request(
                "PATCH, application/apply-patch+yaml: fieldManager is required for apply requests"
            )
        applied = copy.deepcopy(body)
        if options is not None:
            options.applying = True
        try:
            if (
                subresource is None
                and self.store.get(rtype.key, self._namespace_of(rtype, namespace), name) is None
            ):
                body.setdefault("metadata", {})
                if isinstance(body["metadata"], dict):
                    body["metadata"].setdefault("name", name)
                if options is not None:
                    options.applied = applied
                return self.create(rtype, namespace, body)
            media = MERGE_PATCH if rtype.custom else STRATEGIC_PATCH
            if options is None:
                return self.patch(rtype, namespace, name, media, body, subresource)
            manager, force = options.field_manager, options.force

            def build(current: Obj) -> Obj:
                owned = fields.apply(current, applied, manager, rtype.api_version, force, subresource or "")
                merged: Obj = apply_patch(media, owned, body, rtype.custom)
                merged_meta = merged.setdefault("metadata", {})
                merged_meta["name"] = name
                managed = (owned.get("metadata") or {}).get("managedFields")
                if managed:
                    merged_meta["managedFields"] = managed
                else:
                    merged_meta.pop("managedFields", None)
                if rtype.namespaced:
                    merged_meta["namespace"] = self._namespace_of(rtype, namespace)
                merged["apiVersion"] = current["apiVersion"]
                merged["kind"] = rtype.kind
                return merged

            return self._update(rtype, namespace, name, build, subresource)
        finally:
            if options is not None:
                options.applying = False
                options.applied = None

    def _update(
        self,
        rtype: ResourceType,
        namespace: str,
        name: str,
        build: Callable[[Obj], Obj],
        subresource: str | None,
    ) -> Obj:
        namespace = self._namespace_of(rtype, namespace)
        changes: list[Event] = []
        with self.store.lock:
            current = self.store.get(rtype.key, namespace, name)
            if current is None:
                raise not_found(rtype.plural, rtype.group, name)
            proposed = build(current)
            wanted_rv = (proposed.get("metadata") or {}).get("resourceVersion")
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise conflict(rtype.plural, rtype.group, name)
            result = self._merge_update(rtype, current, proposed, subresource)
            result = self._validate(rtype, result, current)
            if meta.tracks_generation(rtype) and meta.spec_part(rtype, result) != meta.spec_part(
                rtype, current
            ):
                result["metadata"]["generation"] = int(current["metadata"].get("generation") or 1) + 1
            if result == current:
                return current
            self._record_fields(rtype, current, result, subresource)
            if DRY_RUN.get():
                return result
            if rtype.key == CRD_KEY:
                self._register_crd(result)
            result_meta = result["metadata"]
            if (
                result_meta.get("deletionTimestamp")
                and not result_meta.get("finalizers")
                and not result_meta.get("deletionGracePeriodSeconds")
            ):
                changes.extend(self._remove(rtype, namespace, name, result))
            else:
                changes.append(self.store.put(rtype.key, namespace, name, self._stamp(result)))
        self._notify(changes)
        if changes[0].type == DELETED and rtype.namespaced:
            self._finalize_namespace(namespace)
        return changes[0].obj

    def _merge_update(self, rtype: ResourceType, current: Obj, proposed: Obj, subresource: str | None) -> Obj:
        old_meta = current["metadata"]
        if subresource == "status":
            result = {k: v for k, v in current.items() if k != "status"}
            if "status" in proposed:
                result["status"] = proposed["status"]
            result["metadata"] = dict(old_meta)
            options = context.current()
            if options is not None and options.applying:
                result["metadata"]["managedFields"] = (proposed.get("metadata") or {}).get(
                    "managedFields"
                ) or []
            return result
        result = dict(proposed)
        new_meta = dict(proposed.get("metadata") or {})
        for key in (
            "uid",
            "creationTimestamp",
            "namespace",
            "name",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
        ):
            if key in old_meta:
                new_meta[key] = old_meta[key]
            else:
                new_meta.pop(key, None)
        options = context.current()
        if not (options is not None and options.applying):  # only server-side apply rewrites ownership
            if "managedFields" in old_meta:
                new_meta["managedFields"] = old_meta["managedFields"]
            else:
                new_meta.pop("managedFields", None)
        result["metadata"] = new_meta
        if rtype.key == NAMESPACE_KEY:
            new_meta["labels"] = {
                **(new_meta.get("labels") or {}),
                "kubernetes.io/metadata.name": old_meta["name"],
            }
        if rtype.status_subresource and subresource != "*":
            if "status" in current:
                result["status"] = current["status"]
            else:
                result.pop("status", None)
        if rtype.key == ("", "services"):
            spec = result.setdefault("spec", {})
            old_spec = current.get("spec") or {}
            for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if key in old_spec and not spec.get(key):
                    spec[key] = old_spec[key]
            meta.service_defaults(result)
        if rtype.key == ("", "pods"):
            meta.pod_defaults(result)
        return result

    # --- delete ---------------------------------------------------------------------------------
    def delete(self, rtype: ResourceType, namespace: str, name: str, options: Any = None) -> Obj:
        """Delete an object: pods on a node gracefully (Terminating until their grace period ends),
        namespaces by finalization (Terminating, content deleted, then the namespace), objects
        with finalizers marked until the finalizers are gone, anything else at once."""
        namespace = self._namespace_of(rtype, namespace)
        if rtype.key == NAMESPACE_KEY:
            return self._delete_namespace(name, options)
        changes: list[Event] = []
        with self.store.lock:
            current = self.store.get(rtype.key, namespace, name)
            if current is None:
                raise not_found(rtype.plural, rtype.group, name)
            self._check_preconditions(rtype, current, options)
            if DRY_RUN.get():
                return (
                    current
                    if rtype.return_deleted
                    else success_status(name, rtype.group, rtype.plural, current["metadata"].get("uid", ""))
                )
            grace = self._grace_seconds(rtype, current, options)
            metadata = current["metadata"]
            deleting = metadata.get("deletionTimestamp")
            if grace > 0:
                if deleting and int(metadata.get("deletionGracePeriodSeconds") or 0) <= grace:
                    return current  # already terminating, no later than asked
                marked = {
                    **current,
                    "metadata": {
                        **metadata,
                        "deletionTimestamp": meta.timestamp_in(grace),
                        "deletionGracePeriodSeconds": grace,
                    },
                }
                changes.append(self.store.put(rtype.key, namespace, name, self._stamp(marked)))
                uid = metadata.get("uid")
                self.reaper.schedule(grace, lambda: self._grace_over(rtype, namespace, name, uid))
            elif metadata.get("finalizers"):
                if deleting and not metadata.get("deletionGracePeriodSeconds"):
                    return current  # already waiting for its finalizers
                marked = {
                    **current,
                    "metadata": {
                        **metadata,
                        "deletionTimestamp": metadata.get("deletionTimestamp") or meta.now(),
                        "deletionGracePeriodSeconds": 0,
                    },
                }
                changes.append(self.store.put(rtype.key, namespace, name, self._stamp(marked)))
            else:
                if rtype.key == CRD_KEY:
                    changes.extend(self._remove_crd_objects(current))
                changes.extend(self._remove(rtype, namespace, name, current))
        self._notify(changes)
        if changes[-1].type == DELETED and rtype.namespaced:
            self._finalize_namespace(namespace)
        last = changes[-1].obj
        if rtype.return_deleted or changes[-1].type != DELETED:
            return last
        return success_status(name, rtype.group, rtype.plural, current["metadata"].get("uid", ""))

    def _grace_seconds(self, rtype: ResourceType, pod: Obj, options: Any) -> int:
        """The grace period of a deletion: only pods bound to a node and not finished have one (the
        request's gracePeriodSeconds, else the mock's pod default, else the pod's own)."""
        requested = options.get("gracePeriodSeconds") if isinstance(options, dict) else None
        request = context.current()
        if requested is None and request is not None:
            requested = request.grace_seconds
        if rtype.key != POD_KEY:
            return 0
        if not (pod.get("spec") or {}).get("nodeName") or (pod.get("status") or {}).get("phase") in (
            "Succeeded",
            "Failed",
        ):
            return 0
        if requested is None:
            requested = self.pod_grace_seconds
        if requested is None:
            requested = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        try:
            return max(0, int(requested))
        except (TypeError, ValueError):
            return 0

    def _grace_over(self, rtype: ResourceType, namespace: str, name: str, uid: Any) -> None:
        """A pod's grace period ended: the kubelet has stopped it; remove it (or, with finalizers
        left, mark it for removal when they are gone)."""
        changes: list[Event] = []
        with self.store.lock:
            current = self.store.get(rtype.key, namespace, name)
            if current is None or current["metadata"].get("uid") != uid:
                return
            metadata = current["metadata"]
            deadline = metadata.get("deletionTimestamp")
            if not deadline or not meta.passed(deadline):
                return  # a shorter grace period was requested later and has its own timer; or not yet
            if metadata.get("finalizers"):
                if metadata.get("deletionGracePeriodSeconds"):
                    marked = {**current, "metadata": {**metadata, "deletionGracePeriodSeconds": 0}}
                    changes.append(self.store.put(rtype.key, namespace, name, self._stamp(marked)))
            else:
                changes.extend(self._remove(rtype, namespace, name, current))
        self._notify(changes)
        self._finalize_namespace(namespace)

    def _delete_namespace(self, name: str, options: Any) -> Obj:
        rtype = self.type_of(NAMESPACE_KEY)
        with self.store.lock:
            current = self.store.get(NAMESPACE_KEY, "", name)
            if current is None:
                raise not_found("namespaces", "", name)
            self._check_preconditions(rtype, current, options)
            if DRY_RUN.get():
                return current
            if (current.get("status") or {}).get("phase") == "Terminating":
                return current
            marked = {
                **current,
                "metadata": {
                    **current["metadata"],
                    "deletionTimestamp": meta.now(),
                    "deletionGracePeriodSeconds": 0,
                },
                "status": {"phase": "Terminating"},
            }
            event = self.store.put(NAMESPACE_KEY, "", name, self._stamp(marked))
        self._notify([event])
        token = context.REQUEST.set(None)  # the namespace controller deletes the content
        try:
            for key in self.store.namespaced_keys(name):
                try:
                    content_type = self.type_of(key)
                except KeyError:
                    continue
                _, objects = self.store.snapshot(key, name)
                for obj in list(objects):
                    try:
                        self.delete(content_type, name, obj["metadata"]["name"])
                    except ApiError as exc:
                        if exc.code != 404:
                            raise
        finally:
            context.REQUEST.reset(token)
        self._finalize_namespace(name)
        return event.obj

    def _finalize_namespace(self, name: str) -> None:
        """The namespace controller: a Terminating namespace whose content is gone is removed."""
        changes: list[Event] = []
        with self.store.lock:
            current = self.store.get(NAMESPACE_KEY, "", name)
            if current is None or (current.get("status") or {}).get("phase") != "Terminating":
                return
            if self.store.namespaced_keys(name):
                return
            changes.extend(self._remove(self.type_of(NAMESPACE_KEY), "", name, current))
        self._notify(changes)

    def _check_preconditions(self, rtype: ResourceType, current: Obj, options: Any) -> None:
        preconditions = (options or {}).get("preconditions") if isinstance(options, dict) else None
        if not preconditions:
            return
        name = current["metadata"]["name"]
        uid = preconditions.get("uid")
        if uid and uid != current["metadata"].get("uid"):
            raise ApiError(
                409,
                f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                f"{current['metadata'].get('uid')}",
                "Conflict",
                {"name": name, "kind": rtype.plural, "group": rtype.group},
            )
        rv = preconditions.get("resourceVersion")
        if rv and rv != current["metadata"].get("resourceVersion"):
            raise ApiError(
                409,
                f"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion "
                f"in object meta: {current['metadata'].get('resourceVersion')}",
                "Conflict",
                {"name": name, "kind": rtype.plural, "group": rtype.group},
            )

    def _remove(self, rtype: ResourceType, namespace: str, name: str, last: Obj) -> list[Event]:
        tombstone = self._stamp(dict(last))
        event = self.store.remove(rtype.key, namespace, name, tombstone)
        if rtype.key == ("", "services"):
            for ip in (last.get("spec") or {}).get("clusterIPs") or []:
                self.service_ips.release(ip)
                self.service_ips_v6.release(ip)
        if rtype.key == CRD_KEY:
            spec = last.get("spec") or {}
            self.registry.remove_group_plural(
                spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
            )
        return [event] if event is not None else []

    def _remove_crd_objects(self, crd: Obj) -> list[Event]:
        spec = crd.get("spec") or {}
        key = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        try:
            rtype = self.type_of(key)
        except KeyError:
            return []
        events: list[Event] = []
        _, objects = self.store.snapshot(key, None)
        for obj in list(objects):
            events.extend(
                self._remove(rtype, obj["metadata"].get("namespace") or "", obj["metadata"]["name"], obj)
            )
        return events

    def delete_collection(
        self, rtype: ResourceType, namespace: str | None, query: dict[str, list[str]]
    ) -> Obj:
        match = self.predicate(rtype, query)
        _, objects = self.store.snapshot(rtype.key, namespace if rtype.namespaced else None)
        for obj in list(objects):
            if match is not None and not match(obj):
                continue
            try:
                self.delete(rtype, obj["metadata"].get("namespace") or "", obj["metadata"]["name"])
            except ApiError as exc:
                if exc.code != 404:
                    raise
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}

    # --- bulk load ------------------------------------------------------------------------------
    def load(self, items: list[Any], prepare: Callable[[ResourceType, Obj], None] | None = None) -> int:
        """Store many objects fast (one lock, no per-object notifications); creates missing namespaces.

        Objects are taken as given (plus metadata stamping and, for custom resources, defaults); an
        object that exists is replaced (MODIFIED) keeping its uid, creationTimestamp and, when the
        item has none, its status. `prepare` may complete an object (e.g. the kubelet assigning a pod
        IP) before it is stored.
        """
        entries = []
        namespaces: set[str] = set()
        for item in items:
            if not isinstance(item, dict):
                raise bad_request("every item must be an object")
            rtype = self.registry.by_kind(str(item.get("apiVersion", "")), str(item.get("kind", "")))
            if rtype is None:
                raise bad_request(
                    f"no resource for apiVersion {item.get('apiVersion')!r} kind {item.get('kind')!r}"
                )
            metadata = item.get("metadata") or {}
            name = str(metadata.get("name") or "")
            if not name:
                raise bad_request("every item needs metadata.name")
            namespace = str(metadata.get("namespace") or "default") if rtype.namespaced else ""
            if namespace:
                namespaces.add(namespace)
            if rtype.custom and rtype.schema:
                item = schema.prepare(item, rtype.schema)
            entries.append((rtype, namespace, name, item))
        missing = [ns for ns in sorted(namespaces) if self.store.get(NAMESPACE_KEY, "", ns) is None]
        for ns in missing:
            self.create(self.type_of(NAMESPACE_KEY), "", {"metadata": {"name": ns}})
        created = meta.now()

        def factory(rtype: ResourceType, namespace: str, item: Obj) -> Callable[[int, Obj | None], Obj]:
            def build(rv: int, old: Obj | None) -> Obj:
                metadata = dict(item.get("metadata") or {})
                if namespace:
                    metadata["namespace"] = namespace
                old_meta = old["metadata"] if old is not None else {}
                metadata.setdefault("uid", old_meta.get("uid") or meta.new_uid())
                metadata.setdefault("creationTimestamp", old_meta.get("creationTimestamp") or created)
                if meta.tracks_generation(rtype):
                    metadata.setdefault("generation", old_meta.get("generation") or 1)
                metadata["resourceVersion"] = str(rv)
                obj = {**item, "metadata": metadata}
                if old is not None and "status" not in obj and "status" in old:
                    obj["status"] = old["status"]
                if old is None and rtype.key in (NAMESPACE_KEY, SERVICE_KEY):
                    self._prepare_create(rtype, obj)
                    self._allocate(rtype, obj)
                if prepare is not None:
                    prepare(rtype, obj)
                return obj

            return build

        gc.disable()
        try:
            return self.store.bulk_put(
                (rtype.key, namespace, name, factory(rtype, namespace, item))
                for rtype, namespace, name, item in entries
            )
        finally:
            gc.enable()
            gc.freeze()
