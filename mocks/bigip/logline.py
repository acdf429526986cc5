"""The AFM network firewall log line a BIG-IP sends by remote syslog for one matched flow.

Fields (errdefs_msgno 23003137 "Network Event") in BIG-IP's order: acl_policy_name, acl_policy_type,
acl_rule_name, action, hostname, bigip_mgmt_ip, context_name, context_type, date_time, dest_ip,
dest_port, …, ip_protocol, partition_name, route_domain, source_ip, source_port, …, vlan. `action`
is the rule's action as AFM logs it (Accept, Accept Decisively, Drop, Reject), `date_time` the
device's local time (`Mar 14 2015 20:24:33`, UTC on the mock), ports empty for ICMP.
`acl_policy_type` is `Enforced`, or `Staged` for a match of the staged policy: `acl_policy_name` and
`acl_rule_name` are then the staged policy's and rule's, `action` what that rule would have done,
and `drop_reason` empty (the staged rule dropped nothing).
Formats (the log destination's):
- `rfc5424` (default): `<134>1 TIMESTAMP HOSTNAME tmm PID 23003137 [F5@12276 key="value" …]`, then,
  when the log profile has `storageFormat.fields`, those fields' values joined by its delimiter
  (default `,`) as the message; `"`, `\\` and `]` in values are escaped (RFC 5424);
- `splunk`: the comma-separated `key="value"` pairs alone, no syslog header.
Facility local0, severity informational (`<134>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any

from mocks.bigip.traffic import ContextHit, route_domain_id
from mocks.common.traffic import Flow

FORMATS = ("rfc5424", "splunk")
PRI = "<134>"  # local0.info
TMM_PID = 14807
MSGNO = "23003137"
SD_ID = "F5@12276"
LOG_ACTION = {"accept": "Accept", "accept-decisively": "Accept Decisively", "drop": "Drop",
              "reject": "Reject"}
STORAGE_KEYS = {"bigip-hostname": "hostname", "protocol": "ip_protocol", "src-ip": "source_ip",
                "src-port": "source_port", "src-geo": "src_geo", "dest-geo": "dst_geo"}


def afm_fields(hit: ContextHit, flow: Flow, *, hostname: str, mgmt_ip: str,
               version: str) -> list[tuple[str, str]]:
    """The event's fields, in BIG-IP's order, as strings."""
    moment = flow.time.astimezone(UTC)
    denied = not hit.staged and hit.action not in ("accept", "accept-decisively")
    return [
        ("acl_policy_name", hit.policy), ("acl_policy_type", "Staged" if hit.staged else "Enforced"),
        ("acl_rule_name", hit.rule),
        ("action", LOG_ACTION.get(hit.action, hit.action)), ("hostname", hostname),
        ("bigip_mgmt_ip", mgmt_ip),
        ("context_name", hit.context_name), ("context_type", hit.context_type),
        ("date_time", moment.strftime("%b %d %Y %H:%M:%S")), ("dest_fqdn", "unknown"),
        ("dest_ip", str(flow.dst)), ("dst_geo", "Unknown"), ("dest_port", _port(flow.dst_port)),
        ("device_product", "Advanced Firewall Module"), ("device_vendor", "F5"), ("device_version", version),
        ("drop_reason", "Policy" if denied else ""), ("errdefs_msgno", MSGNO),
        ("errdefs_msg_name", "Network Event"), ("flow_id", "0000000000000000"),
        ("ip_protocol", flow.protocol), ("severity", "8"), ("partition_name", hit.tenant),
        ("route_domain", route_domain_id(hit.route_domain)), ("sa_translation_pool", ""),
        ("sa_translation_type", ""), ("source_fqdn", "unknown"), ("source_ip", str(flow.src)),
        ("src_geo", "Unknown"), ("source_port", _port(flow.src_port)), ("source_user", "Unknown"),
        ("translated_dest_ip", ""), ("translated_dest_port", ""), ("translated_ip_protocol", ""),
        ("translated_route_domain", ""), ("translated_source_ip", ""), ("translated_source_port", ""),
        ("translated_vlan", ""), ("vlan", "/Common/internal"),
    ]


def _port(value: int | None) -> str:
    return "" if value is None else str(value)


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _storage_message(profile: Mapping[str, Any] | None, fields: Mapping[str, str]) -> str:
    network = profile.get("network") if profile else None
    storage = network.get("storageFormat") if isinstance(network, Mapping) else None
    if not isinstance(storage, Mapping) or not isinstance(storage.get("fields"), list):
        return ""
    delimiter = str(storage.get("delimiter", ","))
    keys = [STORAGE_KEYS.get(str(name), str(name).replace("-", "_")) for name in storage["fields"]]
    return delimiter.join(fields.get(key, "") for key in keys)


def afm_line(hit: ContextHit, flow: Flow, *, hostname: str, mgmt_ip: str, version: str,
             fmt: str = "rfc5424") -> str:
    """The whole syslog message in `fmt` (`rfc5424` or `splunk`)."""
    fields = afm_fields(hit, flow, hostname=hostname, mgmt_ip=mgmt_ip, version=version)
    if fmt == "splunk":
        return ",".join(f'{key}="{_escaped(value)}"' for key, value in fields)
    stamp = flow.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    data = " ".join(f'{key}="{_escaped(value)}"' for key, value in fields)
    message = _storage_message(hit.log_profile, dict(fields))
    line = f"{PRI}1 {stamp} {hostname} tmm {TMM_PID} {MSGNO} [{SD_ID} {data}]"
    return f"{line} {message}" if message else line
