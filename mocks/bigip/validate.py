"""Validation of AS3 declarations as AS3 3.56 does it, for the classes the connector emits.

`check_declaration` returns the first error AS3-style (`"/T/A/item/prop: message"`, AJV 6 wording)
or None: ADC shape, tenant/application/item name rules, the 255-character path limit, required
properties and allowed values of Firewall_Address_List, Firewall_Port_List, Firewall_Rule_List,
Firewall_Policy, Security_Log_Profile, Pool and Service_L4, and pointer resolution (a `use` must name
an existing object of the right class). Items of other classes are accepted as they are.
`deploy_failure` reports what AS3 only learns when BIG-IP refuses the configuration (mcpd errors
such as a malformed address or a port outside 0-65535), which fails that tenant alone
("declaration failed").
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

TENANT_NAME = re.compile(r"^[A-Za-z][0-9A-Za-z_.-]{0,189}$")
ITEM_NAME = re.compile(r"^[A-Za-z]([0-9A-Za-z_.-]{0,188}[0-9A-Za-z_.])?$")
MAX_PATH = 255
ADC_PROPERTIES = frozenset({"class", "schemaVersion", "id", "label", "remark", "updateMode", "controls",
                            "Common", "constants"})
ACTIONS = ["accept", "drop", "accept-decisively", "reject"]
PROTOCOLS = frozenset({"any", "tcp", "udp", "sctp", "icmp", "ipv6-icmp", "gre", "esp", "ah", "igmp",
                       "ospf", "pim", "vrrp", "l2tp", "dccp", "udplite", "ipip", "ip", "ipv6", "egp",
                       "rsvp", "eigrp", "isis"})
LAYER4 = frozenset({"any", "tcp", "udp", *PROTOCOLS})
MAX_SCHEMA_MINOR = 56


class Invalid(Exception):
    """A declaration error; `str()` is the AS3 error line. `status` is the HTTP status AS3 uses."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def _props(path: str, item: Mapping[str, Any], allowed: set[str]) -> None:
    for key in item:
        if key not in allowed:
            raise Invalid(f"{path}: should NOT have additional properties")


def _nonempty_list(path: str, item: Mapping[str, Any], key: str) -> list[Any] | None:
    if key not in item:
        return None
    value = item[key]
    if not isinstance(value, list):
        raise Invalid(f"{path}/{key}: should be array")
    if not value:
        raise Invalid(f"{path}/{key}: should NOT have fewer than 1 items")
    return value


def _label_remark(path: str, item: Mapping[str, Any]) -> None:
    for key in ("label", "remark"):
        if key in item:
            value = item[key]
            if not isinstance(value, str):
                raise Invalid(f"{path}/{key}: should be string")
            if len(value) > 64:
                raise Invalid(f"{path}/{key}: should NOT be longer than 64 characters")
            bad = r'[\x00-\x1f"\\\x7f]' if key == "remark" else r'[\x00-\x1f"#&*<>?\[\\\]`\x7f]'
            if re.search(bad, value):
                raise Invalid(f'{path}/{key}: should match pattern "{key}"')


class _Resolver:
    """Finds the class of the object a pointer names, inside the declaration or stored tenants."""

    def __init__(self, declaration: Mapping[str, Any], stored: Mapping[str, Mapping[str, Any]]) -> None:
        self.declaration = declaration
        self.stored = stored

    def target_class(self, use: str, tenant: str, app: str) -> str | None:
        if use.startswith("/"):
            parts = use.strip("/").split("/")
            if len(parts) != 3:
                return None
            t, a, name = parts
        elif "/" in use:
            a, _, name = use.partition("/")
            t = tenant
        else:
            t, a, name = tenant, app, use
        source = self.declaration.get(t)
        if not isinstance(source, Mapping):
            source = self.stored.get(t)
        if not isinstance(source, Mapping):
            return None
        application = source.get(a)
        if not isinstance(application, Mapping):
            return None
        target = application.get(name)
        if isinstance(target, Mapping) and isinstance(target.get("class"), str):
            return str(target["class"])
        return None


