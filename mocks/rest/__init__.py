"""`python -m mocks rest`: the generic REST protocol receiver (see `mocks.rest.app`)."""

from __future__ import annotations

import argparse

from mocks.rest.app import RestMock

__all__ = ["RestMock", "add_arguments", "create_app"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", default="mock-token", help="bearer token accepted (default mock-token)")
    parser.add_argument("--hmac-secret", default=None, help="require requests signed with this secret")
    parser.add_argument("--max-objects", type=int, default=100_000, help="maxObjects capability")
    parser.add_argument("--max-changes", type=int, default=10_000, help="maxChangesPerSet capability")


def create_app(args: argparse.Namespace) -> RestMock:
    return RestMock(token=args.token, hmac_secret=args.hmac_secret, max_objects=args.max_objects,
                    max_changes=args.max_changes)
