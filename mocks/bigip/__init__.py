"""`python -m mocks bigip`: a BIG-IP answering AS3 (see `mocks.bigip.app`)."""

from __future__ import annotations

import argparse

from mocks.bigip.app import PROCESSING_MODELS, BigIpApp
from mocks.bigip.logline import FORMATS
from mocks.bigip.provision import MODULES
from mocks.common.syslog import syslog_target_argument

__all__ = ["BigIpApp", "add_arguments", "create_app"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--token-lifetime", type=float, default=1200.0,
                        help="seconds a login token stays valid (BIG-IP default 1200)")
    parser.add_argument("--processing-ms", type=int, default=20,
                        help="time AS3 spends on each declaration under --processing-model none; "
                             "other writes get 503 meanwhile")
    parser.add_argument("--processing-model", choices=PROCESSING_MODELS, default="none",
                        help="none: a fixed --processing-ms; realistic: a time that grows with the size of "
                             "the tenants declared (see docs/device-notes.md)")
    parser.add_argument("--processing-scale", type=_positive, default=1.0,
                        help="multiplies the realistic processing times, e.g. 0.01 in tests")
    parser.add_argument("--as3-schema", metavar="PATH",
                        help="validate whole declarations against this AS3 JSON schema file")
    parser.add_argument("--unprovisioned", action="append", default=[], choices=MODULES, metavar="MODULE",
                        help="a module the BIG-IP has not provisioned (repeatable), e.g. afm: declarations "
                             "using its classes get AS3's 422 \"One of these F5 modules needs to be "
                             "provisioned\"")
    parser.add_argument("--syslog", type=syslog_target_argument, metavar="udp://HOST:PORT|tcp://HOST:PORT",
                        help="send the AFM logs of POST /_mock/traffic here "
                             "(TCP: RFC 6587 octet counting)")
    parser.add_argument("--syslog-format", choices=FORMATS, default=FORMATS[0],
                        help="rfc5424 (structured data) or splunk (key=\"value\" pairs, no header)")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def create_app(args: argparse.Namespace) -> BigIpApp:
    return BigIpApp(args.username, args.password, token_lifetime=args.token_lifetime,
                    processing_ms=args.processing_ms, schema_path=args.as3_schema,
                    processing_model=args.processing_model, processing_scale=args.processing_scale,
                    syslog=args.syslog, syslog_format=args.syslog_format,
                    unprovisioned=args.unprovisioned)
