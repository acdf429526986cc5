"""Event validation as the real server's (core/v1 and events.k8s.io/v1 Events).

Every Event: `involvedObject.namespace` (events.k8s.io: `regarding.namespace`) must equal the
Event's namespace; an Event about a cluster-scoped object (no namespace) must live in `default`
(core/v1 without eventTime) or `default`/`kube-system` (with eventTime). An Event with `eventTime`
also needs `reportingComponent` (core/v1; `reportingController` in events.k8s.io), a
`reportingInstance` of at most 128 characters, an `action` (at most 128) and a `reason` (at most
128), and a message (note) of at most 1024 characters. events.k8s.io/v1 Events always need
`eventTime` and a `type` of Normal or Warning. Field paths are the internal ones the real server
reports (`involvedObject.namespace`, `message`), whatever the API version.
"""

from __future__ import annotations

from typing import Any

from mocks.kube.errors import cause

Obj = dict[str, Any]
LIMIT = 128
NOTE_LIMIT = 1024


def _required(path: str) -> dict[str, str]:
    return cause(path, "Required value", "FieldValueRequired")


def _too_long(path: str, limit: int) -> dict[str, str]:
    return cause(path, f'Invalid value: "": can have at most {limit} characters')


def causes(obj: Obj, events_api: bool) -> list[dict[str, str]]:
    """422 causes for an Event (`events_api`: created through events.k8s.io/v1)."""
    out: list[dict[str, str]] = []
    namespace = (obj.get("metadata") or {}).get("namespace") or ""
    involved = obj.get("regarding" if events_api else "involvedObject") or {}
    involved_ns = str(involved.get("namespace") or "") if isinstance(involved, dict) else ""
    controller = obj.get("reportingController" if events_api else "reportingComponent") or ""
    message = obj.get("note" if events_api else "message") or ""
    controller_field = "reportingController" if events_api else "reportingComponent"
    mismatch = cause(
        "involvedObject.namespace", f'Invalid value: "{involved_ns}": does not match event.namespace'
    )
    if not obj.get("eventTime"):
        if (involved_ns and involved_ns != namespace) or (
            not involved_ns and namespace not in ("", "default")
        ):
            out.append(mismatch)
    else:
        if (not involved_ns and namespace not in ("default", "kube-system")) or (
            involved_ns and involved_ns != namespace
        ):
            out.append(mismatch)
        if not controller:
            out.append(_required(controller_field))
        instance = str(obj.get("reportingInstance") or "")
        if not instance:
            out.append(_required("reportingInstance"))
        elif len(instance) > LIMIT:
            out.append(_too_long("reportingInstance", LIMIT))
        action = str(obj.get("action") or "")
        if not action:
            out.append(_required("action"))
        elif len(action) > LIMIT:
            out.append(_too_long("action", LIMIT))
        reason = str(obj.get("reason") or "")
        if not reason:
            out.append(_required("reason"))
        elif len(reason) > LIMIT:
            out.append(_too_long("reason", LIMIT))
        if len(str(message)) > NOTE_LIMIT:
            out.append(_too_long("message", NOTE_LIMIT))
    if events_api:
        if not obj.get("eventTime"):
            out.append(_required("eventTime"))
        if obj.get("type") not in ("Normal", "Warning"):
            out.append(cause("type", f'Invalid value: "": has invalid value: {obj.get("type") or ""}'))
    return out
