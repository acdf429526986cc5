"""The demo's tables, sample decisions, report summary and suggested commands as lines of text
(formatting only; the CLI prints them)."""

from __future__ import annotations

from connector.compiler import CompileResult
from connector.demo.environment import CONFIG_FILE, DIRECTORY_ENV
from connector.demo.flows import NEW_POD, REUSED_POD, FlowsRun
from connector.demo.holdings import table
from connector.demo.run import Answer
from connector.demo.summary import DeviceTally
from connector.explain import DeviceExplanation
from connector.flows.output import table_lines, time_text


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


def plural(count: int, noun: str, plural_form: str = "") -> str:
    """`1 rule`, `2 rules` (`plural_form` for nouns that do not take an s)."""
    return f"{count} {noun if count == 1 else plural_form or noun + 's'}"


def rules_text(compiled: CompileResult) -> list[str]:
    """Counts of accepted rules, then each rule not accepted or accepted with a warning."""
    statuses = list(compiled.rules.values())
    accepted = [s for s in statuses if s.accepted]
    lines = [f"  {len(accepted)} of {plural(len(statuses), 'rule')} accepted"]
    for status in statuses:
        if not status.accepted:
            lines.append(f"  not accepted ({status.reason.value}): {status.message}")
        else:
            lines.extend(f"  note ({problem.reason.value}): {problem.message}" for problem in status.problems)
    return lines


NAMESPACE_COLUMNS = (
    "  source mode: the addresses the firewalls see for the namespace's traffic (pod: its pods' IPs,",
    "    egress-ip: its egress IPs, node: the IPs of the nodes running its pods);",
    "  default action: what the namespace's traffic that no rule matches gets (None: the firewall's",
    "    own rulebase decides); devices: where its rules go;",
    "  source addresses: how many addresses the namespace's source group holds on the firewalls.",
)


def namespaces_text(compiled: CompileResult) -> list[str]:
    """A row per namespace (managed ones first), then what the columns mean."""
    rows = [[ns.name, "yes" if ns.managed else "no",
             ns.source_mode if ns.managed else "", ns.default_action if ns.managed else "",
             ", ".join(ns.devices) if ns.managed and ns.devices else ("all devices" if ns.managed else ""),
             str(ns.sources) if ns.managed else ""]
            for ns in sorted(compiled.namespaces.values(), key=lambda n: (not n.managed, n.name))]
    heading = ["namespace", "managed", "source mode", "default action", "devices", "source addresses"]
    return [*table([heading, *rows]), *NAMESPACE_COLUMNS]


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {op}d" if op != "reorder" else f"{n} reordered"
                     for op, n in counts.items() if n) or "no changes"


def summary_text(summaries: list[DeviceTally]) -> list[str]:
    """A row per device (state, owned objects, audit log, open drift), then owned objects by kind
    and any last error."""
    rows = [["device", "type", "state", "objects owned", "plans applied", "changes applied", "open drift"]]
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


def conclusion(summaries: list[DeviceTally]) -> str:
    """One sentence: how many devices are in sync and how many changes were applied."""
    in_sync = sum(1 for item in summaries if item.in_sync)
    changes = sum(sum(item.applied.values()) for item in summaries)
    verdict = "all in sync" if in_sync == len(summaries) else f"{in_sync} in sync"
    if len(summaries) == 1:
        verdict = "in sync" if in_sync else "not in sync"
    return f"{plural(len(summaries), 'device')}, {verdict}; {plural(changes, 'change')} applied."


def flows_text(run: FlowsRun, senders: dict[str, tuple[str, str]]) -> list[str]:
    """What was sent through each firewall and how it answered, the pod reuse in between, then the
    records attributed as `fusion-connector flows` prints them (oldest first)."""
    namespace, name = REUSED_POD
    lines = ["  logs: " + ", ".join(f"{device} sends {fmt} syslog from {address}"
                                     for device, (address, fmt) in senders.items())
             + "; soc pushes records to POST /v1/flows"]
    reuse_told = False
    for sent in run.sent:
        send = sent.send
        if (send.source.endswith(NEW_POD) or send.late) and not reuse_told and run.reused_at is not None:
            lines.append(f"  {namespace}/{name} deleted, {namespace}/{NEW_POD} created with its address "
                         f"{run.address} ({time_text(run.reused_at)} UTC)")
            reuse_told = True
        logged = f"{sent.logged} logged" if sent.logged else "not logged"
        late = "a late log: " if send.late else ""
        when = " (the flow happened before the reuse; its log is sent only now)" if send.late else ""
        lines.append(f"  {late}{plural(send.count, 'flow')} through {send.device}: {send.source} "
                     f"({sent.src}) -> {send.dst}:{send.port}/TCP: {sent.action}, {logged}{when}")
    lines.append("")
    if run.records:
        lines.extend(f"  {line}" for line in table_lines(run.records))
    else:
        lines.append("  no flow record")
    if run.problem:
        lines.append(f"  incomplete: {run.problem}")
    elif run.reused_at is not None:
        lines.append(f"  {run.address}: the flows before the reuse are {name}'s, those after {NEW_POD}'s,"
                     " whenever their logs arrive")
    return lines


DELETED_POD = ("payments", "checkout-7d4b9c6f5-2xkqp")


def serve_commands(metrics_url: str | None, kubectl: bool) -> list[str]:
    """What `demo --serve` suggests typing in another shell once the exports are set, one command
    per line with a comment: `metrics_url` None when the controller does not run in the demo;
    the kubectl commands only when `kubectl` is installed."""
    config = f"${DIRECTORY_ENV}/{CONFIG_FILE}"
    kube = "kubectl"  # the exports set KUBECONFIG
    namespace, pod = DELETED_POD
    commands = [
        (f"fusion-connector plan --config {config}", "what apply would change: nothing, all in sync"),
        (f"fusion-connector explain --config {config} --from payments/svc/checkout --to api.stripe.com:443",
         "which rule decides, per device"),
        (f"fusion-connector report --config {config} --format html --output report.html",
         "the reconciliation report"),
    ]
    if metrics_url is not None:
        commands.append((f"fusion-connector flows --config {config} --since 1h",
                         "the flows the firewalls logged, attributed to pods and rules"))
    if metrics_url is not None:
        commands.append((f"curl {metrics_url}", "the controller's metrics"))
    if kubectl:
        commands.append((f"{kube} get pods -A -o wide", "the example's pods"))
        gone = "the controller removes its IP from the devices" if metrics_url else "apply removes its IP"
        commands.append((f"{kube} -n {namespace} delete pod {pod}", gone))
    if metrics_url is not None and kubectl:
        commands.append((f"{kube} get serviceegressrules -A -o yaml", "rule statuses, from the controller"))
    if metrics_url is None:
        commands.append((f"fusion-connector apply --config {config}", "one reconcile pass"))
    return [f"{command}  # {comment}" for command, comment in commands]
