"""Firewall traffic log parsers: a device's syslog message -> FlowLine.

Each parser is `(message, device, header_time) -> FlowLine`: `message` is what follows the syslog
header (`SyslogMessage.body`: RFC 5424 structured data, then the message), `header_time` the
header's time when it had one. A line that is not a flow in the format raises MalformedLine, whose
message names the field (and never holds the whole line). The shapes each accepts are in its
module: `fortios` (connector.flows.parsers.fortios), `bigip-afm` (...bigip_afm), `cef` (...cef).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from connector.flows.parsers.bigip_afm import parse_bigip_afm
from connector.flows.parsers.cef import parse_cef
from connector.flows.parsers.common import MalformedLine, NotAFlow, Parser, StagedMatch
from connector.flows.parsers.fortios import parse_fortios

PARSERS: Mapping[str, Parser] = MappingProxyType({
    "fortios": parse_fortios,
    "bigip-afm": parse_bigip_afm,
    "cef": parse_cef,
})

__all__ = ["PARSERS", "MalformedLine", "NotAFlow", "Parser", "StagedMatch", "parse_bigip_afm",
           "parse_cef", "parse_fortios"]
