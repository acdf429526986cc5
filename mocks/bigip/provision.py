"""Module provisioning: AS3 refuses a declaration using a class or property of a module the BIG-IP
has not provisioned (AS3's `modules` post-processing tag, `src/lib/tag/moduleTag.js`).

`unprovisioned_error(declaration, provisioned)` walks the declaration in order and returns AS3's
error line for the first such use, `"<path>: One of these F5 modules needs to be provisioned:
<modules>"`, or None. The classes and properties are those the AS3 3.56 schema tags with
`f5PostProcess: {"tag": "modules"}` among the ones the connector declares.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

MODULES = ("ltm", "afm", "asm", "apm", "gtm", "avr", "pem")

CLASS_MODULES: dict[str, tuple[str, ...]] = {
    "Firewall_Address_List": ("afm",),
    "Firewall_Port_List": ("afm",),
    "Firewall_Rule_List": ("afm",),
    "Firewall_Policy": ("afm",),
    "NAT_Policy": ("afm",),
    "NAT_Source_Translation": ("afm",),
    "IP_Intelligence_Policy": ("afm",),
    "Security_Log_Profile": ("afm", "asm"),
}

PROPERTY_MODULES: dict[str, tuple[str, ...]] = {
    "policyFirewallEnforced": ("afm",),
    "policyFirewallStaged": ("afm",),
    "policyNAT": ("afm",),
    "securityLogProfiles": ("afm", "asm"),
    "ipIntelligencePolicy": ("afm",),
}

_SERVICE_PREFIX = "Service_"
_HEADER = frozenset({"class", "schemaVersion", "id", "label", "remark", "updateMode", "controls",
                     "constants"})


def _message(path: str, modules: tuple[str, ...]) -> str:
    return f"{path}: One of these F5 modules needs to be provisioned: {', '.join(modules)}"


def unprovisioned_error(declaration: Mapping[str, Any], provisioned: Collection[str]) -> str | None:
    """AS3's error for the first use of an unprovisioned module in `declaration`, else None."""
    for tenant, body in declaration.items():
        if tenant in _HEADER or not isinstance(body, Mapping) or body.get("class") != "Tenant":
            continue
        for app, app_body in body.items():
            if not isinstance(app_body, Mapping) or app_body.get("class") != "Application":
                continue
            for name, item in app_body.items():
                if not isinstance(item, Mapping) or not isinstance(item.get("class"), str):
                    continue
                path = f"/{tenant}/{app}/{name}"
                needed = CLASS_MODULES.get(item["class"])
                if needed and not set(needed) & set(provisioned):
                    return _message(path, needed)
                if not item["class"].startswith(_SERVICE_PREFIX):
                    continue
                for prop in item:
                    modules = PROPERTY_MODULES.get(prop)
                    if modules and not set(modules) & set(provisioned):
                        return _message(f"{path}/{prop}", modules)
    return None
