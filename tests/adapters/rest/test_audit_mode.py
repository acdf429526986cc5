"""Audit rules behind the REST protocol: it has no staged policy, so nothing of them is pushed;
what the receiver holds decides like the cluster compiled without them."""

from __future__ import annotations

import json

from adapters.rest import RestAdapter
from tests.adapters.audit_scenario import AUDIT_RULES, PROBES, state
from tests.adapters.rest.conftest import Receiver, make_adapter, sync
from tests.adapters.rest.test_conformance import assert_conforms


def test_audit_rules_are_not_pushed(receiver: Receiver) -> None:
    desired = state("soc", RestAdapter.capabilities)
    assert desired.staged.rules
    with make_adapter(receiver.url) as adapter:
        sync(adapter, desired)
        again = sync(adapter, desired)
    assert not again.changes
    enforced_only = state("soc", RestAdapter.capabilities, audit=False)
    assert_conforms(receiver, enforced_only, PROBES)
    held = json.dumps(receiver.state())
    assert not any(name in held for name in AUDIT_RULES)