def _pointer(path: str, value: Any, wanted: str, ctx: tuple[_Resolver, str, str],
             allow_bigip: bool = True) -> None:
    if not isinstance(value, Mapping) or len(value) != 1:
        raise Invalid(f"{path}: should NOT have fewer than 1 properties" if not value
                      else f"{path}: should NOT have more than 1 properties")
    if "bigip" in value and allow_bigip:
        if not isinstance(value["bigip"], str) or not value["bigip"].startswith("/"):
            raise Invalid(f'{path}/bigip: should match format "f5bigip"')
        return
    use = value.get("use")
    if not isinstance(use, str) or not use:
        raise Invalid(f"{path}: should NOT have additional properties")
    resolver, tenant, app = ctx
    found = resolver.target_class(use, tenant, app)
    if found is None:
        raise Invalid(f"{path}/use: contains path to non-existent object {use}")
    if found != wanted:
        raise Invalid(f"{path}/use: AS3 pointer {use} does not point to required object type")


def _address_list(path: str, item: Mapping[str, Any], ctx: tuple[_Resolver, str, str]) -> None:
    _props(path, item, {"class", "label", "remark", "addresses", "fqdns", "geo", "addressLists"})
    present = [k for k in ("addresses", "fqdns", "geo", "addressLists") if k in item]
    if not present:
        raise Invalid(f"{path}: should have required property 'addresses'")
    for key in ("addresses", "fqdns", "geo"):
        for i, entry in enumerate(_nonempty_list(path, item, key) or []):
            if not isinstance(entry, str) and not (key == "addresses" and isinstance(entry, Mapping)):
                raise Invalid(f"{path}/{key}/{i}: should be string")
    for i, pointer in enumerate(_nonempty_list(path, item, "addressLists") or []):
        _pointer(f"{path}/addressLists/{i}", pointer, "Firewall_Address_List", ctx)


def _port_list(path: str, item: Mapping[str, Any], ctx: tuple[_Resolver, str, str]) -> None:
    _props(path, item, {"class", "label", "remark", "ports", "portLists"})
    if "ports" not in item and "portLists" not in item:
        raise Invalid(f"{path}: should have required property 'ports'")
    for i, port in enumerate(_nonempty_list(path, item, "ports") or []):
        if isinstance(port, bool) or not isinstance(port, int | str):
            raise Invalid(f"{path}/ports/{i}: should be integer,string")
    for i, pointer in enumerate(_nonempty_list(path, item, "portLists") or []):
        _pointer(f"{path}/portLists/{i}", pointer, "Firewall_Port_List", ctx)


def _rule(path: str, rule: Any, ctx: tuple[_Resolver, str, str]) -> None:
    if not isinstance(rule, Mapping):
        raise Invalid(f"{path}: should be object")
    _props(path, rule, {"name", "label", "remark", "action", "protocol", "source", "destination",
                        "loggingEnabled", "iRule", "iRuleSampleRate"})
    _label_remark(path, rule)
    for key in ("name", "action"):
        if key not in rule:
            raise Invalid(f"{path}: should have required property '{key}'")
    if not isinstance(rule["name"], str):
        raise Invalid(f"{path}/name: should be string")
    if rule["action"] not in ACTIONS:
        allowed = ",".join(f'"{a}"' for a in ACTIONS)
        raise Invalid(f"{path}/action: should be equal to one of the allowed values [{allowed}]")
    if "protocol" in rule and rule["protocol"] not in PROTOCOLS:
        raise Invalid(f"{path}/protocol: should be equal to one of the allowed values")
    if "loggingEnabled" in rule and not isinstance(rule["loggingEnabled"], bool):
        raise Invalid(f"{path}/loggingEnabled: should be boolean")
    for side in ("source", "destination"):
        if side not in rule:
            continue
        match = rule[side]
        if not isinstance(match, Mapping):
            raise Invalid(f"{path}/{side}: should be object")
        keys = {"addressLists", "portLists", "addresses", "ports"}
        if side == "source":
            keys.add("vlans")
        _props(f"{path}/{side}", match, keys)
        for key, cls in (("addressLists", "Firewall_Address_List"), ("portLists", "Firewall_Port_List")):
            pointers = match.get(key, [])
            if not isinstance(pointers, list):
                raise Invalid(f"{path}/{side}/{key}: should be array")
            for i, pointer in enumerate(pointers):
                _pointer(f"{path}/{side}/{key}/{i}", pointer, cls, ctx)


