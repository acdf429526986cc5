"""Conformance of the grouped default actions (docs/architecture.md, "The default tier"): a REST
receiver holding them decides like the per-namespace form, with shared node and egress addresses,
mixed and None default actions and devices annotations."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from connector.evaluate import Probe, decide
from connector.model import DeviceState
from tests.adapters.default_tier_cases import grouped_cases
from tests.adapters.rest import evaluator
from tests.adapters.rest.conftest import Receiver, make_adapter, sync
from tests.adapters.rest.test_conformance import resolved


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=grouped_cases())
def test_grouped_defaults_on_the_receiver_decide_like_the_per_namespace_form(
    receiver: Receiver, case: tuple[DeviceState, DeviceState, list[Probe]]
) -> None:
    state, reference, probes = case
    with make_adapter(receiver.url, cluster=state.cluster) as adapter:
        sync(adapter, state)
    document = resolved(receiver.state())
    for probe in probes:
        expected = decide(reference, probe)
        got = evaluator.decide(document, probe)
        want = expected.action.value.lower() if expected else None
        assert (got["action"] if got else None) == want, probe
