"""`python -m mocks rest`: the generic REST protocol receiver (see `mocks.rest.app`)."""

from __future__ import annotations

import argparse

from mocks.rest.app import RestMock
from mocks.rest.push import check_url
from mocks.rest.state import FEATURES, LIMITED

__all__ = ["RestMock", "add_arguments", "create_app"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", default="mock-token", help="bearer token accepted (default mock-token)")
    parser.add_argument("--hmac-secret", default=None, help="require requests signed with this secret")
    parser.add_argument("--max-objects", type=int, default=100_000, help="maxObjects capability")
    parser.add_argument("--max-changes", type=int, default=10_000, help="maxChangesPerSet capability")
    parser.add_argument("--limits", type=_limits, default={}, metavar="groups=N,rules=M",
                        help="most groups and rules the receiver holds (limits capability); a change set "
                             "going beyond is refused with 422 limit_exceeded")
    parser.add_argument("--without", type=_features, default=frozenset(), metavar="FEATURE[,FEATURE]",
                        help=f"act as a receiver without these optional features ({', '.join(FEATURES)})")
    parser.add_argument("--flows", type=_url, metavar="URL",
                        help="push the logged flows of POST /_mock/traffic to this URL (the connector's "
                             "POST /v1/flows)")
    parser.add_argument("--flows-token", metavar="TOKEN", help="bearer token sent with the pushed flows")


def _url(text: str) -> str:
    try:
        return check_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _limits(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in LIMITED or not value.isdigit() or int(value) < 1:
            raise argparse.ArgumentTypeError(f"{part!r}: expected groups=N or rules=N with N >= 1")
        out[key] = int(value)
    return out


def _features(text: str) -> frozenset[str]:
    names = frozenset(filter(None, (p.strip() for p in text.split(","))))
    unknown = names - set(FEATURES)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown features {sorted(unknown)} (known: {', '.join(FEATURES)})")
    return names


def create_app(args: argparse.Namespace) -> RestMock:
    return RestMock(token=args.token, hmac_secret=args.hmac_secret, max_objects=args.max_objects,
                    max_changes=args.max_changes, limits=args.limits,
                    features=[f for f in FEATURES if f not in args.without], flows=args.flows,
                    flows_token=args.flows_token)