def _rule_list(path: str, item: Mapping[str, Any], ctx: tuple[_Resolver, str, str]) -> None:
    _props(path, item, {"class", "label", "remark", "rules"})
    rules = item.get("rules", [])
    if not isinstance(rules, list):
        raise Invalid(f"{path}/rules: should be array")
    names: set[str] = set()
    for i, rule in enumerate(rules):
        _rule(f"{path}/rules/{i}", rule, ctx)
        if rule["name"] in names:
            raise Invalid(f"{path}/rules/{i}/name: duplicate rule name {rule['name']}")
        names.add(rule["name"])


def _policy(path: str, item: Mapping[str, Any], ctx: tuple[_Resolver, str, str]) -> None:
    _props(path, item, {"class", "label", "remark", "rules", "routeDomainEnforcement"})
    if "rules" not in item:
        raise Invalid(f"{path}: should have required property 'rules'")
    if not isinstance(item["rules"], list):
        raise Invalid(f"{path}/rules: should be array")
    for i, entry in enumerate(item["rules"]):
        if isinstance(entry, Mapping) and ("use" in entry or "bigip" in entry):
            _pointer(f"{path}/rules/{i}", entry, "Firewall_Rule_List", ctx)
        else:
            _rule(f"{path}/rules/{i}", entry, ctx)
    for i, domain in enumerate(item.get("routeDomainEnforcement", [])):
        if not isinstance(domain, Mapping) or set(domain) != {"bigip"}:
            raise Invalid(f"{path}/routeDomainEnforcement/{i}: should NOT have additional properties")


def _log_profile(path: str, item: Mapping[str, Any], ctx: tuple[_Resolver, str, str]) -> None:
    network = item.get("network")
    if network is None:
        return
    if not isinstance(network, Mapping):
        raise Invalid(f"{path}/network: should be object")
    if "publisher" in network:
        _pointer(f"{path}/network/publisher", network["publisher"], "Log_Publisher", ctx)
    for key in ("logRuleMatchAccepts", "logRuleMatchDrops", "logRuleMatchRejects"):
        if key in network and not isinstance(network[key], bool):
            raise Invalid(f"{path}/network/{key}: should be boolean")


def _pool(path: str, item: Mapping[str, Any], ctx: tuple[_Resolver, str, str]) -> None:
    members = item.get("members", [])
    if not isinstance(members, list):
        raise Invalid(f"{path}/members: should be array")
    for i, member in enumerate(members):
        if not isinstance(member, Mapping) or "servicePort" not in member:
            raise Invalid(f"{path}/members/{i}: should have required property 'servicePort'")


def _service_l4(path: str, item: Mapping[str, Any], ctx: tuple[_Resolver, str, str]) -> None:
    if "virtualPort" not in item:
        raise Invalid(f"{path}: should have required property 'virtualPort'")
    if "virtualAddresses" not in item:
        raise Invalid(f"{path}: should have required property 'virtualAddresses'")
    addresses = item["virtualAddresses"]
    if isinstance(addresses, list):
        for i, entry in enumerate(addresses):
            if isinstance(entry, list) and len(entry) != 2:
                raise Invalid(f"{path}/virtualAddresses/{i}: should NOT have "
                              f"{'more' if len(entry) > 2 else 'fewer'} than 2 items")
    port = item["virtualPort"]
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise Invalid(f"{path}/virtualPort: should be <= 65535")
    if item.get("layer4", "tcp") not in LAYER4:
        raise Invalid(f"{path}/layer4: should be equal to one of the allowed values")
    for key in ("policyFirewallEnforced", "policyFirewallStaged"):
        if key in item:
            _pointer(f"{path}/{key}", item[key], "Firewall_Policy", ctx)
    for i, profile in enumerate(item.get("securityLogProfiles", [])):
        _pointer(f"{path}/securityLogProfiles/{i}", profile, "Security_Log_Profile", ctx)
    pool = item.get("pool")
    if isinstance(pool, str):
        _pointer(f"{path}/pool", {"use": pool}, "Pool", ctx)
    elif pool is not None:
        _pointer(f"{path}/pool", pool, "Pool", ctx)


CHECKS = {
    "Firewall_Address_List": _address_list,
    "Firewall_Port_List": _port_list,
    "Firewall_Rule_List": _rule_list,
    "Firewall_Policy": _policy,
    "Security_Log_Profile": _log_profile,
    "Pool": _pool,
    "Service_L4": _service_l4,
}


