"""Syslog transport pieces for the flow receiver: headers (RFC 3164, RFC 5424) and TCP framing
(RFC 6587)."""

from connector.flows.syslog.framing import FrameDecoder
from connector.flows.syslog.header import SyslogMessage, parse_syslog

__all__ = ["FrameDecoder", "SyslogMessage", "parse_syslog"]
