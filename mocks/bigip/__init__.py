"""`python -m mocks bigip`: a BIG-IP answering AS3 (see `mocks.bigip.app`)."""

from __future__ import annotations

import argparse

from mocks.bigip.app import BigIpApp

__all__ = ["BigIpApp", "add_arguments", "create_app"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--token-lifetime", type=float, default=1200.0,
                        help="seconds a login token stays valid (BIG-IP default 1200)")
    parser.add_argument("--processing-ms", type=int, default=20,
                        help="time AS3 spends on each declaration; other writes get 503 meanwhile")
    parser.add_argument("--as3-schema", metavar="PATH",
                        help="validate whole declarations against this AS3 JSON schema file")


def create_app(args: argparse.Namespace) -> BigIpApp:
    return BigIpApp(args.username, args.password, token_lifetime=args.token_lifetime,
                    processing_ms=args.processing_ms, schema_path=args.as3_schema)
