"""A stateful Kubernetes API server for tests, demos and benchmarks (`python -m mocks kube`).

In process: `HttpServer(KubeApp()).start()`; `KubeApp(controllers=True, history_size=50_000,
bookmark_interval=5.0, pod_cidr="10.244.0.0/14", pod_cidr_v6="fd00:10:244::/64", nodes=0)`.
Command line: `--no-controllers`, `--history N`, `--bookmark-interval S`, `--pod-cidr`,
`--pod-cidr-v6`, `--nodes N` (Ready Nodes node-1..node-N with InternalIPs 192.168.0.1...).

Serves core/v1 (namespaces, pods, services, nodes, events, configmaps, secrets, serviceaccounts),
discovery.k8s.io/v1 EndpointSlices, coordination.k8s.io/v1 Leases, events.k8s.io/v1 Events,
k8s.ovn.org/v1 EgressIPs (cluster-scoped, no schema) and apiextensions.k8s.io/v1 CRDs, whose
creation registers their kinds (served, discoverable, schema-validated; see `mocks.kube.schema`).
Starts with the namespaces default, kube-system, kube-public and kube-node-lease.

Mock endpoints besides the common ones (`/_mock/faults`, `/_mock/requests`, `/_mock/reset`):
`POST /_mock/compact` forgets the watch history (older resourceVersions get 410 Gone);
`POST /_mock/load {"items": [...]}` bulk-creates or replaces objects, creating missing namespaces;
fault `{"dropWatches": true}` cuts every open watch connection. Simplifications: deletion is
immediate (no grace period) unless finalizers hold it; server-side apply merges without field
ownership; `dryRun=All` checks and answers without storing. The simulated kubelet and
EndpointSlice controller, and the pod annotations they honour, are described in
`mocks.kube.controllers`.
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


def create_app(args: argparse.Namespace) -> KubeApp:
    return KubeApp(
        controllers=not args.no_controllers,
        history_size=args.history,
        bookmark_interval=args.bookmark_interval,
        pod_cidr=args.pod_cidr,
        pod_cidr_v6=args.pod_cidr_v6,
        server_address=f"{args.host}:{args.port}",
        nodes=args.nodes,
    )
