"""Authentication and RBAC authorization (`--authz rbac`; off by default: everything is allowed).

Authentication: `Authorization: Bearer <token>` with the admin token (user `mock-admin`, group
`system:masters`: allowed everything) or a ServiceAccount token: from the TokenRequest API (`POST
.../serviceaccounts/NAME/token`, what `kubectl create token` calls), or the long-lived one
`ServiceAccountTokens` writes into a Secret of type `kubernetes.io/service-account-token` (valid
while that Secret exists); either is valid while its ServiceAccount (same uid) exists. No token is
the anonymous user `system:anonymous`; any other token is 401.

Authorization, as the RBAC authorizer: a request is allowed when a rule of a ClusterRole bound by a
ClusterRoleBinding, or of a Role or ClusterRole bound by a RoleBinding in the request's namespace,
names the subject (User, Group, ServiceAccount) and matches verb, API group, resource (`pods`,
`pods/status`, `*`, `*/status`), resourceNames and, for other paths, nonResourceURLs (`/x`, `/x/*`).
Built in, not stored: discovery, version, health and OpenAPI paths for every user
(system:discovery, system:public-info-viewer), self access reviews for authenticated users, and the
ClusterRoles `cluster-admin` and `view` when no stored ClusterRole has that name. Denials are 403
with the real server's message. Not modelled: escalation checks on writing roles and bindings,
aggregated ClusterRoles, impersonation.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

from mocks.kube.errors import ApiError
from mocks.kube.store import Store

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"
ROLES = (RBAC, "roles")
CLUSTER_ROLES = (RBAC, "clusterroles")
BINDINGS = (RBAC, "rolebindings")
CLUSTER_BINDINGS = (RBAC, "clusterrolebindings")
SERVICE_ACCOUNTS = ("", "serviceaccounts")
SECRETS = ("", "secrets")
TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
ACCOUNT_NAME = "kubernetes.io/service-account.name"
ACCOUNT_UID = "kubernetes.io/service-account.uid"
ADMIN_USER = "mock-admin"
PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version", "/version/")
DISCOVERY_PATHS = ("/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", *PUBLIC_PATHS)
BUILTIN_ROLES: dict[str, list[Obj]] = {
    "cluster-admin": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ],
    "view": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
    ],
}


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()

    @property
    def admin(self) -> bool:
        return "system:masters" in self.groups


ANONYMOUS = User("system:anonymous", ("system:unauthenticated",))
ADMIN = User(ADMIN_USER, ("system:masters", "system:authenticated"))


@dataclass
class Attributes:
    """What a request asks, as the authorizer sees it."""

    verb: str
    path: str
    resource_request: bool = False
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


@dataclass
class _Token:
    namespace: str
    name: str
    uid: str
    secret: str = ""


@dataclass
class Authenticator:
    admin_token: str
    _tokens: dict[str, _Token] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, namespace: str, name: str, uid: str, secret: str = "") -> str:
        """A new bearer token for ServiceAccount `namespace/name` (JWT-shaped, opaque to clients);
        with `secret`, valid only while that Secret of the namespace exists."""
        claims = {"sub": f"system:serviceaccount:{namespace}:{name}", "iss": "https://kubernetes.default.svc"}
        parts = [
            base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
            for part in ({"alg": "RS256", "kid": "mock"}, claims)
        ]
        token = ".".join([*parts, secrets.token_urlsafe(32)])
        with self._lock:
            self._tokens[token] = _Token(namespace, name, uid, secret)
        return token

    def reset(self) -> None:
        with self._lock:
            self._tokens.clear()

    def authenticate(self, header: str | None, store: Store) -> User:
        if not header:
            return ANONYMOUS
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized()
        if secrets.compare_digest(token, self.admin_token):
            return ADMIN
        with self._lock:
            known = self._tokens.get(token)
        if known is None:
            raise unauthorized()
        account = store.get(SERVICE_ACCOUNTS, known.namespace, known.name)
        if account is None or (account.get("metadata") or {}).get("uid") != known.uid:
            raise unauthorized()
        if known.secret and store.get(SECRETS, known.namespace, known.secret) is None:
            raise unauthorized()
        return User(
            f"system:serviceaccount:{known.namespace}:{known.name}",
            ("system:serviceaccounts", f"system:serviceaccounts:{known.namespace}", "system:authenticated"),
        )


class ServiceAccountTokens:
    """The token controller: a new Secret of type `kubernetes.io/service-account-token` naming an
    existing ServiceAccount (annotation `kubernetes.io/service-account.name`) gets `data.token`,
    `data.namespace`, `data["ca.crt"]` and the account's uid annotation."""

    def __init__(self, api: Any, authenticator: Authenticator) -> None:
        self.api = api
        self.authenticator = authenticator

    def on_event(self, event: Any) -> None:
        if event.key != SECRETS or event.type != "ADDED" or event.obj.get("type") != TOKEN_SECRET_TYPE:
            return
        metadata = event.obj.get("metadata") or {}
        account_name = (metadata.get("annotations") or {}).get(ACCOUNT_NAME)
        namespace, secret = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
        account = self.api.store.get(SERVICE_ACCOUNTS, namespace, account_name) if account_name else None
        if account is None or (event.obj.get("data") or {}).get("token"):
            return
        uid = str(account["metadata"].get("uid", ""))
        token = self.authenticator.issue(namespace, str(account_name), uid, secret)

        def fill(current: Obj) -> Obj:
            data = dict(current.get("data") or {})
            data["token"] = base64.b64encode(token.encode()).decode()
            data["namespace"] = base64.b64encode(namespace.encode()).decode()
            data.setdefault("ca.crt", "")
            annotations = {**(current["metadata"].get("annotations") or {}), ACCOUNT_UID: uid}
            return {**current, "data": data, "metadata": {**current["metadata"], "annotations": annotations}}

        try:
            self.api.update_with(self.api.type_of(SECRETS), namespace, secret, fill)
        except ApiError:
            return


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


