"""The demo's sample decisions and report summary as lines of text (formatting only; the CLI
prints them)."""

from __future__ import annotations

from connector.compiler import CompileResult
from connector.demo.holdings import table
from connector.demo.run import Answer
from connector.demo.summary import DeviceSummary
from connector.explain import DeviceExplanation


def _decision(device: DeviceExplanation) -> list[str]:
    if device.decision is None:
        reason = device.notes[0] if device.notes else "no compiled rule matches"
        return [device.device, "-", f"not decided by the connector: {reason}"]
    origin = device.decision.origin
    where = f"{origin.tier.value} tier" + (f", priority {origin.priority}"
                                           if origin.tier.value != "Default" else "")
    return [device.device, device.action, f"{origin} ({where})"]


def answers_text(answers: list[Answer]) -> list[str]:
    """Per question: `FROM → TO`, the source address used, then one line per device."""
    lines: list[str] = []
    for answer in answers:
        lines.append(f"  {answer.probe.source} → {answer.probe.destination}")
        explanation = answer.explanation
        if explanation is None:
            lines.append(f"      cannot explain: {answer.problem}")
            continue
        if not explanation.devices:
            notes = "; ".join(explanation.notes) or "no source address"
            lines.append(f"      {notes}")
            continue
        address = explanation.devices[0].source_address
        lines.append(f"      as {address}, {explanation.identity}")
        lines.extend(table([_decision(d) for d in explanation.devices], indent="      "))
    return lines


def rules_text(compiled: CompileResult) -> list[str]:
    """Counts of accepted rules, then each rule not accepted or accepted with a warning."""
    statuses = list(compiled.rules.values())
    accepted = [s for s in statuses if s.accepted]
    lines = [f"  {len(accepted)} of {len(statuses)} rules accepted"]
    for status in statuses:
        if not status.accepted:
            lines.append(f"  not accepted ({status.reason.value}): {status.message}")
        else:
            lines.extend(f"  note ({problem.reason.value}): {problem.message}" for problem in status.problems)
    return lines


def namespaces_text(compiled: CompileResult) -> list[str]:
    rows = [[ns.name, "managed" if ns.managed else "not managed",
             ns.source_mode if ns.managed else "", ns.default_action if ns.managed else "",
             ", ".join(ns.devices) if ns.managed and ns.devices else ("all devices" if ns.managed else ""),
             str(ns.sources) if ns.managed else ""]
            for ns in sorted(compiled.namespaces.values(), key=lambda n: (not n.managed, n.name))]
    return table([["namespace", "", "source mode", "default", "devices", "sources"], *rows])


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {op}d" if op != "reorder" else f"{n} reordered"
                     for op, n in counts.items() if n) or "no changes"


def summary_text(summaries: list[DeviceSummary]) -> list[str]:
    """A row per device (state, owned objects, audit log, open drift), then owned objects by kind
    and any last error."""
    rows = [["device", "type", "state", "owned", "plans applied", "changes applied", "open drift"]]
    for item in summaries:
        state = {True: "in sync", False: "NOT in sync", None: "never synced"}[item.in_sync]
        rows.append([item.device, item.type, state, str(item.owned), str(item.plans), _counts(item.applied),
                     str(item.open_drift)])
    lines = table(rows)
    for item in summaries:
        owned = ", ".join(f"{n} {kind}" for kind, n in sorted(item.owned_by_kind.items()))
        lines.append(f"  {item.device} owns: {owned or 'nothing'}")
        if item.last_error:
            lines.append(f"  {item.device}: last error: {item.last_error}")
    return lines


def conclusion(summaries: list[DeviceSummary]) -> str:
    """One sentence: how many devices are in sync and how many changes were applied."""
    in_sync = sum(1 for item in summaries if item.in_sync)
    changes = sum(sum(item.applied.values()) for item in summaries)
    verdict = "all in sync" if in_sync == len(summaries) else f"{in_sync} in sync"
    return f"{len(summaries)} devices, {verdict}; {changes} changes applied."
