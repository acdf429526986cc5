"""`python -m mocks fortigate`: a stateful FortiGate REST API mock (see `mocks.fortigate.app`)."""

from __future__ import annotations

import argparse

from mocks.common.syslog import syslog_target_argument
from mocks.fortigate.app import FortigateMock, check_table_sizes
from mocks.fortigate.logline import FORMATS
from mocks.fortigate.store import DEFAULT_INTERFACES, TABLES

__all__ = ["FortigateMock", "add_arguments", "create_app"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", default="mock-token",
                        help="API token accepted as Bearer (default mock-token)")
    parser.add_argument("--vdoms", default="root", help="comma-separated VDOM names (default root)")
    parser.add_argument("--interfaces", default=",".join(DEFAULT_INTERFACES),
                        help="comma-separated interface names policies may use")
    parser.add_argument("--table-size", action="append", default=[], metavar="PATH=N", type=_table_size,
                        help="most entries of a cmdb table per VDOM, e.g. firewall/policy=10000 "
                             f"(repeatable; tables: {', '.join(TABLES)}); a create beyond it fails "
                             "with FortiOS error -4")
    parser.add_argument("--syslog", type=syslog_target_argument, metavar="udp://HOST:PORT|tcp://HOST:PORT",
                        help="send the traffic logs of POST /_mock/traffic here "
                             "(TCP: RFC 6587 octet counting)")
    parser.add_argument("--syslog-format", choices=FORMATS, default=FORMATS[0],
                        help="FortiOS syslog format: default (<189>date=...) or rfc5424")
    parser.add_argument("--implicit-deny-log", action="store_true",
                        help="log the implicit deny (policy 0), as `set fwpolicy-implicit-log enable`")


def _table_size(text: str) -> tuple[str, int]:
    table, sep, size = text.partition("=")
    try:
        if not sep:
            raise ValueError("expected PATH=N")
        sizes = check_table_sizes({table.strip(): int(size)})
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from exc
    return next(iter(sizes.items()))


def create_app(args: argparse.Namespace) -> FortigateMock:
    vdoms = tuple(v.strip() for v in args.vdoms.split(",") if v.strip())
    interfaces = tuple(i.strip() for i in args.interfaces.split(",") if i.strip())
    return FortigateMock(token=args.token, vdoms=vdoms or ("root",), interfaces=interfaces,
                         table_sizes=dict(args.table_size), syslog=args.syslog,
                         syslog_format=args.syslog_format, implicit_log=args.implicit_deny_log)
