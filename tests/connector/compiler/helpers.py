"""Shortcuts for compiler tests: compile objects, decide a probe on a device."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from connector.cluster import ObjectChange, StaticView
from connector.compiler import CompileResult, CompileSettings, Reason, RuleRef, compile_cluster
from connector.evaluate import Probe, decide
from connector.model import CompiledRule, DeviceState, Protocol, RuleKind
from tests.connector.compiler.builders import settings


def compile_objects(objects: list[dict[str, Any]], config: CompileSettings | None = None) -> CompileResult:
    return compile_cluster(StaticView(objects), config or settings())


def verdict(
    result: CompileResult, device: str, source: str, destination: str, port: int, protocol: str = "TCP"
) -> tuple[str, str, str, str] | None:
    """(kind, namespace, name, action) of the deciding compiled rule, None when none decides."""
    state = result.devices[device]
    return origin_of(state, decide(state, Probe(source, destination, port, Protocol(protocol))), source)


def origin_of(state: DeviceState, rule: CompiledRule | None, source: str) -> tuple[str, str, str, str] | None:
    """(kind, namespace, name, action) of `rule` deciding traffic from `source`; a grouped default
    rule stands for the namespace whose default decides in the per-namespace form: the first by
    name of a shared group's holders, else the first by name of the union's namespaces holding
    `source` ("?" when none does)."""
    if rule is None:
        return None
    origin = rule.origin
    if origin.kind is not RuleKind.DEFAULT or origin.namespace:
        return (origin.kind.value, origin.namespace, origin.name, rule.action.value)
    group = state.groups[rule.source]
    if group.purpose == "shared":
        holders = dict(group.members)[source]
        return (origin.kind.value, holders[0].name, "default", rule.action.value)
    holding = [state.groups[key].namespace for key in group.includes
               if source in dict(state.groups[key].members)]
    return (origin.kind.value, min(holding) if holding else "?", "default", rule.action.value)


def status(result: CompileResult, kind: RuleKind, namespace: str, name: str) -> Any:
    return result.rules[RuleRef(kind, namespace, name)]


def reasons(result: CompileResult, kind: RuleKind, namespace: str, name: str) -> set[Reason]:
    return {p.reason for p in status(result, kind, namespace, name).problems}


def drawn_change(data: st.DataObject, view: StaticView, obj: dict[str, Any]) -> ObjectChange | None:
    """`obj` deleted from `view` (one draw in four) or put there: the change, None if none."""
    if data.draw(st.integers(0, 3)) == 0:
        meta = obj["metadata"]
        return view.delete(StaticView.kind_of(obj), meta.get("namespace") or "", meta["name"])
    return view.put(obj)