def check_declaration(declaration: Mapping[str, Any], stored: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise `Invalid` with AS3's first error for an ADC declaration; `stored` resolves pointers
    into tenants that the declaration does not carry."""
    if declaration.get("class") != "ADC":
        raise Invalid("/class: should be equal to one of the allowed values [\"ADC\"]")
    version = declaration.get("schemaVersion")
    if not isinstance(version, str):
        raise Invalid(": should have required property 'schemaVersion'")
    match = re.match(r"^3\.(\d+)(\.\d+)?$", version)
    if not match or int(match.group(1)) > MAX_SCHEMA_MINOR:
        raise Invalid(f"/schemaVersion: should be a schema version from 3.0 to 3.{MAX_SCHEMA_MINOR}")
    resolver = _Resolver(declaration, stored)
    for tenant, body in declaration.items():
        if tenant in ADC_PROPERTIES and tenant != "Common":
            continue
        if not isinstance(body, Mapping):
            continue
        if not TENANT_NAME.match(tenant):
            raise Invalid(f"/{tenant}: tenant name should match pattern \"^[A-Za-z][0-9A-Za-z_.-]*$\"")
        if body.get("class") != "Tenant":
            raise Invalid(f"/{tenant}/class: should be equal to one of the allowed values [\"Tenant\"]")
        _label_remark(f"/{tenant}", body)
        for app, app_body in body.items():
            if not isinstance(app_body, Mapping) or "class" not in app_body:
                continue
            if app_body.get("class") != "Application":
                raise Invalid(f"/{tenant}/{app}/class: should be equal to one of the allowed values "
                              "[\"Application\"]")
            if not TENANT_NAME.match(app):
                raise Invalid(f"/{tenant}/{app}: application name should match pattern "
                              "\"^[A-Za-z][0-9A-Za-z_.-]*$\"")
            if app == "Shared" and app_body.get("template") != "shared":
                raise Invalid(f"/{tenant}/{app}/template: should be equal to one of the allowed values "
                              "[\"shared\"]")
            for name, item in app_body.items():
                if not isinstance(item, Mapping) or "class" not in item:
                    continue
                path = f"/{tenant}/{app}/{name}"
                if not ITEM_NAME.match(name):
                    raise Invalid(f"{path}: property name should match pattern "
                                  "\"^[A-Za-z]([0-9A-Za-z_.-]{0,188}[0-9A-Za-z_.])?$\"")
                if len(path) > MAX_PATH:
                    raise Invalid(f"The path {path} exceeds the 255 full path character limit", status=400)
                _label_remark(path, item)
                check = CHECKS.get(str(item["class"]))
                if check is not None:
                    check(path, item, (resolver, tenant, app))


def deploy_failure(tenant: str, body: Mapping[str, Any]) -> str | None:
    """The mcpd error BIG-IP would raise while configuring `tenant`, or None."""
    for app, app_body in body.items():
        if not isinstance(app_body, Mapping):
            continue
        for name, item in app_body.items():
            if isinstance(item, Mapping) and item.get("class") == "Firewall_Port_List":
                for port in item.get("ports", []):
                    if not _valid_port(port):
                        return (f"01070712:3: Values ({port}) specified for port list "
                                f"(/{tenant}/{app}/{name}): bad format")
            if not isinstance(item, Mapping) or item.get("class") != "Firewall_Address_List":
                continue
            for address in item.get("addresses", []):
                if isinstance(address, str) and not _valid_address(address):
                    return (f"01070712:3: Values ({address}) specified for address list "
                            f"(/{tenant}/{app}/{name}): bad format")
    return None


def _valid_port(port: Any) -> bool:
    """A port list entry BIG-IP accepts: a port or a `low-high` range, within 0-65535. The AS3
    schema takes any integer or string here; mcpd refuses the rest when AS3 configures it."""
    low, _, high = str(port).partition("-")
    try:
        first, last = int(low), int(high or low)
    except ValueError:
        return False
    return 0 <= first <= last <= 65535


def _valid_address(text: str) -> bool:
    if "-" in text:
        start, _, end = text.partition("-")
        try:
            first, last = ipaddress.ip_address(start), ipaddress.ip_address(end)
        except ValueError:
            return False
        return first.version == last.version and first <= last  # type: ignore[operator]
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True