# --- rules ----------------------------------------------------------------------------------------
def _has(values: Any, wanted: str) -> bool:
    return isinstance(values, list) and ("*" in values or wanted in values)


def _resource_matches(resources: Any, attrs: Attributes) -> bool:
    if not isinstance(resources, list):
        return False
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    for item in resources:
        if item in ("*", combined):
            return True
        if attrs.subresource and item == f"*/{attrs.subresource}":
            return True
    return False


def _path_matches(urls: Any, path: str) -> bool:
    if not isinstance(urls, list):
        return False
    for url in urls:
        if url == "*" or url == path:
            return True
        if isinstance(url, str) and url.endswith("*") and path.startswith(url[:-1]):
            return True
    return False


def rule_allows(rule: Obj, attrs: Attributes) -> bool:
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        return _path_matches(rule.get("nonResourceURLs"), attrs.path)
    if not _has(rule.get("apiGroups"), attrs.group) or not _resource_matches(rule.get("resources"), attrs):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def _subject_matches(subject: Obj, user: User, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        return bool(subject.get("name") == user.name)
    if kind == "Group":
        return subject.get("name") in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user.name == f"system:serviceaccount:{namespace}:{subject.get('name')}"
    return False


def _builtin_allows(user: User, attrs: Attributes) -> bool:
    if user.admin:
        return True
    if not attrs.resource_request:
        paths = DISCOVERY_PATHS if "system:authenticated" in user.groups else PUBLIC_PATHS
        return attrs.verb == "get" and _path_matches(list(paths), attrs.path)
    return (
        "system:authenticated" in user.groups
        and (attrs.group, attrs.resource)
        in (
            ("authorization.k8s.io", "selfsubjectaccessreviews"),
            ("authorization.k8s.io", "selfsubjectrulesreviews"),
            ("authentication.k8s.io", "selfsubjectreviews"),
        )
        and attrs.verb == "create"
    )


def _role_rules(store: Store, kind: str, name: str, namespace: str) -> list[Obj]:
    if kind == "ClusterRole":
        role = store.get(CLUSTER_ROLES, "", name)
        if role is None:
            return BUILTIN_ROLES.get(name, [])
    elif kind == "Role":
        role = store.get(ROLES, namespace, name)
    else:
        return []
    rules = (role or {}).get("rules") or []
    return [r for r in rules if isinstance(r, dict)]


def allowed(store: Store, user: User, attrs: Attributes) -> bool:
    """Whether RBAC (plus the built-in policy) allows `user` to do `attrs`."""
    if _builtin_allows(user, attrs):
        return True
    _, cluster_bindings = store.snapshot(CLUSTER_BINDINGS, None)
    for binding in list(cluster_bindings):
        if _grants(store, binding, user, attrs, ""):
            return True
    if attrs.namespace:
        _, bindings = store.snapshot(BINDINGS, attrs.namespace)
        for binding in list(bindings):
            if _grants(store, binding, user, attrs, attrs.namespace):
                return True
    return False


def _grants(store: Store, binding: Obj, user: User, attrs: Attributes, namespace: str) -> bool:
    subjects = binding.get("subjects") or []
    if not any(isinstance(s, dict) and _subject_matches(s, user, namespace) for s in subjects):
        return False
    ref = binding.get("roleRef") or {}
    rules = _role_rules(store, str(ref.get("kind", "")), str(ref.get("name", "")), namespace)
    return any(rule_allows(rule, attrs) for rule in rules)


def forbidden(user: User, attrs: Attributes) -> ApiError:
    """403 worded as the real server words it."""
    if not attrs.resource_request:
        return ApiError(
            403, f'forbidden: User "{user.name}" cannot {attrs.verb} path "{attrs.path}"', "Forbidden", {}
        )
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    reason = f'User "{user.name}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.group}"'
    reason += f' in the namespace "{attrs.namespace}"' if attrs.namespace else " at the cluster scope"
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    details: Obj = {"kind": attrs.resource}
    if attrs.name:
        details["name"] = attrs.name
    if attrs.group:
        details["group"] = attrs.group
    return ApiError(403, f"{subject} is forbidden: {reason}", "Forbidden", details)


def attributes(method: str, path: str, query: dict[str, list[str]]) -> Attributes:
    """The authorizer's view of a request (resource requests under /api and /apis)."""
    parts = [p for p in path.split("/") if p]
    verb = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete"}.get(method, method.lower())  # fmt: skip
    rest: list[str] | None = None
    group = ""
    if parts[:1] == ["api"] and len(parts) >= 3:
        rest = parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    if rest is None:
        http_verb = {"GET": "get", "HEAD": "head", "POST": "post", "PUT": "put", "PATCH": "patch",
                     "DELETE": "delete"}.get(method, method.lower())  # fmt: skip
        return Attributes(http_verb, path or "/")
    attrs = Attributes(verb, path, resource_request=True, group=group)
    if rest[0] == "namespaces" and len(rest) >= 3:
        attrs.namespace, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and len(rest) == 2:
        attrs.namespace = rest[1]
    attrs.resource = rest[0]
    attrs.name = rest[1] if len(rest) > 1 else ""
    attrs.subresource = rest[2] if len(rest) > 2 else ""
    watching = (query.get("watch") or [""])[0].lower() in ("true", "1")
    if not attrs.name:
        if method in ("GET", "HEAD"):
            attrs.verb = "watch" if watching else "list"
        elif method == "DELETE":
            attrs.verb = "deletecollection"
    elif watching:
        attrs.verb = "watch"
    return attrs
