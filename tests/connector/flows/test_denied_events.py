"""EgressDenied Events: on the deciding rule or the Namespace, per destination and port, at most one
a minute each, with the count of the flows denied since the last one."""

from __future__ import annotations

from connector.controller.events import WARNING, ObjectRef
from connector.flows.denied_events import DeniedEvents
from tests.connector.flows.fakes import attribute, line


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Told = tuple[ObjectRef, str, str, str]


def make(**kwargs: object) -> tuple[DeniedEvents, list[Told], Clock]:
    told: list[Told] = []
    clock = Clock()
    events = DeniedEvents(lambda *event: told.append(event), clock=clock, **kwargs)  # type: ignore[arg-type]
    return events, told, clock


def test_denials_are_told_on_the_rule_once_a_minute_per_destination_and_port() -> None:
    events, told, clock = make(uid=lambda kind, ns, name: f"uid-{kind}-{name}")
    events.observe(attribute([line(action="Deny", rule="p-deny", count=2), line(action="Deny", rule="p-deny"),
                              line(action="Deny", rule="p-deny", dst_port=80)]))
    assert events.flush() == 2
    (ref1, type1, reason1, message1), (_, _, _, message2) = told
    assert ref1 == ObjectRef("ClusterEgressRule", "fusion-connector.io/v1alpha1", "", "deny-all",
                             "uid-ClusterEgressRule-deny-all")
    assert (type1, reason1) == (WARNING, "EgressDenied")
    assert message1.startswith(
        "3 flows to 203.0.113.9:443/TCP denied by ClusterEgressRule deny-all on device fgt")
    assert "last from shop/api-1 (10.0.0.5)" in message1
    assert message2.startswith("1 flow to 203.0.113.9:80/TCP denied")
    # more denials within the minute wait; they are told, counted, once the minute is over
    events.observe(attribute([line(action="Deny", rule="p-deny", count=5)]))
    clock.now += 59
    assert events.flush() == 0
    events.observe(attribute([line(action="Deny", rule="p-deny")]))
    clock.now += 1
    assert events.flush() == 1
    assert told[-1][3].startswith("6 flows to 203.0.113.9:443/TCP")
    # nothing new: nothing told
    clock.now += 600
    assert events.flush() == 0


def test_a_default_action_denial_is_told_on_the_namespace() -> None:
    events, told, _ = make()
    events.observe(attribute([line(action="Deny", rule="default")]))
    events.flush()
    (ref, _, _, message), = told
    assert ref == ObjectRef("Namespace", "v1", "", "shop")
    assert "denied by the namespace's default action" in message


def test_a_namespaced_rule_event_is_in_its_namespace() -> None:
    events, told, _ = make()
    events.observe(attribute([line(action="Deny", rule="p-allow")]))  # a rule of ours that denies
    events.flush()
    assert told[0][0] == ObjectRef("NamespaceEgressRule", "fusion-connector.io/v1alpha1", "shop",
                                   "allow-bank")


def test_allowed_flows_and_denials_by_rules_not_ours_are_not_told() -> None:
    events, told, _ = make()
    events.observe(attribute([line(), line(action="Deny", rule=None),
                              line(action="Deny", rule="not-mapped")]))
    assert events.flush() == 0 and told == []


def test_keys_are_bounded_and_idle_ones_forgotten() -> None:
    events, told, clock = make(max_keys=2)
    events.observe(attribute([line(action="Deny", rule="p-deny", dst_port=port) for port in (1, 2, 3)]))
    assert events.untold == 1
    assert events.flush() == 2
    clock.now += 60
    events.flush()  # both idle for a minute: forgotten
    events.observe(attribute([line(action="Deny", rule="p-deny", dst_port=3)]))
    assert events.flush() == 1
    assert told[-1][3].startswith("1 flow to 203.0.113.9:3/TCP")


def test_a_failing_uid_lookup_still_tells_the_event() -> None:
    def broken(kind: str, namespace: str, name: str) -> str:
        raise KeyError(name)

    events, told, _ = make(uid=broken)
    events.observe(attribute([line(action="Deny", rule="p-deny")]))
    assert events.flush() == 1 and told[0][0].uid == ""
