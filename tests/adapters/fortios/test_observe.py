"""`observe`: what the device is known to hold (a sync that skips the read) feeds `render` the same
address pieces as `read`, so plans made either way are the same and pod changes stay O(1) writes."""

from __future__ import annotations

from adapters.fortios.render import ADDRESS, ADDRGRP, POLICY
from connector.model import Action, DeviceState, RuleKind
from connector.planner.types import DeviceObject
from connector.reconciler.known import held_after
from tests.adapters.fortios.conftest import NO_SAFETY, AdapterFactory, Device
from tests.adapters.fortios.scenarios import CLUSTER, group, rule, spread_state
from tests.adapters.fortios.test_apply import writes

MARK = f"fusion-connector:{CLUSTER}"


def test_plans_after_observe_equal_plans_after_read(device: Device, make_adapter: AdapterFactory) -> None:
    gap = (300,)  # the block is two ranges (one would be referenced directly, without a group)
    steps = [spread_state(240, 6, block=620, gaps=gap),
             spread_state(240, 6, block=620, moved=(5,), added=(241,), gaps=gap),  # a pod gone, one new
             spread_state(240, 6, block=630, moved=(5, 6), added=(241,), gaps=gap),  # the block grows by ten
             spread_state(240, 6, block=630, moved=(6,), added=(241,), gaps=gap)]  # pod 5 back
    observing = make_adapter()
    actual = observing.read()
    desired = observing.render(steps[0])
    first = observing.plan(desired, actual, safety=NO_SAFETY)
    assert observing.apply(first, desired).ok
    held = held_after(desired, actual, MARK)
    for state in steps[1:]:
        observing.observe(held)
        desired = observing.render(state)
        reading = make_adapter()
        read = reading.read()
        assert reading.render(state) == desired
        the_plan = observing.plan(desired, held, safety=NO_SAFETY)
        assert the_plan.changes == reading.plan(desired, read, safety=NO_SAFETY).changes
        mark = device.last_seq()
        assert observing.apply(the_plan, desired).ok
        made = writes(device, mark)
        six = [e for e in made if "/firewall/address6" in e["path"] or "/firewall/addrgrp6" in e["path"]]
        assert 0 < len(made) - len(six) <= 4, made  # IPv4: an address and a member each
        # IPv6 (no nesting): per pod come or gone, its address6 and a member write in each of the
        # two groups holding it (its namespace's and the web Service's)
        assert len(six) <= 6, six
        held = held_after(desired, held, MARK)
        assert make_adapter().plan(desired, make_adapter().read(), safety=NO_SAFETY).empty


def test_block_growth_after_observe_reuses_the_range_on_the_device(device: Device,
                                                                   make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    actual = adapter.read()
    desired = adapter.render(spread_state(20, 2, block=620, gaps=(300,)))
    assert adapter.apply(adapter.plan(desired, actual, safety=NO_SAFETY), desired).ok
    later = make_adapter()  # knows nothing of the device but what it observes
    later.observe(held_after(desired, actual, MARK))
    mark = device.last_seq()
    grown = later.render(spread_state(20, 2, block=621, gaps=(300,)))
    the_plan = later.plan(grown, held_after(desired, actual, MARK), safety=NO_SAFETY)
    assert later.apply(the_plan, grown).ok
    made = [(entry["method"], entry["path"].rsplit("/", 1)[-1]) for entry in writes(device, mark)]
    assert made == [("POST", "address"), ("POST", "member")], made


def test_observe_replaces_what_read_remembered_and_keeps_only_our_pieces(
        make_adapter: AdapterFactory) -> None:
    hosts = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    state = DeviceState("fgt", CLUSTER, {"ns/a": group("ns/a", "a", hosts)}, {}, {},
                        (rule("r", "ns/a", None, None, Action.ALLOW, RuleKind.NAMESPACE, "a"),))
    pair = {"type": "iprange", "start-ip": "10.0.0.1", "end-ip": "10.0.0.2", "comment": MARK}

    def members(adapter_objects: list[DeviceObject]) -> list[str]:
        """The addresses the group's policy uses: its group's members, or its one address."""
        group = [o.body["member"] for o in adapter_objects if o.kind == ADDRGRP]
        policy = next(o.body["srcaddr"] for o in adapter_objects if o.kind == POLICY)
        return group[0] if group else list(policy)

    adapter = make_adapter()
    whole = ["fc_prod_ip_10.0.0.1-10.0.0.3"]
    assert members(adapter.render(state)) == whole
    adapter.observe([DeviceObject(ADDRESS, "fc_prod_ip_10.0.0.1-10.0.0.2", pair, MARK)])
    assert members(adapter.render(state)) == ["fc_prod_ip_10.0.0.1-10.0.0.2", "fc_prod_ip_10.0.0.3"]
    adapter.observe([DeviceObject(ADDRESS, "corp-pair", {**pair, "comment": "corp"}, "corp")])
    assert members(adapter.render(state)) == whole  # a foreign address is never reused
    adapter.observe([])
    assert members(adapter.render(state)) == whole
