"""A recommendation as multi-document YAML, ready for `kubectl apply -f` and `review --manifests`.

Contract: `to_yaml(recommendation, cluster, options)` is a header comment (what was read, what was
used, what was left out and why: at most `LIST_LIMIT` places per reason and detail, then how many
more), then one `---` document per manifest, each preceded by its comment. Keys keep the order
`apiVersion, kind, metadata, spec`; the text depends only on its inputs.
"""

from __future__ import annotations

from collections.abc import Iterable

import yaml

from connector.recommend.manifests import Manifest, Recommendation, count_text
from connector.recommend.observed import (
    AMBIGUOUS,
    BELOW_MIN_COUNT,
    DENIED,
    EXPLICIT_DENY,
    UNEXPRESSIBLE,
    LeftOut,
    Observed,
)

LIST_LIMIT = 20


def _why(observed: Observed, reason: str, detail: str) -> str:
    return {
        AMBIGUOUS: "attribution ambiguous (the source address changed owner within the clock skew)",
        EXPLICIT_DENY: f"to destination ports {detail} denied (an explicit Deny: recommend never works "
                       "around it)",
        DENIED: f"denied today by {detail} (--allowed-only)",
        UNEXPRESSIBLE: "no port an ExternalService can name (no destination port, a protocol other than "
                       "TCP, UDP or SCTP, or a destination that is not an IP address)",
        BELOW_MIN_COUNT: f"below --min-count {observed.min_count} (flows per destination port)",
    }[reason]


def left_out_lines(observed: Observed) -> list[str]:
    """The header's lines on the flows left out, grouped by reason and detail."""
    groups: dict[tuple[str, str], list[LeftOut]] = {}
    for item in observed.left_out:
        groups.setdefault((item.reason, item.detail), []).append(item)
    lines: list[str] = []
    for (reason, detail), items in groups.items():
        total = sum(i.count for i in items)
        lines.append(f"  {_why(observed, reason, detail)}: {count_text(total, 'flow')}")
        lines.extend(f"    {i.where}: {count_text(i.count, 'flow')}" for i in items[:LIST_LIMIT])
        if len(items) > LIST_LIMIT:
            lines.append(f"    ... and {len(items) - LIST_LIMIT} more")
    return lines


def header_lines(recommendation: Recommendation, cluster: str, options: str) -> list[str]:
    observed = recommendation.observed
    target = observed.target
    period = f" in {recommendation.window}" if recommendation.window else ""
    lines = [f"fusion-connector recommend: rules allowing the egress of {target.label} (cluster {cluster})",
             f"observed{period}; {options}".rstrip("; "),
             f"{count_text(observed.records, 'flow record')} of {target.label} read, "
             f"{count_text(observed.flows, 'flow')}: {count_text(observed.used_flows, 'flow')} to "
             f"{count_text(len(observed.uses), 'destination port')} used"]
    if observed.left_out:
        lines.append("left out:")
        lines.extend(left_out_lines(observed))
    if recommendation.manifests:
        lines.append("check before applying: fusion-connector review --config F --manifests THIS-FILE")
    else:
        lines.append("nothing to recommend: no flow of it can be allowed by a rule")
    return lines


def _comment(lines: Iterable[str]) -> str:
    return "".join(f"# {line}".rstrip() + "\n" for line in lines)


def _document(manifest: Manifest) -> str:
    body = yaml.safe_dump(manifest.obj, sort_keys=False, default_flow_style=False, width=1000)
    return f"---\n{_comment(manifest.comment)}{body}"


def to_yaml(recommendation: Recommendation, cluster: str, options: str = "") -> str:
    """The recommendation as YAML text (module docstring)."""
    head = _comment(header_lines(recommendation, cluster, options))
    return head + "".join(_document(m) for m in recommendation.manifests)
