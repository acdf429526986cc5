"""The controller's HTTP endpoints: `/healthz`, `/readyz`, `/metrics` (see `server`)."""

from connector.http.server import HealthServer, Probes, parse_listen

__all__ = ["HealthServer", "Probes", "parse_listen"]
