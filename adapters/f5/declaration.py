"""AS3 declaration vocabulary: object kinds, the owner mark, canonical forms.

An AS3 tenant holds our objects in its `Shared` application. Each class-bearing item becomes one
`DeviceObject` whose kind comes from its class and whose body is the item in canonical form, so that
what `render` produces and what `read` gets back from the device compare equal when they mean the
same thing (pointers relative to the application, ports as integers or `a-b` strings, addresses
sorted). The tenant itself is one more object, kind `tenant`, carrying the owner mark in `label`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from adapters.f5.names import APPLICATION, stable_hash
from connector.netaddr import network
from connector.planner.types import DeviceObject

TENANT = "tenant"
KIND_BY_CLASS = {
    "Firewall_Address_List": "address_list",
    "Firewall_Port_List": "port_list",
    "Security_Log_Profile": "log_profile",
    "Pool": "pool",
    "Firewall_Rule_List": "rule_list",
    "Firewall_Policy": "policy",
    "Service_L4": "virtual",
}
# Dependency order: a kind only references kinds before it.
KIND_ORDER = (TENANT, "address_list", "port_list", "log_profile", "pool", "rule_list", "policy", "virtual")
MAX_LABEL = 64
REMARK = "managed by fusion-connector; do not edit by hand"
_REMARK_UNSAFE = re.compile(r"[\x00-\x1f\x22\x5c\x7f]")


def kind_of(as3_class: str) -> str:
    """The DeviceObject kind of an AS3 class (unknown classes keep a lower-case class name)."""
    return KIND_BY_CLASS.get(as3_class, as3_class.lower())


def tenant_label(owner_mark: str) -> str:
    """The owner mark as an AS3 label (at most 64 characters; longer marks keep a stable hash)."""
    if len(owner_mark) <= MAX_LABEL:
        return owner_mark
    suffix = "_" + stable_hash(owner_mark)
    return owner_mark[: MAX_LABEL - len(suffix)] + suffix


def remark(text: str) -> str:
    """`text` made acceptable as an AS3 remark (no quotes, backslashes or control characters, ≤64)."""
    return _REMARK_UNSAFE.sub("_", text)[:MAX_LABEL]


@functools.lru_cache(maxsize=1 << 17)  # pure; pod addresses repeat across renders and canonical forms
def address_text(value: str) -> str:
    """An IP, CIDR or range in canonical form; a host network (/32, /128) as a bare address."""
    if "-" in value:
        return value
    try:
        return network(value).text
    except ValueError:
        return value


@functools.lru_cache(maxsize=1 << 17)
def _address_sort_key(value: str) -> tuple[int, int, int, str]:
    try:
        net = network(value)
    except ValueError:
        return (9, 0, 0, value)
    return (net.version, net.address, net.prefixlen, value)


@functools.lru_cache(maxsize=1 << 17)
def _sorted_entry(value: str) -> tuple[int, int, int, str]:
    """The sort key of `address_text(value)`, whose last item is that text (one parse)."""
    if "-" not in value:
        try:
            net = network(value)
        except ValueError:
            pass
        else:
            return (net.version, net.address, net.prefixlen, net.text)
    return _address_sort_key(value)  # a range or an unreadable value is its own text


def sorted_addresses(values: Iterable[str]) -> list[str]:
    """Canonical, de-duplicated and sorted addresses (IPv4 before IPv6, numerically)."""
    return [entry[3] for entry in sorted({_sorted_entry(v) for v in values})]


def port_value(value: Any) -> int | str:
    """A port-list entry as AS3 spells it: an integer, or `a-b` for a range."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    start, _, end = text.partition("-")
    if start.strip().isdigit() and end.strip().isdigit():
        return int(start) if int(start) == int(end) else f"{int(start)}-{int(end)}"
    return text


def _canonical(value: Any, tenant: str) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k == "addresses" and isinstance(v, list):
                out[k] = sorted_addresses(str(x) for x in v if isinstance(x, str)) + [
                    x for x in v if not isinstance(x, str)]
            elif k == "fqdns" and isinstance(v, list):
                out[k] = sorted({str(x).lower().rstrip(".") for x in v})
            elif k == "ports" and isinstance(v, list):
                out[k] = [port_value(x) for x in v]
            elif k == "use" and isinstance(v, str):
                prefix = f"/{tenant}/{APPLICATION}/"
                out[k] = v[len(prefix):] if v.startswith(prefix) else v
            else:
                out[k] = _canonical(v, tenant)
        return out
    if isinstance(value, list):
        return [_canonical(v, tenant) for v in value]
    return value


def canonical_item(item: Mapping[str, Any], tenant: str) -> dict[str, Any]:
    """An AS3 item in canonical comparable form (see module docstring)."""
    out = _canonical(item, tenant)
    assert isinstance(out, dict)
    return out


def split_tenant(tenant: str, body: Mapping[str, Any]) -> list[DeviceObject]:
    """The DeviceObjects of one tenant as declared on the device; owner = the tenant's label."""
    owner = body.get("label") if isinstance(body.get("label"), str) else None
    objects = [DeviceObject(TENANT, tenant, tenant_body(owner, body.get("remark")), owner=owner)]
    for app_name, app in body.items():
        if not isinstance(app, Mapping) or app.get("class") != "Application":
            continue
        for item_name, item in app.items():
            if not isinstance(item, Mapping) or not isinstance(item.get("class"), str):
                continue
            name = item_name if app_name == APPLICATION else f"{app_name}/{item_name}"
            objects.append(DeviceObject(kind_of(item["class"]), name, canonical_item(item, tenant),
                                        owner=owner))
    return objects


def tenant_body(label: str | None, remark_text: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"class": "Tenant"}
    if label is not None:
        body["label"] = label
    if isinstance(remark_text, str):
        body["remark"] = remark_text
    return body


def tenant_declaration(tenant: str, objects: Sequence[DeviceObject]) -> dict[str, Any]:
    """The tenant body (Tenant class with its Shared application) holding `objects`."""
    head = next((o for o in objects if o.kind == TENANT), None)
    body: dict[str, Any] = dict(head.body) if head is not None else {"class": "Tenant"}
    shared: dict[str, Any] = {"class": "Application", "template": "shared"}
    for obj in objects:
        if obj.kind != TENANT:
            shared[obj.name] = dict(obj.body)
    body[APPLICATION] = shared
    return body


def canonical_tenant(tenant: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """A tenant body reduced to what we compare: label, remark and every application's items."""
    return {f"{o.kind}:{o.name}": dict(o.body) for o in split_tenant(tenant, body)}


def adc(tenant: str, tenant_body_: Mapping[str, Any], schema_version: str) -> dict[str, Any]:
    """An ADC declaration holding one tenant."""
    return {"class": "ADC", "schemaVersion": schema_version, "id": f"fusion-connector-{tenant}",
            "label": "fusion-connector", tenant: dict(tenant_body_)}


def as3_request(declaration: Mapping[str, Any]) -> dict[str, Any]:
    """The AS3 request wrapping `declaration` for a deploy."""
    return {"class": "AS3", "action": "deploy", "persist": True, "declaration": dict(declaration)}
