"""The controller (`fusion-connector run`) in process against the demo environment, so that the
served demo keeps the devices in sync as the mock cluster changes.

Contract: `LiveController.start(environment)` returns once the controller has compiled its first
view of the cluster (or raises `DemoError` after `timeout`), serving `/healthz`, `/readyz` and
`/metrics` on a free loopback port (`url`); `stop()` stops both.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.controller import Controller, ControllerOptions
from connector.demo.environment import DemoEnvironment, DemoError
from connector.http import HealthServer

SHUTDOWN_GRACE = 3.0


@dataclass
class LiveController:
    controller: Controller
    server: HealthServer

    @property
    def url(self) -> str:
        return self.server.url

    @classmethod
    def start(cls, environment: DemoEnvironment, timeout: float = 30.0) -> LiveController:
        options = ControllerOptions(identity="fusion-connector-demo", shutdown_grace=SHUTDOWN_GRACE)
        controller = Controller(environment.config, environment.secrets, options)
        try:
            controller.start()
        except Exception as exc:  # configuration, store and client errors alike: the demo says which
            controller.stop()
            raise DemoError(f"starting the controller: {type(exc).__name__}: {exc}") from exc
        live = cls(controller, HealthServer(controller, environment.host, 0).start())
        if not controller.wait_compiled(timeout):
            live.stop()
            raise DemoError(f"the controller did not compile the cluster within {timeout:.0f}s")
        return live

    def stop(self) -> None:
        self.server.stop()
        self.controller.stop()
