"""How the REST receiver mock decides a flow: the protocol's rule semantics (adapters/rest/openapi.yaml).

Rules are evaluated in the held order; the first matching rule decides with its `action` (`allow`
or `deny`). A rule matches when the source address is a member of its `source` group (inside a
CIDR member), or of a group it names in `groups`, recursively; its `destination` is null or an
address object with a network holding the destination or an FQDN equal to the flow's `dstName`
(case-insensitive, trailing dot ignored), or a wildcard `*.example.com` covering it (one or more
labels before `example.com`, never `example.com` itself); and its `service` is null or has a port entry of the
flow's protocol whose range holds the destination port (ICMP flows match only `service: null`).
When no rule matches, the receiver's own policy applies: the mock denies (`rule: null`).
A flow is pushed when the deciding rule has `log: true`, and an undecided (default) one when the
mock's `logDefault` option is on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

from mocks.common.traffic import PORTED, Flow, contains, glob_name
from mocks.rest.state import Store

DEFAULT_ACTION = "deny"


@dataclass(frozen=True)
class RestDecision:
    action: str  # allow | deny
    rule: str | None
    logged: bool

    def answer(self) -> dict[str, Any]:
        return {"action": self.action, "rule": self.rule}


def decide(store: Store, flow: Flow, log_default: bool = False) -> RestDecision:
    """First match over the store's ordered rules (see the module doc)."""
    memo: dict[str, bool] = {}
    for name in store.rule_order:
        rule = store.objects["rule"][name]
        if not _in_group(store, rule["source"], flow, memo):
            continue
        if rule.get("destination") is not None and not _in_address(store, rule["destination"], flow):
            continue
        if rule.get("service") is not None and not _in_service(store, rule["service"], flow):
            continue
        return RestDecision(str(rule["action"]), name, bool(rule.get("log")))
    return RestDecision(DEFAULT_ACTION, None, log_default)


def _in_group(store: Store, name: str, flow: Flow, memo: dict[str, bool]) -> bool:
    known = memo.get(name)
    if known is not None:
        return known
    memo[name] = False  # loops are refused by the store; this guards the walk anyway
    group = store.objects["group"].get(name)
    found = group is not None and (
        any(contains(member, flow.src) for member in group["members"])
        or any(_in_group(store, included, flow, memo) for included in group.get("groups") or []))
    memo[name] = found
    return found


def _in_address(store: Store, name: str, flow: Flow) -> bool:
    address = store.objects["address"].get(name)
    if address is None:
        return False
    if any(contains(network, flow.dst) for network in address["networks"]):
        return True
    return flow.dst_name is not None and any(glob_name(fqdn, flow.dst_name) for fqdn in address["fqdns"])


def _in_service(store: Store, name: str, flow: Flow) -> bool:
    service = store.objects["service"].get(name)
    if service is None or flow.protocol not in PORTED or flow.dst_port is None:
        return False
    port = flow.dst_port
    return any(entry["protocol"] == flow.protocol.lower() and entry["start"] <= port <= entry["end"]
               for entry in service["ports"])


def flow_record(decision: RestDecision, flow: Flow) -> dict[str, Any]:
    """One record of the `POST /v1/flows` body: `{time, src, srcPort, dst, dstPort, protocol,
    action (Allow|Deny), rule}`."""
    stamp = flow.time.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"time": stamp, "src": str(flow.src), "srcPort": flow.src_port, "dst": str(flow.dst),
            "dstPort": flow.dst_port, "protocol": flow.protocol,
            "action": "Allow" if decision.action == "allow" else "Deny", "rule": decision.rule}
