"""The controller (`fusion-connector run`) in process against the demo environment, so that the
served demo keeps the devices in sync as the mock cluster changes.

Contract: `LiveController.start(environment)` returns once the controller has compiled its first
view of the cluster (or raises `DemoError` after `timeout`), serving `/healthz`, `/readyz` and
`/metrics` on the loopback port `port` (8080, as `fusion-connector run`), or on a free port when
that one is taken; `url` is where it serves. `stop()` stops both.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

from connector.controller import Controller, ControllerOptions
from connector.demo.environment import DemoEnvironment, DemoError
from connector.http import HealthServer, Probes

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 3.0
PORT = 8080  # `fusion-connector run --listen`'s default


def _can_bind(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the HTTP server binds
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def health_server(probes: Probes, host: str, port: int) -> HealthServer:
    """A (not yet started) server for `probes` on `host`:`port`, or on a free port when `port` is
    taken."""
    if port and not _can_bind(host, port):
        log.info("port %d on %s is taken: serving on a free port", port, host)
        port = 0
    return HealthServer(probes, host, port)


@dataclass
class LiveController:
    controller: Controller
    server: HealthServer

    @property
    def url(self) -> str:
        return self.server.url

    @classmethod
    def start(cls, environment: DemoEnvironment, timeout: float = 30.0, port: int = PORT) -> LiveController:
        options = ControllerOptions(identity="fusion-connector-demo", shutdown_grace=SHUTDOWN_GRACE)
        controller = Controller(environment.config, environment.secrets, options)
        try:
            controller.start()
        except Exception as exc:  # configuration, store and client errors alike: the demo says which
            controller.stop()
            raise DemoError(f"starting the controller: {type(exc).__name__}: {exc}") from exc
        try:
            server = health_server(controller, environment.host, port)
        except OSError as exc:
            controller.stop()
            raise DemoError(f"serving the controller's metrics: {exc}") from exc
        live = cls(controller, server.start())
        if not controller.wait_compiled(timeout):
            live.stop()
            raise DemoError(f"the controller did not compile the cluster within {timeout:.0f}s")
        return live

    def stop(self) -> None:
        self.server.stop()
        self.controller.stop()
