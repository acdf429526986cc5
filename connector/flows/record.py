"""The flow types every part of flow visibility shares.

`FlowLine` is one flow as a device reported it (parsed from a syslog line or pushed to
`POST /v1/flows`), before attribution. `FlowRecord` is the attributed record of docs/flows.md:
its `to_json()` field names are a public contract and never change.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

FlowAction = Literal["Allow", "Deny"]
_T = TypeVar("_T")


def slot_init(cls: type[_T]) -> type[_T]:
    """Give a frozen, slotted dataclass an `__init__` that sets each field through its slot's
    descriptor: the same parameters, defaults and result as the generated one (which calls
    `object.__setattr__` per field), in about half the time. One is made per flow line received."""
    params: list[str] = []
    body: list[str] = []
    namespace: dict[str, Any] = {}
    for number, item in enumerate(fields(cls)):  # type: ignore[arg-type]
        if item.default_factory is not MISSING or not item.init:
            raise TypeError(f"{cls.__name__}.{item.name}: slot_init takes plain fields only")
        if item.default is MISSING:
            params.append(item.name)
        else:
            namespace[f"_default{number}"] = item.default
            params.append(f"{item.name}=_default{number}")
        namespace[f"_set{number}"] = cls.__dict__[item.name].__set__
        body.append(f"    _set{number}(self, {item.name})")
    source = f"def __init__(self, {', '.join(params)}) -> None:\n" + "\n".join(body)
    exec(source, namespace)  # built from the field names only
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def rfc3339(moment: datetime) -> str:
    """`2026-12-06T16:20:00.123Z` for an aware datetime (converted to UTC)."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_rfc3339(text: str) -> datetime:
    """An aware UTC datetime from RFC 3339 (`Z` or an offset); ValueError names the text."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone offset")
    return moment.astimezone(UTC)


@slot_init
@dataclass(frozen=True, slots=True)
class FlowLine:
    """One flow as `device` reported it. `device_rule` is the device's own rule reference
    (FortiOS `policyname`, else `policyid`; AFM `acl_rule_name`; REST `rule`), `device_rule_id`
    a numeric id when the log also gives one (FortiOS `policyid`). `count` is how many identical
    flows this line stands for."""

    time: datetime
    device: str
    action: FlowAction
    src: str
    dst: str
    protocol: str  # "TCP", "UDP", "ICMP", "SCTP" or the IP protocol number as text
    src_port: int | None = None
    dst_port: int | None = None
    device_rule: str | None = None
    device_rule_id: str | None = None
    count: int = 1


@dataclass(frozen=True, slots=True)
class FlowIdentity:
    """Who held a source address: a pod (pod, podUID set), or a node or egress IP (pod empty)."""

    cluster: str
    namespace: str
    pod: str = ""
    pod_uid: str = ""
    services: tuple[str, ...] = ()
    node: str = ""
    source_mode: str = "pod"  # pod | egress-ip | node

    def to_json(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "namespace": self.namespace, "pod": self.pod or None,
                "podUID": self.pod_uid or None, "services": list(self.services),
                "node": self.node or None, "sourceMode": self.source_mode}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FlowIdentity:
        return cls(cluster=data["cluster"], namespace=data["namespace"], pod=data.get("pod") or "",
                   pod_uid=data.get("podUID") or "", services=tuple(data.get("services") or ()),
                   node=data.get("node") or "", source_mode=data.get("sourceMode") or "pod")


@dataclass(frozen=True, slots=True)
class FlowRule:
    """The Kubernetes rule that decided a flow (`kind` DefaultAction for a namespace's default)."""

    kind: str
    namespace: str
    name: str
    tier: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "namespace": self.namespace or None, "name": self.name,
                "tier": self.tier}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FlowRule:
        return cls(kind=data["kind"], namespace=data.get("namespace") or "", name=data["name"],
                   tier=data["tier"])


@slot_init
@dataclass(frozen=True, slots=True)
class FlowRecord:
    """An attributed flow (the record of docs/flows.md)."""

    line: FlowLine
    identity: FlowIdentity | None
    rule: FlowRule | None
    ambiguous: bool = False
    candidates: tuple[FlowIdentity, ...] = ()

    @property
    def count(self) -> int:
        return self.line.count

    def to_json(self) -> dict[str, Any]:
        line = self.line
        return {
            "time": rfc3339(line.time), "device": line.device, "action": line.action,
            "src": line.src, "srcPort": line.src_port, "dst": line.dst, "dstPort": line.dst_port,
            "protocol": line.protocol,
            "identity": self.identity.to_json() if self.identity else None,
            "ambiguous": self.ambiguous,
            "candidates": [candidate.to_json() for candidate in self.candidates],
            "rule": self.rule.to_json() if self.rule else None,
            "deviceRule": line.device_rule if line.device_rule is not None else line.device_rule_id,
            "count": line.count,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FlowRecord:
        line = FlowLine(time=parse_rfc3339(data["time"]), device=data["device"],
                        action=data["action"], src=data["src"], dst=data["dst"],
                        protocol=data["protocol"], src_port=data.get("srcPort"),
                        dst_port=data.get("dstPort"), device_rule=data.get("deviceRule"),
                        count=int(data.get("count", 1)))
        identity = FlowIdentity.from_json(data["identity"]) if data.get("identity") else None
        rule = FlowRule.from_json(data["rule"]) if data.get("rule") else None
        return cls(line=line, identity=identity, rule=rule, ambiguous=bool(data.get("ambiguous")),
                   candidates=tuple(FlowIdentity.from_json(c) for c in data.get("candidates") or ()))
