"""The key scheme: every source group, destination, port set and compiled rule has a stable key,
built here and nowhere else. Adapters derive device object names from keys, so a key never
changes while its object lives.

- source groups: `CLUSTER/NS` (the namespace), `CLUSTER/NS/svc/SERVICE`, `CLUSTER/NS/pods/RULE`,
  a ClusterEgressRule's union group `CLUSTER/_cluster/rule/CLUSTERRULE`, the union of the
  namespaces with one default action `CLUSTER/_cluster/default/deny|allow`, and the shared
  addresses that default action decides `CLUSTER/_cluster/shared/deny|allow`;
- destinations and port sets: `CLUSTER/NS/EXTERNALSERVICE`, `CLUSTER/NS/annotation/PORTS`;
- compiled rules: `CLUSTER/_cluster/admin|baseline/CLUSTERRULE/PART`, `CLUSTER/NS/svc|ns/RULE/PART`,
  `CLUSTER/NS/annotation/annotation/PORTS`, and the grouped default actions
  `CLUSTER/_cluster/default/deny|allow` and `CLUSTER/_cluster/shared/deny|allow` (each the key of
  its source group too), where PART is the ExternalService name or `any`.

The third part of a key with more than two is a fixed word for its kind, so keys of different
kinds never collide; `_cluster` cannot be a namespace name (a leading underscore is not allowed).
"""

from __future__ import annotations

from connector.model import Action, RuleKind, RuleOrigin, Tier

# The namespace part of the keys of cluster-wide objects (a ClusterEgressRule's union group and
# compiled rules).
CLUSTER_SCOPE = "_cluster"

# The word of a namespaced rule kind in its compiled rules' keys.
_KIND_WORDS = {RuleKind.SERVICE: "svc", RuleKind.NAMESPACE: "ns", RuleKind.ANNOTATION: "annotation"}


def join(cluster: str, scope: str, *parts: str) -> str:
    """`CLUSTER/SCOPE[/PART...]`, where SCOPE is a namespace or `CLUSTER_SCOPE`."""
    return "/".join((cluster, scope, *parts))


def namespace_group(cluster: str, namespace: str) -> str:
    """The namespace's source group: `CLUSTER/NS`."""
    return join(cluster, namespace)


def service_group(cluster: str, namespace: str, service: str) -> str:
    """A ServiceEgressRule's source group (the Service's endpoint pods): `CLUSTER/NS/svc/SERVICE`."""
    return join(cluster, namespace, "svc", service)


def pods_group(cluster: str, namespace: str, rule: str) -> str:
    """A podSelector NamespaceEgressRule's source group: `CLUSTER/NS/pods/RULE`."""
    return join(cluster, namespace, "pods", rule)


def union_group(cluster: str, rule: str) -> str:
    """A ClusterEgressRule's union source group: `CLUSTER/_cluster/rule/RULE`."""
    return join(cluster, CLUSTER_SCOPE, "rule", rule)


def external_service(cluster: str, namespace: str, name: str) -> str:
    """The destination and port set of an ExternalService: `CLUSTER/NS/NAME`."""
    return join(cluster, namespace, name)


def annotation_destination(cluster: str, namespace: str, rule: str, ports: str) -> str:
    """The destination and port set of the `egress-allow` entries sharing the port set labelled
    `ports`: `CLUSTER/NS/RULE/PORTS` (RULE is the annotation rule's name, `annotation`)."""
    return join(cluster, namespace, rule, ports)


def compiled_rule(cluster: str, origin: RuleOrigin, part: str) -> str:
    """The key of the compiled rule of `origin` for one `part` (ExternalService name or `any`)."""
    if origin.kind == RuleKind.CLUSTER:
        word = "admin" if origin.tier == Tier.ADMIN else "baseline"
        return join(cluster, CLUSTER_SCOPE, word, origin.name, part)
    return join(cluster, origin.namespace, _KIND_WORDS[origin.kind], origin.name, part)


def default_union(cluster: str, action: Action) -> str:
    """The source group and rule of the namespaces whose default action is `action`:
    `CLUSTER/_cluster/default/deny|allow`."""
    return join(cluster, CLUSTER_SCOPE, "default", action.value.lower())


def shared_default(cluster: str, action: Action) -> str:
    """The source group and rule of the shared addresses whose first holder's default action is
    `action`: `CLUSTER/_cluster/shared/deny|allow`."""
    return join(cluster, CLUSTER_SCOPE, "shared", action.value.lower())
