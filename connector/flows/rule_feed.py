"""The device-rule map's feed: after each successful sync of a device, the device's own rule
references (`Adapter.rule_references`) mapped to the Kubernetes rules behind them are recorded in
the store's device-rule map (connector/store/rule_map.py), so that a flow logged by the device is
attributed the rule that decided it at that time.

`DeviceRuleFeed.synced` runs on the device's worker thread (adapters are used by one thread). It
skips a device whose mapping cannot have changed (the same desired state object and no write since
the last record) and writes the store only when the mapping differs from the last recorded one; the
store itself writes only the references that changed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from connector.adapter import Adapter
from connector.flows.record import FlowRule
from connector.model import DeviceState, RuleKind, RuleOrigin
from connector.store.rule_map import DeviceRuleMap

log = logging.getLogger(__name__)

DEFAULT_RULE_NAME = "default"


def flow_rule(origin: RuleOrigin) -> FlowRule:
    """The record's rule for a compiled rule's origin (a namespace's default action is
    `DefaultAction <namespace>/default`, tier Default)."""
    name = DEFAULT_RULE_NAME if origin.kind is RuleKind.DEFAULT else origin.name
    return FlowRule(kind=origin.kind.value, namespace=origin.namespace, name=name, tier=origin.tier.value)


def device_rules(adapter: Adapter, state: DeviceState) -> dict[str, FlowRule]:
    """The device's rule references for `state` -> the rule each stands for."""
    origins = {rule.key: rule.origin for rule in state.rules}
    return {reference: flow_rule(origins[key]) for reference, key in adapter.rule_references(state).items()
            if key in origins}


class DeviceRuleFeed:
    """Records each device's rule references after its successful syncs (see the module docstring)."""

    def __init__(self, sessions: sessionmaker[Session], cluster: str) -> None:
        self.sessions = sessions
        self.cluster = cluster
        self._lock = threading.Lock()
        self._recorded: dict[str, Mapping[str, FlowRule]] = {}
        self._state: dict[str, DeviceState] = {}

    def forget(self) -> None:
        """Another leader may have recorded meanwhile: the next syncs compare with the store."""
        with self._lock:
            self._recorded.clear()
            self._state.clear()

    def synced(self, device: str, adapter: Adapter, state: DeviceState, *, wrote: bool,
               at: datetime | None = None) -> bool:
        """After a successful sync of `state` on `device` (`wrote`: it wrote to the device); returns
        whether the store's mapping changed. Never raises: a failure is logged and retried next sync."""
        with self._lock:
            if not wrote and self._state.get(device) is state:
                return False
        try:
            mapping = device_rules(adapter, state)
            with self._lock:
                unchanged = self._recorded.get(device) == mapping
            changed = False
            if not unchanged:
                with self.sessions.begin() as session:
                    changed = DeviceRuleMap(session, self.cluster).record(device, mapping,
                                                                          at or datetime.now(UTC))
            with self._lock:
                self._recorded[device] = mapping
                self._state[device] = state
            return changed
        except Exception:
            log.exception("%s: recording the device's rule references failed", device)
            return False
