"""A stateful Kubernetes API server for tests, demos and benchmarks (`python -m mocks kube`).

In process: `HttpServer(KubeApp()).start()`; `KubeApp(controllers=True, history_size=50_000,
bookmark_interval=5.0, pod_cidr="10.244.0.0/14", pod_cidr_v6="fd00:10:244::/64", nodes=0,
pod_grace_seconds=None, authz="", admin_token="mock-admin-token")`.
Command line: `--no-controllers`, `--history N`, `--bookmark-interval S`, `--pod-cidr`,
`--pod-cidr-v6`, `--nodes N` (Ready Nodes node-1..node-N with InternalIPs 192.168.0.1...),
`--pod-grace-seconds S` (grace period of pods deleted without one; default: the pod's own, 30 s),
`--authz rbac` (authenticate and authorize every request, see `mocks.kube.rbac`), `--admin-token`.

Serves core/v1 (namespaces, pods, services, nodes, events, configmaps, secrets, serviceaccounts and
their TokenRequest subresource), discovery.k8s.io/v1 EndpointSlices, coordination.k8s.io/v1 Leases,
events.k8s.io/v1 Events, rbac.authorization.k8s.io/v1 (roles, clusterroles and their bindings),
authorization.k8s.io/v1 SelfSubjectAccessReviews, authentication.k8s.io/v1 SelfSubjectReviews,
k8s.ovn.org/v1 EgressIPs (cluster-scoped, no schema) and apiextensions.k8s.io/v1 CRDs, whose
creation registers their kinds (served, discoverable, schema-validated; see `mocks.kube.schema`),
and the OpenAPI v2/v3 documents of all of them (`mocks.kube.openapi`). Answers JSON, YAML or
Tables (`mocks.kube.tables`); reads JSON, YAML and the protobuf bodies kubectl sends
(`mocks.kube.protobuf`). Starts with the namespaces default, kube-system, kube-public and
kube-node-lease.

Mock endpoints besides the common ones (`/_mock/faults`, `/_mock/requests`, `/_mock/reset`):
`POST /_mock/compact` forgets the watch history (older resourceVersions get 410 Gone);
`POST /_mock/load {"items": [...]}` bulk-creates or replaces objects, creating missing namespaces;
fault `{"dropWatches": true}` cuts every open watch connection. Deletion: a pod bound to a node is
Terminating (deletionTimestamp, deletionGracePeriodSeconds) until its grace period ends, then
removed and its address released; a namespace is Terminating while its content is deleted, then
removed; objects with finalizers wait for them. `fieldValidation` (Strict, Warn) and managedFields
with server-side apply conflicts: `mocks.kube.fields`. `dryRun=All` checks and answers without
storing. The simulated kubelet and EndpointSlice controller, and the pod annotations they
honour, are described in `mocks.kube.controllers`; the token controller (ServiceAccount token
Secrets) in `mocks.kube.rbac`.
"""

from __future__ import annotations

import argparse

from mocks.kube.app import KubeApp

__all__ = ["KubeApp", "add_arguments", "create_app"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-controllers",
        action="store_true",
        help="no simulated kubelet, EndpointSlice and EgressIP controllers",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=50_000,
        help="watch events retained; older resourceVersions get 410 Gone",
    )
    parser.add_argument(
        "--bookmark-interval",
        type=float,
        default=5.0,
        help="seconds between BOOKMARK events on quiet watches",
    )
    parser.add_argument("--pod-cidr", default="10.244.0.0/14", help="pool of pod IPv4 addresses")
    parser.add_argument("--pod-cidr-v6", default="fd00:10:244::/64", help="pool of pod IPv6 addresses")
    parser.add_argument(
        "--nodes", type=int, default=0, help="create this many Ready Nodes at start and reset"
    )
    parser.add_argument(
        "--pod-grace-seconds",
        type=float,
        default=None,
        help="grace period of pods deleted without one (default: the pod's own, 30 s; 0: immediate)",
    )
    parser.add_argument(
        "--authz", choices=["rbac"], default="", help="authenticate bearer tokens and enforce RBAC"
    )
    parser.add_argument(
        "--admin-token", default="mock-admin-token", help="with --authz rbac: the token allowed everything"
    )


def create_app(args: argparse.Namespace) -> KubeApp:
    return KubeApp(
        controllers=not args.no_controllers,
        history_size=args.history,
        bookmark_interval=args.bookmark_interval,
        pod_cidr=args.pod_cidr,
        pod_cidr_v6=args.pod_cidr_v6,
        server_address=f"{args.host}:{args.port}",
        nodes=args.nodes,
        pod_grace_seconds=args.pod_grace_seconds,
        authz=args.authz,
        admin_token=args.admin_token,
    )
