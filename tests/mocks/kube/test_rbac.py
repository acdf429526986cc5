"""`--authz rbac`: ServiceAccount tokens, the admin token, 401, and RBAC decisions worded as the
real server words them."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mocks.kube import KubeApp
from mocks.kube.app import ADMIN_TOKEN
from tests.mocks.kube.conftest import Cluster, start

RBAC = "/apis/rbac.authorization.k8s.io/v1"


@pytest.fixture
def secured() -> Iterator[Cluster]:
    yield from start(KubeApp(authz="rbac", bookmark_interval=0.2))


def call(cluster: Cluster, method: str, path: str, token: str | None, body: Any = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.request(method, cluster.url + path, json=body, headers=headers, timeout=10)


def admin(cluster: Cluster, method: str, path: str, body: Any = None) -> Any:
    answer = call(cluster, method, path, ADMIN_TOKEN, body)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def account_token(cluster: Cluster, ns: str, name: str) -> str:
    admin(cluster, "POST", f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": name}})
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 600},
    }
    answer = admin(cluster, "POST", f"/api/v1/namespaces/{ns}/serviceaccounts/{name}/token", request)
    assert answer["kind"] == "TokenRequest" and answer["spec"]["expirationSeconds"] == 600
    return str(answer["status"]["token"])


def grant(
    cluster: Cluster, ns: str | None, name: str, rules: list[dict[str, Any]], account: tuple[str, str]
) -> None:
    subject = {"kind": "ServiceAccount", "namespace": account[0], "name": account[1]}
    if ns is None:
        admin(cluster, "POST", f"{RBAC}/clusterroles", {"metadata": {"name": name}, "rules": rules})
        admin(
            cluster,
            "POST",
            f"{RBAC}/clusterrolebindings",
            {
                "metadata": {"name": name},
                "subjects": [subject],
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            },
        )
    else:
        admin(cluster, "POST", f"{RBAC}/namespaces/{ns}/roles", {"metadata": {"name": name}, "rules": rules})
        admin(
            cluster,
            "POST",
            f"{RBAC}/namespaces/{ns}/rolebindings",
            {
                "metadata": {"name": name},
                "subjects": [subject],
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            },
        )


def test_tokens_authenticate_and_unknown_ones_are_401(secured: Cluster) -> None:
    token = account_token(secured, "default", "robot")
    assert call(secured, "GET", "/api", token).status_code == 200  # discovery for every authenticated user
    assert call(secured, "GET", "/version", None).status_code == 200  # public info for anonymous too
    unknown = call(secured, "GET", "/api/v1/namespaces", "not-a-token")
    assert unknown.status_code == 401 and unknown.json()["reason"] == "Unauthorized"
    anonymous = call(secured, "GET", "/api/v1/namespaces", None)
    assert anonymous.status_code == 403
    assert anonymous.json()["message"] == (
        'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in API group "" '
        "at the cluster scope"
    )
    admin(secured, "DELETE", "/api/v1/namespaces/default/serviceaccounts/robot")
    assert call(secured, "GET", "/api", token).status_code == 401  # the account is gone


def test_role_bindings_allow_exactly_their_rules(secured: Cluster) -> None:
    admin(secured, "POST", "/api/v1/namespaces", {"metadata": {"name": "team"}})
    token = account_token(secured, "team", "reader")
    grant(
        secured,
        "team",
        "pods",
        [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["settings"]},
        ],
        ("team", "reader"),
    )
    assert call(secured, "GET", "/api/v1/namespaces/team/pods", token).status_code == 200
    denied = call(secured, "GET", "/api/v1/namespaces/default/pods", token)
    assert denied.status_code == 403
    assert denied.json()["message"] == (
        'pods is forbidden: User "system:serviceaccount:team:reader" cannot list resource "pods" in API '
        'group "" in the namespace "default"'
    )
    assert denied.json()["details"] == {"kind": "pods"}
    watch = call(secured, "GET", "/api/v1/namespaces/team/pods?watch=true&timeoutSeconds=1", token)
    assert watch.status_code == 403 and "cannot watch resource" in watch.json()["message"]
    create = call(secured, "POST", "/api/v1/namespaces/team/pods", token, {"metadata": {"name": "p"}})
    assert create.status_code == 403 and "cannot create resource" in create.json()["message"]
    admin(secured, "POST", "/api/v1/namespaces/team/configmaps", {"metadata": {"name": "settings"}})
    admin(secured, "POST", "/api/v1/namespaces/team/configmaps", {"metadata": {"name": "secret-ish"}})
    assert call(secured, "GET", "/api/v1/namespaces/team/configmaps/settings", token).status_code == 200
    named = call(secured, "GET", "/api/v1/namespaces/team/configmaps/secret-ish", token)
    assert named.status_code == 403
    assert named.json()["message"].startswith('configmaps "secret-ish" is forbidden: User')


def test_subresources_and_api_groups_are_separate_permissions(secured: Cluster) -> None:
    token = account_token(secured, "default", "writer")
    grant(
        secured,
        None,
        "status-writer",
        [
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["*"]},
            {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["patch"]},
        ],
        ("default", "writer"),
    )
    lease = {"metadata": {"name": "l"}, "spec": {"holderIdentity": "me"}}
    assert (
        call(
            secured, "POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases", token, lease
        ).status_code
        == 201
    )
    admin(
        secured,
        "POST",
        "/api/v1/namespaces/default/pods",
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
    )
    patch = httpx.patch(
        secured.url + "/api/v1/namespaces/default/pods/p/status",
        json={"status": {}},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/merge-patch+json"},
        timeout=10,
    )
    assert patch.status_code == 200, patch.text
    main = httpx.patch(
        secured.url + "/api/v1/namespaces/default/pods/p",
        json={"metadata": {}},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/merge-patch+json"},
        timeout=10,
    )
    assert main.status_code == 403
    assert main.json()["message"] == (
        'pods "p" is forbidden: User "system:serviceaccount:default:writer" cannot patch resource "pods" in '
        'API group "" in the namespace "default"'
    )
    other_group = call(secured, "GET", "/apis/discovery.k8s.io/v1/endpointslices", token)
    assert other_group.status_code == 403
    assert 'in API group "discovery.k8s.io" at the cluster scope' in other_group.json()["message"]


def test_self_subject_access_review_answers_for_the_caller(secured: Cluster) -> None:
    token = account_token(secured, "default", "asker")
    grant(
        secured,
        "default",
        "read",
        [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
        ("default", "asker"),
    )

    def can(verb: str) -> bool:
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": "default", "verb": verb, "resource": "pods"}},
        }
        answer = call(
            secured, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", token, review
        )
        assert answer.status_code == 201, answer.text
        return bool(answer.json()["status"]["allowed"])

    assert can("list") and not can("delete")


def test_without_authz_every_token_is_accepted(cluster: Cluster) -> None:
    assert call(cluster, "GET", "/api/v1/namespaces", "anything").status_code == 200


def test_a_service_account_token_secret_gets_a_token_valid_while_it_exists(secured: Cluster) -> None:
    admin(secured, "POST", "/api/v1/namespaces/default/serviceaccounts", {"metadata": {"name": "ci"}})
    secret = {
        "metadata": {"name": "ci-token", "annotations": {"kubernetes.io/service-account.name": "ci"}},
        "type": "kubernetes.io/service-account-token",
    }
    admin(secured, "POST", "/api/v1/namespaces/default/secrets", secret)
    filled = admin(secured, "GET", "/api/v1/namespaces/default/secrets/ci-token")
    token = base64.b64decode(filled["data"]["token"]).decode()
    assert base64.b64decode(filled["data"]["namespace"]) == b"default"
    assert filled["metadata"]["annotations"]["kubernetes.io/service-account.uid"]
    denied = call(secured, "GET", "/api/v1/namespaces/default/pods", token)
    assert denied.status_code == 403 and 'User "system:serviceaccount:default:ci"' in denied.json()["message"]
    admin(secured, "DELETE", "/api/v1/namespaces/default/secrets/ci-token")
    assert call(secured, "GET", "/api/v1/namespaces/default/pods", token).status_code == 401


def test_self_subject_review_names_the_caller(secured: Cluster) -> None:
    token = account_token(secured, "default", "me")
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    answer = call(secured, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", token, review)
    assert answer.status_code == 201
    info = answer.json()["status"]["userInfo"]
    assert info["username"] == "system:serviceaccount:default:me"
    assert "system:serviceaccounts:default" in info["groups"]
