"""REST adapter behaviour on the receiver mock: idempotence, drift, ownership, faults, errors."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from adapters.base.http import RetryPolicy
from adapters.base.naming import destination_name, group_name, rule_name
from adapters.rest import RestAdapter
from adapters.rest.objects import NAME_RULES
from adapters.rest.protocol import SigningTransport
from connector.adapter import DeviceAuthError, PermanentDeviceError, TransientDeviceError, UnsafePlan
from connector.model import DeviceState
from connector.planner import DeviceObject, Plan, SafetyThresholds
from tests.adapters.rest.conftest import HMAC_SECRET, PERMISSIVE, Receiver, make_adapter, sync
from tests.adapters.rest.scenarios import payments_state
from tests.adapters.rest.spec import conforms

API_GROUP = group_name("c1", payments_state().groups["svc/payments/api"], NAME_RULES)
STRIPE = destination_name("c1", payments_state().destinations["es/payments/stripe"], NAME_RULES)


def owned_names(document: dict[str, Any], collection: str) -> list[str]:
    return [o["name"] for o in document[collection] if o["owner"] == "fusion-connector:c1"]


def change_sets(receiver: Receiver) -> list[dict[str, Any]]:
    return [e for e in receiver.writes() if e["path"] == "/changes"]


def test_second_apply_with_nothing_changed_writes_nothing(receiver: Receiver) -> None:
    state = payments_state()
    with make_adapter(receiver.url) as adapter:
        first = sync(adapter, state)
        assert first.counts()["create"] == 8
        receiver.clear_log()
        second = sync(adapter, state)
    assert second.empty
    assert receiver.writes() == []
    assert [e["path"] for e in receiver.requests()] == ["/state"]


def test_one_pod_added_to_a_service_is_one_change_set_of_member_changes(receiver: Receiver) -> None:
    with make_adapter(receiver.url) as adapter:
        sync(adapter, payments_state())
        receiver.clear_log()
        plan = sync(adapter, payments_state(api_members=("10.0.0.1", "10.0.0.2", "fd00::1", "10.0.0.7")))
        assert adapter.device_capabilities().incremental_members
    assert [(c.op.value, c.kind) for c in plan.changes] == [("update", "group"), ("update", "group")]
    posts = change_sets(receiver)
    assert len(posts) == 1 and len(receiver.writes()) == 1
    assert posts[0]["body"]["owner"] == "fusion-connector:c1"
    changes = {c["name"]: c for c in posts[0]["body"]["changes"]}
    assert changes[API_GROUP] == {"op": "members", "kind": "group", "name": API_GROUP,
                                  "add": ["10.0.0.7"], "remove": []}
    assert all(c["op"] == "members" and "object" not in c for c in changes.values())
    groups = {g["name"]: g["members"] for g in receiver.state()["groups"]}
    assert "10.0.0.7" in groups[API_GROUP]


def test_a_receiver_without_member_changes_gets_whole_groups() -> None:
    from mocks.common.http import HttpServer
    from mocks.rest import RestMock

    app = RestMock(token="test-token", features=())
    with HttpServer(app) as server, make_adapter(server.url) as adapter:
        sync(adapter, payments_state())
        seen = app.requests()[-1]["seq"]
        sync(adapter, payments_state(api_members=("10.0.0.1", "10.0.0.7")))
        assert not adapter.device_capabilities().incremental_members
        posts = [e for e in app.requests(seen) if e["path"] == "/changes"]
    assert len(posts) == 1
    members = {c["object"]["name"]: c["object"]["members"] for c in posts[0]["body"]["changes"]}
    assert members[API_GROUP] == ["10.0.0.1", "10.0.0.7"]


def test_removed_pod_leaves_the_group_in_the_same_sync(receiver: Receiver) -> None:
    with make_adapter(receiver.url) as adapter:
        sync(adapter, payments_state())
        sync(adapter, payments_state(api_members=("10.0.0.2",)))
    groups = {g["name"]: g["members"] for g in receiver.state()["groups"]}
    assert groups[API_GROUP] == ["10.0.0.2"]


def test_change_sets_follow_the_specification(receiver: Receiver) -> None:
    with make_adapter(receiver.url) as adapter:
        sync(adapter, payments_state())
        changed = payments_state(rules_reversed=True, api_members=("10.0.0.9",))
        stripe = changed.destinations["es/payments/stripe"]
        sync(adapter, replace(changed, destinations={
            **changed.destinations, stripe.key: replace(stripe, networks=("198.51.100.0/25",))}))
        sync(adapter, DeviceState(device="soc", cluster="c1"))
    posts = change_sets(receiver)
    assert len(posts) == 3
    ops = set()
    for post in posts:
        conforms("ChangeSet", post["body"])
        for change in post["body"]["changes"]:
            ops.add(change["op"])
            if "object" in change:
                conforms({"group": "Group", "address": "Address", "service": "Service",
                          "rule": "Rule"}[change["kind"]], change["object"])
    assert ops == {"create", "update", "members", "delete", "order"}
    conforms("State", receiver.state())


def test_drift_is_repaired(receiver: Receiver) -> None:
    state = payments_state()
    with make_adapter(receiver.url) as adapter:
        sync(adapter, state)
        expected = receiver.state()
        # an operator edits our group, deletes our rule and its destination by hand
        receiver.seed(groups=[{"name": API_GROUP, "owner": "fusion-connector:c1", "members": ["10.6.6.6"]}])
        allow = rule_name("c1", state.rules[1], NAME_RULES)
        receiver.hand_delete("rule", allow)
        receiver.hand_delete("address", STRIPE)
        plan = sync(adapter, state)
        assert sorted((c.op.value, c.name) for c in plan.changes) == sorted(
            [("create", STRIPE), ("create", allow), ("update", API_GROUP), ("reorder", "rule")])
        assert adapter.plan(adapter.render(state), adapter.read()).empty
    repaired = receiver.state()
    for collection in ("groups", "addresses", "services", "rules"):
        assert repaired[collection] == expected[collection], collection


def test_same_plan_after_a_hand_change_is_applied_again(receiver: Receiver) -> None:
    """The idempotency key follows the revision: a plan equal to an earlier one is not replayed."""
    state = payments_state()
    with make_adapter(receiver.url) as adapter:
        sync(adapter, state)
        receiver.hand_delete("rule", rule_name("c1", state.rules[2], NAME_RULES))
        first = sync(adapter, state)
        receiver.hand_delete("rule", rule_name("c1", state.rules[2], NAME_RULES))
        second = sync(adapter, state)
    assert first.checksum() == second.checksum()
    assert rule_name("c1", state.rules[2], NAME_RULES) in owned_names(receiver.state(), "rules")


FOREIGN = {
    "addresses": [{"name": "corp-dns", "owner": None, "networks": ["192.0.2.53/32"], "fqdns": []}],
    "groups": [{"name": "corp-admins", "owner": "secops", "members": ["10.0.0.1"]},
               {"name": "fc.c1.src.taken", "owner": "secops", "members": ["10.1.1.1"]}],
    "services": [{"name": "dns", "owner": None, "ports": [{"protocol": "udp", "start": 53, "end": 53}]}],
    "rules": [{"name": "admins-dns", "owner": "secops", "source": "corp-admins", "destination": "corp-dns",
               "service": "dns", "action": "allow", "log": True}],
}


def test_foreign_objects_are_untouched(receiver: Receiver) -> None:
    receiver.seed(**FOREIGN)
    before = receiver.state()
    with make_adapter(receiver.url) as adapter:
        sync(adapter, payments_state())
        sync(adapter, payments_state(rules_reversed=True))
        desired = adapter.render(DeviceState(device="soc", cluster="c1"))
        plan = adapter.plan(desired, adapter.read(), safety=PERMISSIVE)
        assert adapter.apply(plan, desired).ok  # remove everything of ours
    after = receiver.state()
    for collection in ("groups", "addresses", "services", "rules"):
        assert [o for o in after[collection] if o["owner"] != "fusion-connector:c1"] == before[collection]
        assert owned_names(after, collection) == []
    for entry in change_sets(receiver):
        touched = {c.get("name") or c.get("object", {}).get("name") for c in entry["body"]["changes"]}
        assert not touched & {"corp-dns", "corp-admins", "fc.c1.src.taken", "dns", "admins-dns"}


def test_name_taken_by_a_foreign_object_is_a_conflict(receiver: Receiver) -> None:
    state = payments_state()
    receiver.seed(groups=[{"name": API_GROUP, "owner": "secops", "members": ["10.9.9.9"]}])
    with make_adapter(receiver.url) as adapter:
        desired = adapter.render(state)
        plan = adapter.plan(desired, adapter.read(), safety=PERMISSIVE)
        assert adapter.apply(plan, desired).ok
    assert [(c.kind, c.name, c.owner) for c in plan.conflicts] == [("group", API_GROUP, "secops")]
    document = receiver.state()
    assert {g["name"]: g["members"] for g in document["groups"]}[API_GROUP] == ["10.9.9.9"]
    # the rule that would have used the foreign group is withheld, the others are on the device
    assert rule_name("c1", state.rules[1], NAME_RULES) not in owned_names(document, "rules")
    assert len(owned_names(document, "rules")) == 2


def test_unsafe_plan_is_refused_and_nothing_written(receiver: Receiver) -> None:
    strict = SafetyThresholds(max_delete_percent=30, max_update_percent=30, min_existing=5)
    with make_adapter(receiver.url) as adapter:
        sync(adapter, payments_state())
        receiver.clear_log()
        empty = DeviceState(device="soc", cluster="c1")
        desired = adapter.render(empty)
        plan = adapter.plan(desired, adapter.read(), safety=strict)
        assert plan.unsafe and "would delete 8 of 8" in plan.unsafe
        with pytest.raises(UnsafePlan, match="unsafe plan refused"):
            adapter.apply(plan, desired)
        assert receiver.writes() == []
        forced = adapter.plan(desired, adapter.read(), safety=strict, force=True)
        assert adapter.apply(forced, desired).ok
    assert owned_names(receiver.state(), "groups") == []


@pytest.mark.parametrize("fault", [
    {"status": 503, "times": 4},
    {"status": 429, "times": 2, "retryAfter": 1},
    {"latencyMs": 50, "times": 3},
    {"dropConnections": 3},
    {"status": 502, "times": 2, "method": "POST", "path": "/changes"},
    {"dropConnections": 2, "method": "POST"},
])
def test_faults_end_in_convergence(receiver: Receiver, fault: dict[str, Any]) -> None:
    state = payments_state()
    receiver.fault(**fault)
    with make_adapter(receiver.url) as adapter:
        sync(adapter, state)
        assert adapter.plan(adapter.render(state), adapter.read()).empty
    assert len(owned_names(receiver.state(), "rules")) == 3


def test_endless_outage_is_a_transient_error(receiver: Receiver) -> None:
    receiver.fault(status=503)
    quick = RetryPolicy(attempts=3, initial=0.01, maximum=0.02, jitter=0)
    with make_adapter(receiver.url, retry=quick) as adapter, \
            pytest.raises(TransientDeviceError, match="HTTP 503"):
        adapter.read()


def test_permanent_error_names_the_object(receiver: Receiver) -> None:
    state = payments_state()
    with make_adapter(receiver.url) as adapter:
        desired = adapter.render(state)
        plan = adapter.plan(desired, adapter.read(), safety=PERMISSIVE)
        # between our read and our apply, someone creates an object under a name we planned
        receiver.seed(addresses=[{"name": STRIPE, "owner": "secops", "networks": ["192.0.2.1"], "fqdns": []}])
        receiver.clear_log()
        result = adapter.apply(plan, desired)
    error = result.error
    assert isinstance(error, PermanentDeviceError) and (result.applied, result.writes) == (0, 1)
    assert error.status == 409 and error.object_kind == "address" and error.object_name == STRIPE
    assert STRIPE in str(error) and "exists" in str(error)
    assert len(receiver.writes()) == 1  # not retried
    assert owned_names(receiver.state(), "groups") == []  # atomic: nothing applied


def test_limits_are_reported_naming_the_object() -> None:
    from mocks.common.http import HttpServer
    from mocks.rest import RestMock

    app = RestMock(token="test-token", max_objects=4)
    with HttpServer(app) as server, make_adapter(server.url) as adapter:
        desired = adapter.render(payments_state())
        plan = adapter.plan(desired, adapter.read(), safety=PERMISSIVE)
        result = adapter.apply(plan, desired)
    assert isinstance(result.error, PermanentDeviceError) and "limit_exceeded" in str(result.error)
    assert result.error.status == 422 and result.error.object_name == plan.changes[4].name


def test_large_plans_are_split_to_the_receivers_limit() -> None:
    from mocks.common.http import HttpServer
    from mocks.rest import RestMock

    app = RestMock(token="test-token", max_changes=3)
    with HttpServer(app) as server, make_adapter(server.url) as adapter:
        state = payments_state()
        sync(adapter, state)
        assert adapter.plan(adapter.render(state), adapter.read()).empty
        posts = [e for e in app.requests() if e["path"] == "/changes"]
    assert [len(e["body"]["changes"]) for e in posts] == [3, 3, 2]


def test_lost_answer_is_retried_and_replayed(receiver: Receiver) -> None:
    receiver.fault(dropAfterApply=1)
    state = payments_state()
    with make_adapter(receiver.url) as adapter:
        result = adapter.apply(*_planned(adapter, state))
        assert adapter.plan(adapter.render(state), adapter.read()).empty
    posts = change_sets(receiver)
    assert [p["status"] for p in posts] == [0, 200]
    assert posts[0]["body"] == posts[1]["body"]
    assert result.writes == 2 and result.applied == 8
    assert receiver.state()["revision"] == 1  # applied once


def _planned(adapter: RestAdapter, state: DeviceState) -> tuple[Plan, list[DeviceObject]]:
    desired = adapter.render(state)
    return adapter.plan(desired, adapter.read(), safety=PERMISSIVE), desired


def test_retried_change_set_is_replayed_not_reapplied(receiver: Receiver) -> None:
    """A POST whose answer is lost is sent again with the same Idempotency-Key."""
    state = payments_state()
    with make_adapter(receiver.url) as adapter:
        desired = adapter.render(state)
        plan = adapter.plan(desired, adapter.read(), safety=PERMISSIVE)
        result = adapter.apply(plan, desired)
        key = result.details["idempotencyKeys"][0]
        body = receiver.writes()[0]["body"]
        adapter.revision = 0  # as at the time of the lost answer
        assert adapter.idempotency_key(plan) == key
    replay = receiver.client.post("/changes", content=json.dumps(body, separators=(",", ":")).encode(),
                                  headers={"Content-Type": "application/vnd.fusion-connector.v1+json",
                                           "Idempotency-Key": key})
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == {"applied": 8, "revision": 1}
    assert receiver.state()["revision"] == 1


def test_wrong_token_is_an_auth_error(receiver: Receiver) -> None:
    receiver.app.token = "another-token"
    with make_adapter(receiver.url) as adapter, pytest.raises(DeviceAuthError, match="HTTP 401"):
        adapter.read()
    assert len(receiver.requests()) == 1  # not retried


def test_signature_with_wrong_secret_or_stale_clock_is_refused(signed_receiver: Receiver) -> None:
    with make_adapter(signed_receiver.url, hmac_secret="wrong") as adapter, \
            pytest.raises(DeviceAuthError, match="invalid_signature"):
        adapter.read()
    with make_adapter(signed_receiver.url) as adapter, \
            pytest.raises(DeviceAuthError, match="invalid_signature"):
        adapter.read()
    with make_adapter(signed_receiver.url, hmac_secret=HMAC_SECRET) as adapter:
        transport = adapter.http._client._transport
        assert isinstance(transport, SigningTransport)
        transport._clock = lambda: 1_000_000.0
        with pytest.raises(DeviceAuthError, match="signature_expired"):
            adapter.read()


def test_token_is_never_logged(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    receiver.fault(status=503, times=1)
    with make_adapter(receiver.url, hmac_secret=None) as adapter:
        sync(adapter, payments_state())
    assert caplog.records
    assert "test-token" not in caplog.text


def test_device_capabilities_come_from_the_receiver(receiver: Receiver) -> None:
    with make_adapter(receiver.url) as adapter:
        caps = adapter.device_capabilities()
        assert caps.fqdn and caps.ipv6 and caps.logging
        assert adapter.max_changes_per_set() == 10_000


def test_our_object_used_by_a_foreign_rule_is_kept(receiver: Receiver) -> None:
    with make_adapter(receiver.url) as adapter:
        sync(adapter, payments_state())
        receiver.seed(rules=[{"name": "secops-audit", "owner": "secops", "source": API_GROUP,
                              "destination": None, "service": None, "action": "allow", "log": True}])
        plan = sync(adapter, DeviceState(device="soc", cluster="c1"))
    assert plan.kept == (("group", API_GROUP),)
    document = receiver.state()
    assert owned_names(document, "groups") == [API_GROUP]
    assert owned_names(document, "rules") == [] and [r["name"] for r in document["rules"]] == ["secops-audit"]
