"""A stateful Kubernetes API server for tests and demos (`python -m mocks kube`).

See `mocks.kube.app.KubeApp` for the constructor and the extra `/_mock/` endpoints, and
`mocks.kube.controllers` for the simulated kubelet and EndpointSlice controller.
"""

from __future__ import annotations

import argparse

from mocks.kube.app import KubeApp

__all__ = ["KubeApp", "add_arguments", "create_app"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-controllers", action="store_true", help="no simulated kubelet and EndpointSlice controller"
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


def create_app(args: argparse.Namespace) -> KubeApp:
    return KubeApp(
        controllers=not args.no_controllers,
        history_size=args.history,
        bookmark_interval=args.bookmark_interval,
        pod_cidr=args.pod_cidr,
        pod_cidr_v6=args.pod_cidr_v6,
        server_address=f"{args.host}:{args.port}",
    )
