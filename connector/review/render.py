"""A `Review` as text (terminal), Markdown (a pull-request comment) or JSON (docs/review.md).

Pure: each function returns the whole output as a string; the CLI prints it. Markdown opens with
a summary that fits one screen (headline, counts, refused manifests, capacity warnings: at most
`SUMMARY_ITEMS` items each), then one collapsible `<details>` section per namespace, then
capacity and observed flows (at most `FLOW_LINES` flows). The comment stays under
`MARKDOWN_LIMIT` characters: namespace sections that do not fit are counted in one line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from connector.review.capacity import DeviceCapacity
from connector.review.flows import FlowsSection
from connector.review.review import Change, Review

SUMMARY_ITEMS = 5
MARKDOWN_LIMIT = 60_000  # characters: a GitHub comment holds at most 65,536
FLOW_LINES = 50
_ARROW = "→"


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def _devices(change_devices: tuple[str, ...], review: Review) -> str:
    return "" if change_devices == review.devices else f" [on {', '.join(change_devices)} only]"


def _target(change: Change) -> str:
    destination = "any other destination" if change.destination == "*" else change.destination
    port = "any other port" if change.port == "*" else f"port {change.port}"
    service = f" (ExternalService {change.external_service})" if change.external_service else ""
    return f"{destination} {port}{service}"


def headline(review: Review) -> str:
    """One line: how many decisions change where, and what is refused."""
    parts = [f"{_plural(len(review.changes), 'decision change')} in "
             f"{_plural(len(review.namespaces), 'namespace')}"]
    if review.changes:
        parts.append(f"{review.count('opens')} to Allow, {review.count('closes')} from Allow, "
                     f"{review.count('moves')} other")
    if review.refused:
        parts.append(f"{_plural(len(review.refused), 'manifest')} refused")
    if review.not_accepted:
        parts.append(f"{_plural(len(review.not_accepted), 'rule')} not accepted")
    full = [c.device for c in review.capacity if c.exceeded]
    if full:
        parts.append(f"capacity exceeded on {', '.join(full)}")
    return "; ".join(parts)


def _capacity_line(item: DeviceCapacity) -> str:
    if item.error:
        return f"{item.device}: capacity not computed offline: {item.error}"
    tables = ", ".join(
        f"{t.table.value} {item.before(t)} {_ARROW} {t.count} "
        f"({'no limit' if t.limit is None else f'limit {t.limit}'}{', EXCEEDED' if t.over else ''})"
        for t in item.tables)
    counts = (f"{item.device}: rules {item.rules_before} {_ARROW} {item.rules_after}, "
              f"objects {item.objects_before} {_ARROW} {item.objects_after}")
    return f"{counts}; {tables}" if tables else counts


def _flows_lines(section: FlowsSection) -> list[str]:
    if not section.available:
        return [f"observed flows (last {section.window}): not available: {section.note}"]
    head = (f"observed flows (last {section.window}): {_plural(len(section.changes), 'flow')} would change "
            f"decision, of {section.examined} record(s) examined")
    if section.skipped:
        head += f" ({section.skipped} not evaluated: no port, or a protocol rules do not name)"
    lines = [head]
    for flow in section.changes:
        lines.append(f"  {flow.count}x {flow.namespace or '(no namespace)'} {flow.source} {_ARROW} "
                     f"{flow.destination} port {flow.port}: {flow.before.describe()} {_ARROW} "
                     f"{flow.after.describe()} [{', '.join(flow.devices)}]")
    return lines


def to_text(review: Review) -> str:
    """The review for a terminal: one line per item."""
    lines = [f"review against {review.basis} (cluster {review.cluster}; devices "
             f"{', '.join(review.devices) or 'none'})"]
    for entry in review.entries:
        lines.append(f"  {entry.outcome} {entry.object} ({entry.source})")
    for refusal in review.refused:
        field = f" (field {refusal.field})" if refusal.field else ""
        lines.append(f"refused: {refusal.source} {refusal.object}: {refusal.reason}{field}: "
                     f"{refusal.message}")
    for rule in review.not_accepted:
        lines.append(f"not accepted: {rule.rule} ({rule.source}): {rule.reason}: {rule.message}")
    for item in review.ignored:
        lines.append(f"ignored: {item}")
    lines.append(headline(review))
    grouped = _by_namespace(review)
    for namespace in review.namespaces:
        lines.append(f"namespace {namespace}")
        for change in grouped[namespace]:
            lines.append(f"  {change.source} {_ARROW} {_target(change)}: {change.before.describe()} {_ARROW} "
                         f"{change.after.describe()}{_devices(change.devices, review)}")
    if review.capacity:
        lines.append("capacity (offline: our objects only; foreign objects on a device count too)")
        lines.extend(f"  {_capacity_line(item)}" for item in review.capacity)
    lines.extend(_flows_lines(review.flows))
    lines.extend(f"warning: {w}" for w in review.warnings)
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _bounded(items: list[str]) -> list[str]:
    if len(items) <= SUMMARY_ITEMS:
        return items
    return [*items[:SUMMARY_ITEMS], f"- … and {len(items) - SUMMARY_ITEMS} more below"]


def _summary(review: Review) -> list[str]:
    status = "refused manifests" if review.refused else "rules not accepted" if review.not_accepted else "ok"
    lines = [f"### fusion-connector review: {headline(review)}", "",
             f"Compiled against {review.basis} (cluster `{review.cluster}`). Result: **{status}**.", ""]
    changed = ", ".join(f"{_plural(sum(1 for e in review.entries if e.outcome == o), o)}"
                        for o in ("created", "changed", "deleted", "unchanged", "missing")
                        if any(e.outcome == o for e in review.entries))
    lines.append(f"- Manifests: {changed or 'none applied'}")
    if review.namespaces:
        grouped = _by_namespace(review)
        per = [f"`{ns}` ({len(grouped[ns])})" for ns in review.namespaces]
        more = [f"… {len(per) - SUMMARY_ITEMS} more"] if len(per) > SUMMARY_ITEMS else []
        shown = per[:SUMMARY_ITEMS] + more
        lines.append(f"- Namespaces with changes: {', '.join(shown)}")
    lines.extend(_bounded([f"- :x: refused `{r.source}` {r.object}: field `{r.field or '-'}`: {r.message}"
                           for r in review.refused]))
    lines.extend(_bounded([f"- :warning: not accepted {r.rule}: {r.reason}: {r.message}"
                           for r in review.not_accepted]))
    lines.extend(_bounded([f"- :warning: capacity exceeded on `{c.device}`: "
                           + ", ".join(f"{t.table.value} {t.count} > {t.limit}" for t in c.exceeded)
                           for c in review.capacity if c.exceeded]))
    if review.flows.available and review.flows.changes:
        top = review.flows.changes[0]
        lines.append(f"- Observed flows changing decision (last {review.flows.window}): "
                     f"{len(review.flows.changes)}; most frequent: {top.count}x {top.namespace} {top.source} "
                     f"{_ARROW} {top.destination}:{top.port} "
                     f"({top.before.action} {_ARROW} {top.after.action})")
    return lines


def _namespace_section(review: Review, namespace: str, changes: Iterable[Change]) -> list[str]:
    rows = list(changes)
    opens = sum(1 for c in rows if c.direction == "opens")
    closes = sum(1 for c in rows if c.direction == "closes")
    lines = ["<details>",
             f"<summary>namespace <code>{namespace}</code>: {_plural(len(rows), 'change')} "
             f"({opens} to Allow, {closes} from Allow)</summary>", "",
             "| source | destination | port | before | after | devices |",
             "| --- | --- | --- | --- | --- | --- |"]
    for c in rows:
        destination = c.destination if c.destination != "*" else "any other"
        if c.external_service:
            destination += f" ({c.external_service})"
        port = c.port if c.port != "*" else "any other"
        devices = "all" if c.devices == review.devices else ", ".join(c.devices)
        lines.append("| " + " | ".join(_cell(x) for x in (c.source, destination, port, c.before.describe(),
                                                           c.after.describe(), devices)) + " |")
    return [*lines, "", "</details>"]


def _by_namespace(review: Review) -> dict[str, list[Change]]:
    grouped: dict[str, list[Change]] = {}
    for change in review.changes:
        grouped.setdefault(change.namespace, []).append(change)
    return grouped


def to_markdown(review: Review, limit: int = MARKDOWN_LIMIT) -> str:
    """The review as a pull-request comment (module docstring), at most `limit` characters: the
    namespace sections that do not fit are counted in a last line instead."""
    tail: list[str] = []
    if review.refused or review.not_accepted or review.ignored:
        tail += ["", "<details>", "<summary>Manifests refused, not accepted or ignored</summary>", ""]
        tail += [f"- refused `{r.source}` {r.object}: {r.reason}, field `{r.field or '-'}`: "
                 f"{_cell(r.message)}" for r in review.refused]
        tail += [f"- not accepted {r.rule} (`{r.source}`): {r.reason}: {_cell(r.message)}"
                 for r in review.not_accepted]
        tail += [f"- ignored {_cell(i)}" for i in review.ignored]
        tail += ["", "</details>"]
    if review.capacity:
        tail += ["", "<details>",
                 "<summary>Device capacity after the change (offline: our objects only)</summary>", ""]
        tail += [f"- {_capacity_line(item)}" for item in review.capacity]
        tail += ["", "</details>"]
    flows = _flows_lines(review.flows)
    listed = [f"- {line.strip()}" for line in flows[1:FLOW_LINES + 1]] or ["- none"]
    if len(flows) > FLOW_LINES + 1:
        listed.append(f"- … and {len(flows) - FLOW_LINES - 1} less frequent")
    tail += ["", "<details>", f"<summary>{flows[0]}</summary>", "", *listed, "", "</details>"]

    lines = _summary(review)
    size = sum(len(line) + 1 for line in (*lines, *tail)) + 200  # room for the line of what is left out
    grouped = _by_namespace(review)
    shown = 0
    for namespace in review.namespaces:
        section = ["", *_namespace_section(review, namespace, grouped[namespace])]
        length = sum(len(line) + 1 for line in section)
        if size + length > limit:
            break
        lines.extend(section)
        size += length
        shown += 1
    if shown < len(review.namespaces):
        left = review.namespaces[shown:]
        changes = sum(len(grouped[ns]) for ns in left)
        lines += ["", f"… {len(left)} more namespaces ({changes} changes) do not fit in a comment: "
                      "`--output text` or `--output json` lists them all."]
    return "\n".join([*lines, *tail]) + "\n"


def to_json(review: Review) -> str:
    """The review as one JSON document (docs/review.schema.json)."""
    return json.dumps(review.to_json(), indent=2, sort_keys=True) + "\n"
