"""The status of every rule and namespace, rebuilt from what the tiers compiled and the current
sharing of source addresses: a namespace's after it is recompiled or its sharing flips, a cluster
rule's after its selection, inputs or the sharing of its sources change.
"""

from __future__ import annotations

from connector.compiler import hostnet
from connector.compiler.cluster_tier import ClusterTier
from connector.compiler.destinations import ipv6_problem, parts_have_ipv6
from connector.compiler.findings import (
    DevicePresence,
    NamespaceStatus,
    Problem,
    Reason,
    RuleRef,
    RuleStatus,
    dedupe,
    unknown_devices,
)
from connector.compiler.index import ClusterIndex
from connector.compiler.namespace_groups import NamespaceGroups
from connector.compiler.namespace_tier import NamespaceTier
from connector.compiler.settings import CompileSettings
from connector.compiler.sharing import SharedAddresses
from connector.model import RuleKind


class StatusBoard:
    """`rules`: the `RuleStatus` of every rule; `namespaces`: the `NamespaceStatus` of every
    namespace with a Namespace object."""

    def __init__(
        self,
        settings: CompileSettings,
        index: ClusterIndex,
        namespaces: NamespaceGroups,
        namespace_tier: NamespaceTier,
        cluster_tier: ClusterTier,
        sharing: SharedAddresses,
    ) -> None:
        self._devices = settings.device_names
        self._ipv6_ok = {name: caps.ipv6 for name, caps in settings.devices}
        self._index = index
        self._namespaces = namespaces
        self._namespace_tier = namespace_tier
        self._cluster_tier = cluster_tier
        self._sharing = sharing
        self.rules: dict[RuleRef, RuleStatus] = {}
        self.namespaces: dict[str, NamespaceStatus] = {}
        self._refs: dict[str, tuple[RuleRef, ...]] = {}  # namespace -> its rules with a status

    def namespace(self, ns: str) -> None:
        """(Re)build the statuses of namespace `ns` and its rules from its last compile."""
        out = self._namespace_tier.outputs[ns]
        for ref in self._refs.pop(ns, ()):
            self.rules.pop(ref, None)
        for ref, outcome in out.rules.items():
            sources = outcome.sources
            found = list(outcome.problems)
            shared = self._sharing.among(sources.addresses) if sources is not None else ()
            if shared:
                found.append(
                    Problem(
                        Reason.SHARED_SOURCE,
                        f"{ref}: {_some(shared)} also source traffic of other namespaces (see their"
                        " status); the firewall applies the rule to their traffic too",
                        False,
                    )
                )
            self.rules[ref] = RuleStatus(
                ref=ref,
                observed_generation=outcome.spec.generation,
                problems=dedupe(found),
                sources=len(sources.addresses) if sources else 0,
                devices=outcome.presence,
                mode=outcome.spec.mode,
            )
        self._refs[ns] = tuple(out.rules)
        info = self._namespaces.info.get(ns)
        if info is None:
            self.namespaces.pop(ns, None)
            return
        ns_group = self._namespaces.groups.get(ns)
        self.namespaces[ns] = NamespaceStatus(
            name=ns,
            managed=info.managed,
            source_mode=info.mode,
            default_action=info.default_action,
            devices=info.devices if info.managed else (),
            sources=len(ns_group.addresses) if ns_group else 0,
            shared_addresses=self._sharing.among(ns_group.addresses) if ns_group else (),
            warnings=out.warnings,
        )

    def cluster_rule(self, name: str) -> None:
        """(Re)build the status of ClusterEgressRule `name`, or drop it when the rule is gone."""
        spec = self._index.cluster_rules.get(name)
        if spec is None:
            self.rules.pop(RuleRef(RuleKind.CLUSTER, "", name), None)
            return
        tier, info = self._cluster_tier, self._namespaces.info
        problems = list(spec.problems)
        resolved = tier.resolved.get(name)
        if resolved is not None:
            problems.extend(resolved.problems)
        problems.extend(unknown_devices(spec.ref, spec.devices, self._devices))
        selected = tier.selection.get(name, set())
        sources = tier.source_sum.get(name, 0) - self._sharing.duplicates(name)
        outside = self._sharing.outside(name)
        if outside:
            problems.append(
                Problem(
                    Reason.SHARED_SOURCE,
                    f"{spec.ref}: {_some(outside)} of the selected namespaces"
                    " also source traffic of namespaces the rule does not select; the firewall applies"
                    " the rule to their traffic too",
                    False,
                )
            )
        host = [
            (ns, p)
            for ns in sorted(selected & self._namespace_tier.host_network)
            for p in self._index.workload(ns).host_pods()
        ]
        if host:
            problems.append(hostnet.rule_problem(str(spec.ref), host))
        counts = tier.compiled_for.get(name, {})
        for device, count in counts.items():
            if (
                count
                and not self._ipv6_ok[device]
                and resolved is not None
                and (
                    parts_have_ipv6(resolved.parts[device])
                    or any(device in info[ns].devices for ns in selected & self._namespaces.ipv6)
                )
            ):
                problems.append(ipv6_problem(spec.ref, device))
        presence = []
        for device in self._devices:
            count = counts.get(device, 0)
            if count:
                message = f"compiled for {count} namespace(s)"
            elif not spec.compilable:
                message = "not accepted"
            elif spec.devices is not None and device not in spec.devices:
                message = "not selected by spec.devices"
            elif not selected:
                message = "selects no managed namespace"
            elif resolved is not None and not any(resolved.parts.values()):
                message = "no destination resolves (see the Accepted condition)"
            elif resolved is not None and not resolved.parts[device]:
                message = "no destination this device can enforce"
            elif not any(device in info[ns].devices for ns in selected):
                message = "no selected namespace targets this device (annotation fusion-connector.io/devices)"
            else:
                message = "no source addresses"
            presence.append(DevicePresence(device, bool(count), message))
        self.rules[spec.ref] = RuleStatus(
            ref=spec.ref,
            observed_generation=spec.generation,
            problems=dedupe(problems),
            sources=sources,
            devices=tuple(presence),
            mode=spec.mode,
        )


def _some(addresses: list[str] | tuple[str, ...], limit: int = 5) -> str:
    """`source address(es) a, b, c` naming at most `limit` of them."""
    shown = ", ".join(addresses[:limit])
    more = f" and {len(addresses) - limit} more" if len(addresses) > limit else ""
    return f"source address{'es' if len(addresses) > 1 else ''} {shown}{more}"
