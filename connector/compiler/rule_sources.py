"""The source group of a namespaced rule.

- a ServiceEgressRule: the Service's endpoint pods (EndpointSlices with the
  `kubernetes.io/service-name` label, ready or not) that are active pods of the namespace, with
  all their IPs (a single-stack Service lists one family, the pod still sends from both);
  addresses of other origins in a slice are ignored, so a rule never covers an address outside
  the identities it names; group `CLUSTER/NS/svc/SERVICE`;
- a NamespaceEgressRule with a podSelector: the active pods it selects, `CLUSTER/NS/pods/RULE`;
- any other rule: the namespace's group `CLUSTER/NS`.

In node mode the members are the nodes of those pods; in egress-ip mode a rule narrower than the
namespace is widened to the namespace's egress IPs (`SourceWidened`). Pods on the host network
hold their node's address: pod-mode sources leave them out and say so (`hostnet`). Empty
sources are None: the rule is then left off, never widened to any source.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.compiler import hostnet, keys
from connector.compiler.addresses import PodInfo, node_members, pod_members
from connector.compiler.findings import Problem, Reason
from connector.compiler.namespaces import NamespaceInfo
from connector.compiler.resources import RuleSpec
from connector.compiler.workloads import NamespaceWorkloads, WorkloadDelta
from connector.model import RuleKind, SourceGroup


@dataclass(frozen=True)
class FoundSources:
    """A rule's source group (None = no sources), the problems found resolving it, and for a
    podSelector rule the names of the pods it selects."""

    group: SourceGroup | None
    problems: tuple[Problem, ...]
    selected: frozenset[str] = frozenset()


class RuleSources:
    """Finds the sources of the rules of one managed namespace, given its settings, workloads,
    source group and the node addresses."""

    def __init__(
        self,
        cluster: str,
        info: NamespaceInfo,
        workloads: NamespaceWorkloads,
        namespace_group: SourceGroup | None,
        nodes: dict[str, tuple[str, ...]],
    ) -> None:
        self._cluster = cluster
        self._info = info
        self._workloads = workloads
        self._namespace_group = namespace_group
        self._nodes = nodes

    def of(self, spec: RuleSpec, cached: FoundSources | None, delta: WorkloadDelta | None) -> FoundSources:
        """The sources of compilable rule `spec`; `cached` (what they were at the last compile of the
        same spec) is reused when the workload `delta` cannot affect them."""
        if spec.ref.kind == RuleKind.SERVICE:
            if cached is not None and delta is not None and spec.service not in delta.services:
                return cached
        elif spec.pod_selector is not None and cached is not None and delta is not None:
            selected = self._reselect(spec, cached.selected, delta.pods)
            if cached.selected.isdisjoint(p.name for p in delta.pods) and selected == cached.selected:
                return cached
            return self._found(spec, selected)
        if spec.pod_selector is not None and spec.ref.kind != RuleKind.SERVICE:
            return self._found(spec, self._select(spec))
        return self._found(spec, set())

    def _found(self, spec: RuleSpec, selected: set[str]) -> FoundSources:
        problems: list[Problem] = []
        group = self._group(spec, problems, selected)
        return FoundSources(group, tuple(problems), frozenset(selected))

    def _group(self, spec: RuleSpec, problems: list[Problem], selected: set[str]) -> SourceGroup | None:
        """The source group of `spec` (None = no sources), adding the problems found; `selected`
        names the active pods a podSelector rule selects."""
        info, workloads, ns_group = self._info, self._workloads, self._namespace_group
        ns = info.name
        if spec.ref.kind == RuleKind.SERVICE:
            if spec.service not in workloads.services:
                problems.append(
                    Problem(
                        Reason.SERVICE_NOT_FOUND,
                        f"{spec.ref}: spec.service: Service {ns}/{spec.service} not found",
                        True,
                    )
                )
                return None
            pods = workloads.service_pods(spec.service)
            key = keys.service_group(self._cluster, ns, spec.service)
            service, rule = spec.service, ""
        elif spec.pod_selector is not None:
            pods = [workloads.pods[name] for name in sorted(selected)]
            key = keys.pods_group(self._cluster, ns, spec.ref.name)
            service, rule = "", spec.ref.name
        else:
            if info.mode == "pod":
                self._without_host_network(spec, workloads.host_pods(), problems)
            return ns_group
        if info.mode != "node":
            pods = self._without_host_network(spec, pods, problems)
        if info.mode == "egress-ip":
            if pods and ns_group is not None:
                problems.append(
                    Problem(
                        Reason.SOURCE_WIDENED,
                        f"{spec.ref}: namespace {ns} uses source mode egress-ip; the rule applies"
                        " to the whole namespace's egress IPs",
                        False,
                    )
                )
                return ns_group
            return None
        if info.mode == "node":
            members = node_members(pods, self._nodes)
            purpose = "node"
        else:
            members = pod_members(pods)
            purpose = "service" if spec.ref.kind == RuleKind.SERVICE else "pods"
        if not members:
            return None
        return SourceGroup(
            key=key,
            cluster=self._cluster,
            namespace=ns,
            members=members,
            service=service,
            rule=rule,
            purpose=purpose,
        )

    def _without_host_network(
        self, spec: RuleSpec, pods: list[PodInfo], problems: list[Problem]
    ) -> list[PodInfo]:
        """`pods` without those on the host network; in pod mode a rule that loses one says so
        (the annotation rule's notes go to the namespace, which has its own warning)."""
        host = [(self._info.name, pod) for pod in pods if pod.host_network and pod.ips]
        if host and self._info.mode == "pod" and spec.ref.kind != RuleKind.ANNOTATION:
            problems.append(hostnet.rule_problem(str(spec.ref), host))
        return [pod for pod in pods if not pod.host_network]

    def _select(self, spec: RuleSpec) -> set[str]:
        """Names of the active pods that the rule's podSelector selects."""
        selector = spec.pod_selector
        assert selector is not None
        return {
            p.name for p in self._workloads.pods.values() if p.active and selector.matches(dict(p.labels))
        }

    def _reselect(self, spec: RuleSpec, selected: frozenset[str], changed: list[PodInfo]) -> set[str]:
        """`selected` updated for the pods in `changed` (old and new versions of changed pods)."""
        selector = spec.pod_selector
        assert selector is not None
        out = set(selected)
        pods = self._workloads.pods
        for name in {p.name for p in changed}:
            pod = pods.get(name)
            if pod is not None and pod.active and selector.matches(dict(pod.labels)):
                out.add(name)
            else:
                out.discard(name)
        return out
