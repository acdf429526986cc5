"""Pods on the host network (`spec.hostNetwork: true`): their address is their node's.

A pod-mode group holding a node's address would make a rule apply to everything on that node, so
such pods are left out of pod-mode sources (they hold no member, see `PodInfo`), and this module
words what the compiler reports about them: a `SharedSource` problem on each rule whose sources
lost one, and one warning line on the namespace. In node mode the node's address is the source
anyway; in egress-ip mode their traffic leaves with the node's address, not the egress IPs.
"""

from __future__ import annotations

from collections.abc import Sequence

from connector.compiler.addresses import PodInfo
from connector.compiler.findings import Problem, Reason

LIMIT = 5  # pods named in one line; the rest are counted


def _where(pod: PodInfo) -> str:
    noun = "address" if len(pod.ips) == 1 else "addresses"
    return f"node {pod.node or '(none)'}, {noun} {', '.join(pod.ips)}"


def describe(pods: Sequence[tuple[str, PodInfo]], qualified: bool) -> str:
    """`pod NS/NAME (node N, address A)`, or `pods ... and 3 more`, for (namespace, pod) pairs;
    `qualified` names a pod NS/NAME, else NAME."""
    parts = [
        f"{f'{ns}/' if qualified else ''}{pod.name} ({_where(pod)})" for ns, pod in pods[:LIMIT]
    ]
    more = f" and {len(pods) - LIMIT} more" if len(pods) > LIMIT else ""
    return f"pod{'s' if len(pods) > 1 else ''} {', '.join(parts)}{more}"


def rule_problem(subject: str, pods: Sequence[tuple[str, PodInfo]]) -> Problem:
    """The `SharedSource` problem of a rule (`subject`, e.g. `ServiceEgressRule shop/out`) whose
    pod-mode sources lost the host network `pods` ((namespace, pod) pairs, not empty)."""
    verb = "uses" if len(pods) == 1 else "use"
    return Problem(
        Reason.SHARED_SOURCE,
        f"{subject}: {describe(pods, True)} {verb} the host network and {'is' if len(pods) == 1 else 'are'}"
        " left out of the rule's sources: a rule on a node's address would apply to everything on"
        " that node",
        False,
    )


def namespace_warning(namespace: str, mode: str, pods: Sequence[PodInfo]) -> str:
    """The one-line namespace warning about its host network `pods` (not empty) in `mode`
    (`pod` or `egress-ip`; node mode has nothing to say)."""
    pairs = [(namespace, pod) for pod in pods]
    verb = "uses" if len(pods) == 1 else "use"
    subject = f"namespace {namespace}: {describe(pairs, False)} {verb} the host network"
    if mode == "egress-ip":
        return (
            f"{subject}: that traffic leaves with the node's address, not the namespace's egress IPs,"
            " so the namespace's rules do not cover it"
        )
    return (
        f"{subject}: left out of the namespace's sources (a rule on a node's address would apply to"
        " everything on that node), so the namespace's rules do not cover that traffic"
    )
