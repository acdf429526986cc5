"""Damaged lines (cut, characters changed, quotes, backslashes and brackets inserted): every parser
either returns a FlowLine or raises MalformedLine, never anything else; framing never fails."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from connector.flows.parsers import PARSERS, MalformedLine
from connector.flows.record import FlowLine
from connector.flows.syslog import FrameDecoder, parse_syslog
from tests.connector.flows import samples

NOW = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
LINES = {
    "fortios": [samples.FORTIOS_DENY, samples.FORTIOS_CLOSE, samples.FORTIOS_NAMED,
                samples.FORTIOS_RFC5424],
    "bigip-afm": [samples.AFM_RFC5424, samples.AFM_SPLUNK, samples.AFM_FIELD_LIST, samples.AFM_RFC3164],
    "cef": [samples.FORTIOS_CEF, samples.FORTIOS_CEF_56],
}
NOISE = '"\\[]=,| <>\x00\ufeff:%-.1aZ'


def damaged(line: str, rng: random.Random) -> str:
    chars = list(line)
    for _ in range(rng.randrange(1, 6)):
        kind = rng.randrange(3)
        at = rng.randrange(len(chars) + 1)
        if kind == 0:
            chars.insert(at, rng.choice(NOISE))
        elif kind == 1 and chars:
            chars[min(at, len(chars) - 1)] = rng.choice(NOISE)
        else:
            del chars[at:]
    return "".join(chars)


@pytest.mark.parametrize("fmt", sorted(LINES))
def test_damaged_lines_raise_only_malformed_line(fmt: str) -> None:
    rng = random.Random(fmt)
    parser = PARSERS[fmt]
    parsed = refused = 0
    for _ in range(1500):
        line = damaged(rng.choice(LINES[fmt]), rng)
        message = parse_syslog(line, now=NOW)
        try:
            result = parser(message.body, "dev", message.time)
        except MalformedLine as error:
            refused += 1
            assert line not in str(error) or len(line) < 20
            continue
        parsed += 1
        assert isinstance(result, FlowLine)
        assert result.time.tzinfo is not None
    assert parsed and refused  # both outcomes were exercised


def test_random_bytes_through_the_framer() -> None:
    rng = random.Random(7)
    decoder = FrameDecoder(64)
    for _ in range(3000):
        chunk = bytes(rng.choice(b"0123456789 \n\r<>abc") for _ in range(rng.randrange(1, 40)))
        for frame in decoder.feed(chunk):
            assert 0 < len(frame) <= 64
        assert len(decoder._buffer) <= 64 + 40
