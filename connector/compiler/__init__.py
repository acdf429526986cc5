"""The compiler: pure code from the cached cluster to the desired state per device
(docs/architecture.md; what a rule means: docs/resources.md).

`Compiler(settings).full(view)` compiles a `ClusterView`; `.apply(changes)` recompiles what a
batch of `ObjectChange`s touches. Both return a `CompileResult`: a `DeviceState` per device, a
`RuleStatus` per rule (the `Accepted` condition, source count, presence per device) and a
`NamespaceStatus` per namespace.
"""

from connector.compiler.findings import DevicePresence, NamespaceStatus, Problem, Reason, RuleRef, RuleStatus
from connector.compiler.incremental import Compiler, CompileResult, compile_cluster
from connector.compiler.settings import CompileSettings

__all__ = [
    "CompileResult",
    "CompileSettings",
    "Compiler",
    "DevicePresence",
    "NamespaceStatus",
    "Problem",
    "Reason",
    "RuleRef",
    "RuleStatus",
    "compile_cluster",
]
