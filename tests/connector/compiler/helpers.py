"""Shortcuts for compiler tests: compile objects, decide a probe on a device."""

from __future__ import annotations

from typing import Any

from connector.cluster import StaticView
from connector.compiler import CompileResult, CompileSettings, Reason, RuleRef, compile_cluster
from connector.evaluate import Probe, decide
from connector.model import Protocol, RuleKind
from tests.connector.compiler.builders import settings


def compile_objects(objects: list[dict[str, Any]], config: CompileSettings | None = None) -> CompileResult:
    return compile_cluster(StaticView(objects), config or settings())


def verdict(
    result: CompileResult, device: str, source: str, destination: str, port: int, protocol: str = "TCP"
) -> tuple[str, str, str, str] | None:
    """(kind, namespace, name, action) of the deciding compiled rule, None when none decides."""
    rule = decide(result.devices[device], Probe(source, destination, port, Protocol(protocol)))
    if rule is None:
        return None
    return (rule.origin.kind.value, rule.origin.namespace, rule.origin.name, rule.action.value)


def status(result: CompileResult, kind: RuleKind, namespace: str, name: str) -> Any:
    return result.rules[RuleRef(kind, namespace, name)]


def reasons(result: CompileResult, kind: RuleKind, namespace: str, name: str) -> set[Reason]:
    return {p.reason for p in status(result, kind, namespace, name).problems}
