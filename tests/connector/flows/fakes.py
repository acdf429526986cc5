"""Small fakes and builders for the flow pipeline's tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from connector.flows.record import FlowIdentity, FlowLine, FlowRecord, FlowRule

T0 = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
OWNERS = {"10.0.0.5": FlowIdentity("c1", "shop", "api-1", "uid-1", ("api",), "node-a")}
RULES = {"p-allow": FlowRule("NamespaceEgressRule", "shop", "allow-bank", "namespace"),
         "p-deny": FlowRule("ClusterEgressRule", "", "deny-all", "cluster"),
         "default": FlowRule("DefaultAction", "shop", "Deny", "default")}


def line(src: str = "10.0.0.5", *, device: str = "fgt", action: str = "Allow", dst: str = "203.0.113.9",
         dst_port: int | None = 443, rule: str | None = "p-allow", count: int = 1) -> FlowLine:
    return FlowLine(time=T0, device=device, action=action, src=src, dst=dst, protocol="TCP",  # type: ignore[arg-type]
                    src_port=40000, dst_port=dst_port, device_rule=rule, count=count)


def attribute(lines: Sequence[FlowLine]) -> list[FlowRecord]:
    """What an Attributor does, from the fixed tables above."""
    return [FlowRecord(line=item, identity=OWNERS.get(item.src),
                       rule=RULES.get(item.device_rule or "")) for item in lines]


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0
