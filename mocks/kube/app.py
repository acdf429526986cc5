"""`KubeApp`: URL routing of the Kubernetes API over the `Api` operations, plus the mock endpoints.

Paths: `/api/v1/...` and `/apis/<group>/<version>/...` with `namespaces/<ns>/<plural>[/<name>[/status]]`
or `<plural>[/<name>[/status]]` (and `serviceaccounts/<name>/token`, the TokenRequest API); discovery
(`/api`, `/apis`, `/version`, trailing slashes allowed); `/openapi/v2`, `/openapi/v3[/<gv>]`;
`/healthz`, `/readyz`, `/livez`. Each request goes through authentication and RBAC when enabled
(`mocks.kube.rbac`), content negotiation (`mocks.kube.negotiation`: JSON, YAML, Table) and carries its
options (fieldManager, fieldValidation, force, gracePeriodSeconds) to the operations; warnings come
back as `Warning` headers. Extra mock endpoints: `POST /_mock/compact` (forget the watch history:
older resourceVersions get 410), `POST /_mock/load` (`{"items": [...]}`: bulk create), and the fault
`{"dropWatches": true}` on `POST /_mock/faults` (close every open watch connection now).
"""

from __future__ import annotations

import logging
from typing import Any

import yaml

from mocks.common.app import MockApp
from mocks.common.http import Request, Response, json_response
from mocks.kube import context, discovery, meta, negotiation, openapi, protobuf, rbac, tables
from mocks.kube.api import DRY_RUN, Api
from mocks.kube.controllers import EgressIPController, EndpointSliceController, Kubelet
from mocks.kube.errors import ApiError, bad_request, not_found, status_object
from mocks.kube.patch import APPLY_PATCH
from mocks.kube.resources import ResourceType
from mocks.kube.store import dumps
from mocks.kube.watch import open_watch

log = logging.getLogger(__name__)
WATCH_TRUE = {"true", "True", "1"}
JSON = "application/json"
ADMIN_TOKEN = "mock-admin-token"
NOT_FOUND = "the server could not find the requested resource"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _respond(status: int, payload: Any) -> Response:
    return Response(status=status, body=dumps(payload), headers={"Content-Type": JSON})


