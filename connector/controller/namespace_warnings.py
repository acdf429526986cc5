"""Namespace warnings (bad annotation values, host-network pods) told once each.

Contract of `tell(result)`: each warning of `result` is a log line when it first appears, and (as
leader) a Warning Event on the Namespace, in `default` as for every cluster-scoped object: reason
`InvalidAnnotation` for an annotation value, else `NamespaceWarning`. A warning that changes, or
goes away and comes back, is told again; an unchanged one never is, however often the cluster
compiles. A standby only logs; the Events follow once it leads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from connector.compiler import CompileResult
from connector.controller.events import WARNING, EventChannel, ObjectRef

log = logging.getLogger(__name__)


def _set_or_drop(store: dict[str, frozenset[str]], name: str, lines: frozenset[str]) -> None:
    if lines:
        store[name] = lines
    else:
        store.pop(name, None)


class NamespaceWarnings:
    """Tells namespace warnings (see the module docstring); `namespace_uid(name)` names the
    Namespace object an Event is about."""

    def __init__(self, events: EventChannel, leading: Callable[[], bool],
                 namespace_uid: Callable[[str], str]) -> None:
        self.events = events
        self.leading = leading
        self.namespace_uid = namespace_uid
        self._logged: dict[str, frozenset[str]] = {}  # namespace warnings logged
        self._evented: dict[str, frozenset[str]] = {}  # namespace warnings recorded as Events

    def tell(self, result: CompileResult) -> None:
        leading = self.leading() and self.events.connected
        for name, status in result.namespaces.items():
            warnings = status.warnings
            if not warnings and name not in self._logged and name not in self._evented:
                continue
            current = frozenset(warnings)
            logged = self._logged.get(name, frozenset())
            for line in warnings:
                if line not in logged:
                    log.warning("%s", line)
            evented = self._evented.get(name, frozenset())
            if leading and any(line not in evented for line in warnings):
                involved = ObjectRef("Namespace", "v1", "", name, self.namespace_uid(name))
                for line in warnings:
                    if line not in evented:
                        reason = "InvalidAnnotation" if line.startswith(f"namespace {name}: annotation ") \
                            else "NamespaceWarning"
                        self.events.tell(involved, WARNING, reason, line)
                evented = current
            _set_or_drop(self._logged, name, current)
            _set_or_drop(self._evented, name, evented & current)
        for store in (self._logged, self._evented):
            for name in [n for n in store if n not in result.namespaces]:
                del store[name]
