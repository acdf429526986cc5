"""Cases for the default-tier conformance tests: a cluster whose namespaces share node addresses and
egress IPs with mixed default actions (tests/connector/compiler/test_default_tier.py) compiled for
device fw1, the per-namespace form of the same state, and probes from every source address. A
device holding the grouped state must decide every probe like the per-namespace form."""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import strategies as st

from connector.cluster import StaticView
from connector.compiler import Compiler
from connector.evaluate import Probe
from connector.model import DeviceState, Protocol
from tests.connector.compiler.builders import settings
from tests.connector.compiler.test_default_tier import per_namespace, sharing_clusters

DEVICE = "fw1"
DESTINATIONS = {4: ("10.1.2.3", "10.1.9.9", "9.9.9.9"), 6: ("2001:db8::5",)}


def probes_of(state: DeviceState) -> list[Probe]:
    """Probes from every source address of `state` to destinations of its own family."""
    sources = sorted({a for g in state.groups.values() for a in g.addresses})
    return [Probe(source, destination, port, Protocol.TCP)
            for source in sources
            for destination in DESTINATIONS[ipaddress.ip_address(source).version]
            for port in (443, 22)]


@st.composite
def grouped_cases(draw: st.DrawFn) -> tuple[DeviceState, DeviceState, list[Probe]]:
    """(the compiled state of fw1, its per-namespace form, probes)."""
    objects: list[dict[str, Any]] = draw(sharing_clusters())
    compiler = Compiler(settings(("fw1", "fw2", "fw3")))
    result = compiler.full(StaticView(objects))
    state = result.devices[DEVICE]
    return state, per_namespace(result, compiler, DEVICE), probes_of(state)