class KubeApp(MockApp):
    """A stateful Kubernetes API server (see the package docstring for the behaviour)."""

    name = "kube"

    def __init__(
        self,
        controllers: bool = True,
        history_size: int = 50_000,
        bookmark_interval: float = 5.0,
        pod_cidr: str = "10.244.0.0/14",
        pod_cidr_v6: str = "fd00:10:244::/64",
        server_address: str = "127.0.0.1:6443",
        nodes: int = 0,
        pod_grace_seconds: float | None = None,
        authz: str = "",
        admin_token: str = ADMIN_TOKEN,
    ) -> None:
        """`pod_grace_seconds`: grace period of pods deleted without one (None: their own, 30 s by
        default); `authz`: "rbac" to authenticate and authorize every request (`mocks.kube.rbac`),
        with `admin_token` the token allowed everything."""
        super().__init__()
        if authz not in ("", "rbac"):
            raise ValueError(f"unknown authorization mode {authz!r} (expected 'rbac')")
        self.authz = authz
        self.authenticator = rbac.Authenticator(admin_token)
        self.api = Api(history_size, pod_grace_seconds)
        self.api.listeners.append(rbac.ServiceAccountTokens(self.api, self.authenticator).on_event)
        self.nodes = nodes
        self.bookmark_interval = bookmark_interval
        self.server_address = server_address
        self.kubelet: Kubelet | None = None
        self.endpoint_slices: EndpointSliceController | None = None
        self.egress_ips: EgressIPController | None = None
        if controllers:
            self.kubelet = Kubelet(self.api, pod_cidr, pod_cidr_v6)
            self.endpoint_slices = EndpointSliceController(self.api)
            self.egress_ips = EgressIPController(self.api)
            self.api.listeners.extend(
                [self.kubelet.on_event, self.endpoint_slices.on_event, self.egress_ips.on_event]
            )
        self._create_nodes()

    def _create_nodes(self) -> None:
        """`nodes` Ready Nodes node-1..node-N with InternalIPs 192.168.0.1, 192.168.0.2, ..."""
        node_type = self.api.type_of(("", "nodes"))
        for index in range(self.nodes):
            name = f"node-{index + 1}"
            address = f"192.168.{index // 250}.{index % 250 + 1}"
            self.api.create(
                node_type,
                "",
                {
                    "metadata": {
                        "name": name,
                        "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
                    },
                    "status": {
                        "addresses": [
                            {"type": "InternalIP", "address": address},
                            {"type": "Hostname", "address": name},
                        ],
                        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                        "nodeInfo": {
                            "kubeletVersion": discovery.VERSION_INFO["gitVersion"],
                            "osImage": "Mock Linux",
                            "kernelVersion": "6.1.0-mock",
                            "containerRuntimeVersion": "containerd://1.7.0",
                            "operatingSystem": "linux",
                            "architecture": "amd64",
                            "machineID": f"{index + 1:032x}",
                            "systemUUID": f"00000000-0000-0000-0000-{index + 1:012x}",
                            "bootID": f"00000000-0000-0000-0001-{index + 1:012x}",
                            "kubeProxyVersion": discovery.VERSION_INFO["gitVersion"],
                        },
                    },
                },
            )

    # --- MockApp hooks --------------------------------------------------------------------------
    def error(self, status: int, message: str) -> Response:
        return _respond(status, status_object(status, message))

    def reset_state(self) -> None:
        self.api.reset()
        self.authenticator.reset()
        if self.kubelet is not None:
            self.kubelet.reset()
        if self.endpoint_slices is not None:
            self.endpoint_slices.reset()
        self._create_nodes()

    def custom_fault(self, spec: dict[str, Any]) -> bool:
        if spec.get("dropWatches"):
            dropped = self.api.store.drop_watchers()
            log.info("dropped %d watch streams", dropped)
            return True
        return False

    def custom_mock_route(self, request: Request) -> Response | None:
        path = request.path.rstrip("/")
        if path == "/_mock/compact" and request.method == "POST":
            return json_response(200, {"resourceVersion": str(self.api.store.compact())})
        if path == "/_mock/load" and request.method == "POST":
            try:
                body = request.json() or {}
                items = body.get("items") if isinstance(body, dict) else None
                if not isinstance(items, list):
                    raise bad_request('expected {"items": [...]}')
                count = self.load(items)
            except ApiError as exc:
                return _respond(exc.code, exc.status)
            except ValueError as exc:
                return json_response(400, {"error": str(exc)})
            return json_response(
                200, {"loaded": count, "resourceVersion": str(self.api.store.resource_version)}
            )
        return None

    def load(self, items: list[Any]) -> int:
        """Bulk-create `items` (see `Api.load`); controllers complete pods and slices afterwards."""
        prepare = self.kubelet.prepare_loaded if self.kubelet is not None else None
        if self.kubelet is not None:
            self.kubelet.begin_load()
        try:
            count = self.api.load(items, prepare)
        finally:
            if self.kubelet is not None:
                self.kubelet.end_load()
        if self.endpoint_slices is not None:
            namespaces = {
                str((i.get("metadata") or {}).get("namespace") or "default")
                for i in items
                if isinstance(i, dict) and i.get("kind") in ("Pod", "Service")
            }
            self.endpoint_slices.sync_all(namespaces)
        return count

    # --- routing --------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        dry_run = request.arg("dryRun")
        token = DRY_RUN.set(bool(dry_run))
        options = context.RequestOptions()
        options_token = context.REQUEST.set(options)
        try:
            if dry_run not in (None, "All"):
                raise bad_request(f'Unsupported value: "{dry_run}": supported values: "All"')
            self._read_options(request, options)
            if self.authz:
                user = self.authenticator.authenticate(request.header("Authorization"), self.api.store)
                attrs = rbac.attributes(request.method, request.path.rstrip("/") or "/", request.query)
                if not rbac.allowed(self.api.store, user, attrs):
                    raise rbac.forbidden(user, attrs)
                options.user = user
            response = self._route(request)
        except ApiError as exc:
            response = _respond(exc.code, exc.status)
        finally:
            DRY_RUN.reset(token)
            context.REQUEST.reset(options_token)
        if options.warnings:
            response.headers["Warning"] = ", ".join(
                '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"' for text in options.warnings
            )
        return response

    @staticmethod
    def _read_options(request: Request, options: context.RequestOptions) -> None:
        validation = request.arg("fieldValidation") or "Warn"
        if validation not in context.FIELD_VALIDATION:
            raise bad_request(
                f'fieldValidation: Unsupported value: "{validation}": supported values: '
                '"Ignore", "Strict", "Warn"'
            )
        options.field_validation = validation
        options.force = (request.arg("force") or "").lower() == "true"
        if request.method in WRITES:
            agent = (request.header("User-Agent") or "").split("/")[0].strip()
            applying = (request.header("Content-Type") or "").split(";")[0].strip().lower() == APPLY_PATCH
            options.field_manager = request.arg("fieldManager") or ("" if applying else agent)
        grace = request.arg("gracePeriodSeconds")
        if grace is not None:
            try:
                options.grace_seconds = int(grace)
            except ValueError as exc:
                raise bad_request(f"invalid gracePeriodSeconds {grace!r}") from exc

    def _route(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        method = request.method
        if not parts:
            return _respond(
                200,
                {
                    "paths": [
                        "/api",
                        "/api/v1",
                        "/apis",
                        "/healthz",
                        "/livez",
                        "/openapi/v2",
                        "/openapi/v3",
                        "/readyz",
                        "/version",
                    ]
                },
            )
        head = parts[0]
        if head in ("healthz", "readyz", "livez") and method == "GET":
            return Response(200, b"ok", {"Content-Type": "text/plain; charset=utf-8"})
        if head == "version" and len(parts) == 1:
            return _respond(200, discovery.VERSION_INFO)
        if head == "openapi" and method == "GET":
            return self._openapi(request, parts[1:])
        if head == "api":
            if len(parts) == 1:
                return _respond(200, discovery.core_versions(self.server_address))
            return self._group_version(request, "", parts[1], parts[2:])
        if head == "apis":
            if len(parts) == 1:
                return _respond(200, discovery.group_list(self.api.registry))
            if len(parts) == 2:
                group = discovery.group(self.api.registry, parts[1])
                if group is None:
                    raise ApiError(404, NOT_FOUND, "NotFound")
                return _respond(200, group)
            return self._group_version(request, parts[1], parts[2], parts[3:])
        raise ApiError(404, NOT_FOUND, "NotFound")

    def _openapi(self, request: Request, rest: list[str]) -> Response:
        negotiation.output(request.header("Accept"), views=False)  # 406 for protobuf only
        registry = self.api.registry
        if rest == ["v2"]:
            return _respond(200, openapi.v2_document(registry))
        if rest == ["v3"]:
            return _respond(200, openapi.v3_index(registry))
        if len(rest) >= 3 and rest[0] == "v3":
            if rest[1] == "api" and len(rest) == 3:
                doc = openapi.v3_document(registry, "", rest[2])
            elif rest[1] == "apis" and len(rest) == 4:
                doc = openapi.v3_document(registry, rest[2], rest[3])
            else:
                doc = None
            if doc is not None:
                return _respond(200, doc)
        raise ApiError(404, NOT_FOUND, "NotFound")

    def _group_version(self, request: Request, group: str, version: str, rest: list[str]) -> Response:
        registry = self.api.registry
        if not rest:
            listing = discovery.resource_list(registry, group, version)
            if listing is None:
                raise ApiError(404, NOT_FOUND, "NotFound")
            return _respond(200, listing)
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            candidate = registry.get(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                namespace, rest = rest[1], rest[2:]
        rtype = registry.get(group, version, rest[0])
        if rtype is None or len(rest) > 3:
            raise ApiError(404, NOT_FOUND, "NotFound")
        if namespace is not None and not rtype.namespaced:
            raise ApiError(404, NOT_FOUND, "NotFound")
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if rtype.extra.get("virtual"):
            if name is not None or request.method != "POST":
                raise ApiError(
                    405, "the server does not allow this method on the requested resource", "MethodNotAllowed"
                )
            if rtype.plural == "selfsubjectreviews":
                return self._whoami(rtype)
            return self._access_review(request, rtype)
        if subresource == "token" and rtype.key == ("", "serviceaccounts") and name is not None:
            return self._token_request(request, namespace or "", name)
        if subresource is not None and (subresource != "status" or not rtype.status_subresource):
            raise ApiError(404, NOT_FOUND, "NotFound")
        if name is None:
            return self._collection(request, rtype, namespace)
        if rtype.namespaced and namespace is None:
            raise ApiError(404, NOT_FOUND, "NotFound")
        return self._item(request, rtype, namespace or "", name, subresource)

    # --- responses ------------------------------------------------------------------------------
    def _object_response(
        self, rtype: ResourceType, status: int, obj: dict[str, Any], request: Request | None = None
    ) -> Response:
        out = self._output(request, rtype)
        if out.view == "Table":
            include = tables.include_mode(request.query if request is not None else {})
            rv = (obj.get("metadata") or {}).get("resourceVersion", "")
            return self._encoded(
                out, status, tables.table(rtype, [obj], {"resourceVersion": rv}, include, out.version)
            )
        if out.view.startswith("PartialObjectMetadata"):
            return self._encoded(out, status, tables.partial(obj, out.version))
        if out.media != JSON:
            return self._encoded(out, status, obj)
        return Response(status, self.api.store.encode(rtype.key, obj), {"Content-Type": JSON})

    def _output(self, request: Request | None, rtype: ResourceType) -> negotiation.Output:
        if request is None:
            return negotiation.Output()
        return negotiation.output(request.header("Accept"), views=request.method == "GET")

    @staticmethod
    def _encoded(out: negotiation.Output, status: int, payload: Any) -> Response:
        if out.media == negotiation.YAML:
            return Response(
                status, yaml.safe_dump(payload, sort_keys=False).encode(), {"Content-Type": negotiation.YAML}
            )
        return _respond(status, payload)

    def _list_response(self, rtype: ResourceType, listing: dict[str, Any], request: Request) -> Response:
        """The list as JSON, items from the per-object serialization cache (or as a Table)."""
        out = self._output(request, rtype)
        if out.view == "Table":
            include = tables.include_mode(request.query)
            return self._encoded(
                out, 200, tables.table(rtype, listing["items"], listing["metadata"], include, out.version)
            )
        if out.view.startswith("PartialObjectMetadata"):
            listing = {
                "kind": "PartialObjectMetadataList",
                "apiVersion": f"meta.k8s.io/{out.version}",
                "metadata": listing["metadata"],
                "items": [tables.partial(obj, out.version) for obj in listing["items"]],
            }
            return self._encoded(out, 200, listing)
        if out.media != JSON:
            return self._encoded(out, 200, listing)
        head = dumps({k: v for k, v in listing.items() if k != "items"})
        encode = self.api.store.encode
        items = b",".join([encode(rtype.key, obj) for obj in listing["items"]])
        return Response(200, head[:-1] + b',"items":[' + items + b"]}", {"Content-Type": JSON})

    # --- bodies ---------------------------------------------------------------------------------
    def _yaml_body(self, request: Request) -> Any:
        try:
            return yaml.safe_load(request.body or b"{}")
        except yaml.YAMLError as exc:
            raise bad_request(f"the body of the request could not be decoded: {exc}") from exc

    def _body(self, request: Request) -> Any:
        if request.method in ("POST", "PUT") and request.body:
            media = negotiation.body_media(request.header("Content-Type"))
            if media == negotiation.YAML:
                return self._yaml_body(request)
            if media == negotiation.PROTOBUF:
                try:
                    return protobuf.decode(request.body)
                except protobuf.Undecodable as exc:
                    raise negotiation.unsupported() from exc
        try:
            return request.json()
        except ValueError as exc:
            raise bad_request(f"the body of the request could not be decoded: {exc}") from exc

    # --- operations -----------------------------------------------------------------------------
    def _collection(self, request: Request, rtype: ResourceType, namespace: str | None) -> Response:
        method = request.method
        if method == "GET":
            if request.arg("watch", "") in WATCH_TRUE:
                return self._watch(request, rtype, namespace)
            self._output(request, rtype)  # 406 before any work
            return self._list_response(rtype, self.api.list_objects(rtype, namespace, request.query), request)
        if method == "POST":
            if rtype.namespaced and namespace is None:
                raise ApiError(
                    405, "the server does not allow this method on the requested resource", "MethodNotAllowed"
                )
            return self._object_response(
                rtype, 201, self.api.create(rtype, namespace or "", self._body(request)), request
            )
        if method == "DELETE":
            return _respond(200, self.api.delete_collection(rtype, namespace, request.query))
        raise ApiError(
            405, "the server does not allow this method on the requested resource", "MethodNotAllowed"
        )

    def _item(
        self, request: Request, rtype: ResourceType, namespace: str, name: str, subresource: str | None
    ) -> Response:
        method = request.method
        if method == "GET":
            return self._object_response(rtype, 200, self.api.get(rtype, namespace, name), request)
        if method == "PUT":
            replaced = self.api.replace(rtype, namespace, name, self._body(request), subresource)
            return self._object_response(rtype, 200, replaced, request)
        if method == "PATCH":
            content_type = request.header("Content-Type", "") or ""
            if content_type.split(";")[0].strip().lower() == APPLY_PATCH:
                existed = (
                    self.api.store.get(rtype.key, namespace if rtype.namespaced else "", name) is not None
                )
                applied = self.api.apply(rtype, namespace, name, self._yaml_body(request), subresource)
                return self._object_response(rtype, 200 if existed else 201, applied, request)
            patched = self.api.patch(rtype, namespace, name, content_type, self._body(request), subresource)
            return self._object_response(rtype, 200, patched, request)
        if method == "DELETE" and subresource is None:
            return _respond(200, self.api.delete(rtype, namespace, name, self._body(request)))
        raise ApiError(
            405, "the server does not allow this method on the requested resource", "MethodNotAllowed"
        )

    def _token_request(self, request: Request, namespace: str, name: str) -> Response:
        """TokenRequest (`kubectl create token`): a bearer token for the ServiceAccount."""
        if request.method != "POST":
            raise ApiError(
                405, "the server does not allow this method on the requested resource", "MethodNotAllowed"
            )
        account = self.api.store.get(("", "serviceaccounts"), namespace, name)
        if account is None:
            raise not_found("serviceaccounts", "", name)
        body = self._body(request) or {}
        spec = dict(body.get("spec") or {}) if isinstance(body, dict) else {}
        seconds = int(spec.get("expirationSeconds") or 3600)
        spec["expirationSeconds"] = seconds
        spec.setdefault("audiences", ["https://kubernetes.default.svc.cluster.local"])
        token = self.authenticator.issue(namespace, name, str(account["metadata"].get("uid", "")))
        answer = {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": spec,
            "status": {"token": token, "expirationTimestamp": meta.timestamp_in(seconds)},
        }
        return _respond(201, answer)

    def _whoami(self, rtype: ResourceType) -> Response:
        """SelfSubjectReview (`kubectl auth whoami`): the caller's user and groups."""
        options = context.current()
        user = options.user if options is not None and options.user is not None else rbac.ADMIN
        info: dict[str, Any] = {"username": user.name, "groups": list(user.groups)}
        answer = {
            "kind": rtype.kind,
            "apiVersion": rtype.api_version,
            "metadata": {"creationTimestamp": None},
            "status": {"userInfo": info},
        }
        return _respond(201, answer)

    def _access_review(self, request: Request, rtype: ResourceType) -> Response:
        """SelfSubjectAccessReview (`kubectl auth can-i`): asks RBAC about the caller."""
        body = self._body(request) or {}
        spec = (body.get("spec") or {}) if isinstance(body, dict) else {}
        options = context.current()
        user = options.user if options is not None and options.user is not None else None
        resource = spec.get("resourceAttributes")
        if isinstance(resource, dict):
            attrs = rbac.Attributes(
                verb=str(resource.get("verb", "")),
                path="",
                resource_request=True,
                group=str(resource.get("group", "")),
                resource=str(resource.get("resource", "")),
                subresource=str(resource.get("subresource", "")),
                namespace=str(resource.get("namespace", "")),
                name=str(resource.get("name", "")),
            )
        else:
            other = spec.get("nonResourceAttributes") or {}
            attrs = rbac.Attributes(verb=str(other.get("verb", "")), path=str(other.get("path", "")))
        allowed = user is None or rbac.allowed(self.api.store, user, attrs)
        answer = {
            "kind": rtype.kind,
            "apiVersion": rtype.api_version,
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": {"allowed": allowed} if allowed else {"allowed": False, "reason": ""},
        }
        return _respond(201, answer)

    def _watch(self, request: Request, rtype: ResourceType, namespace: str | None) -> Response:
        out = negotiation.output(request.header("Accept"))
        include = tables.include_mode(request.query) if out.view == "Table" else ""
        match = self.api.predicate(rtype, request.query)
        rv_text = request.arg("resourceVersion", "") or ""
        since: int | None = None
        if rv_text not in ("", "0"):
            try:
                since = int(rv_text)
            except ValueError as exc:
                raise bad_request(f"invalid resource version {rv_text!r}") from exc
        timeout_text = request.arg("timeoutSeconds")
        try:
            timeout = float(timeout_text) if timeout_text else None
            if timeout is not None and timeout <= 0:
                timeout = None
        except ValueError as exc:
            raise bad_request(f"invalid timeoutSeconds {timeout_text!r}") from exc
        bookmarks = request.arg("allowWatchBookmarks", "") in WATCH_TRUE
        initial_end = request.arg("sendInitialEvents", "") in WATCH_TRUE and since is None and bookmarks
        stream = open_watch(
            self.api.store,
            rtype,
            namespace if rtype.namespaced else None,
            since,
            match,
            timeout,
            bookmarks,
            self.bookmark_interval,
            initial_end,
            table=(include, out.version) if out.view == "Table" else None,
        )
        return Response(
            200, headers={"Content-Type": JSON, "Cache-Control": "no-cache, private"}, stream=stream
        )
