"""`python -m mocks fortigate`: a stateful FortiGate REST API mock (see `mocks.fortigate.app`)."""

from __future__ import annotations

import argparse

from mocks.fortigate.app import FortigateMock
from mocks.fortigate.store import DEFAULT_INTERFACES

__all__ = ["FortigateMock", "add_arguments", "create_app"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", default="mock-token",
                        help="API token accepted as Bearer (default mock-token)")
    parser.add_argument("--vdoms", default="root", help="comma-separated VDOM names (default root)")
    parser.add_argument("--interfaces", default=",".join(DEFAULT_INTERFACES),
                        help="comma-separated interface names policies may use")


def create_app(args: argparse.Namespace) -> FortigateMock:
    vdoms = tuple(v.strip() for v in args.vdoms.split(",") if v.strip())
    interfaces = tuple(i.strip() for i in args.interfaces.split(",") if i.strip())
    return FortigateMock(token=args.token, vdoms=vdoms or ("root",), interfaces=interfaces)
