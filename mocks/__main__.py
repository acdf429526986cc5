"""`python -m mocks <kube|bigip|fortigate|rest> --host H --port N`.

Prints `listening on http://HOST:PORT` as its first line, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys

from mocks.common.http import HttpServer

MOCKS = {
    "kube": "mocks.kube",
    "bigip": "mocks.bigip",
    "fortigate": "mocks.fortigate",
    "rest": "mocks.rest",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in MOCKS:
        print(f"usage: python -m mocks <{'|'.join(MOCKS)}> [--host H] [--port N] ...", file=sys.stderr)
        return 2
    kind = argv.pop(0)
    module = importlib.import_module(MOCKS[kind])
    parser = argparse.ArgumentParser(prog=f"python -m mocks {kind}")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--certfile", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--keyfile", help="private key for --certfile")
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    app = module.create_app(args)
    server = HttpServer(app, args.host, args.port, args.certfile, args.keyfile)
    print(f"listening on {server.url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
