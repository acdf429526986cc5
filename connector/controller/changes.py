"""Which watch changes matter to the compiler, and how they are named in the audit log.

A MODIFIED change of a fusion-connector.io resource that touches only its `status` (or
`metadata.resourceVersion`/`managedFields`) is the controller's own status write coming back
through the watch: it changes nothing the compiler reads, and reacting to it would loop.

A deletion no watch event reported (a relist found the object gone) is named with the `VANISHED`
suffix: the device syncs it leads to cannot take their deletions as confirmed by the API
(docs/operations.md, "Safety"); `is_vanished` recognises such a name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from connector.cluster import KINDS, Kind, Obj, ObjectChange

_STATUS_WRITTEN = frozenset({Kind.EXTERNAL_SERVICE, Kind.CLUSTER_EGRESS_RULE,
                             Kind.NAMESPACE_EGRESS_RULE, Kind.SERVICE_EGRESS_RULE})
_VOLATILE_METADATA = ("resourceVersion", "managedFields")


def _without_status(obj: Obj) -> dict[str, Any]:
    out = {key: value for key, value in obj.items() if key != "status"}
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        out["metadata"] = {k: v for k, v in metadata.items() if k not in _VOLATILE_METADATA}
    return out


def meaningful(change: ObjectChange) -> bool:
    """False for a status-only update of a resource whose status the controller writes."""
    if change.kind not in _STATUS_WRITTEN or change.old is None or change.new is None:
        return True
    return _without_status(change.old) != _without_status(change.new)


VANISHED = " (vanished without a DELETE event)"


def vanished(change: ObjectChange) -> bool:
    """A deletion that no watch event reported."""
    return change.new is None and not change.observed


def trigger_name(change: ObjectChange) -> str:
    """`Kind/namespace/name` (`Kind/name` for cluster-scoped objects), e.g. `Pod/payments/api-1`,
    with the `VANISHED` suffix for a deletion no watch event reported."""
    kind = KINDS[change.kind].object_kind
    name = f"{kind}/{change.namespace}/{change.name}" if change.namespace else f"{kind}/{change.name}"
    return name + VANISHED if vanished(change) else name


def is_vanished(trigger: str) -> bool:
    """Whether a trigger name stands for a deletion no watch event reported."""
    return trigger.endswith(VANISHED)


def trigger_names(changes: Iterable[ObjectChange]) -> list[str]:
    """Distinct trigger names in first-seen order."""
    return list(dict.fromkeys(trigger_name(change) for change in changes))
