"""The parsers' fast paths (remembered ports and addresses, FortiOS nanosecond `eventtime` read
inline, remembered device clocks) agree with the plain checking functions they stand for: same
FlowLine, or the same error, over generated values (hypothesis), clean and damaged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.flows.parsers import MalformedLine, NotAFlow, StagedMatch, bigip_afm, fortios
from connector.flows.parsers.common import (
    _QUOTED_EQUALS,
    KeyValues,
    _by_comma,
    _read_every_pair,
    action,
    address,
    epoch_time,
    iso_time,
    local_time,
    month_day_year_time,
    port,
    protocol,
    reference,
    shown,
)
from connector.flows.parsers.common import _month_day_year_time as clock_parts
from connector.flows.record import FlowLine

HEADER = datetime(2026, 5, 2, 6, 31, 47, tzinfo=UTC)
PARSED: list[bool] = []  # whether each generated line parsed


def outcome(run: Callable[[], Any]) -> object:
    """What `run` returns, or the type and message of what it raises."""
    try:
        return run()
    except (MalformedLine, OverflowError) as error:
        return (type(error).__name__, str(error))


# ---- the plain paths, from the documented rules and the checking functions alone


def fortios_reference(values: dict[str, str], device: str, header_time: datetime | None) -> FlowLine:
    get = values.get
    kind = get("type")
    if kind is not None and kind != "traffic":
        raise NotAFlow(f"type {shown(kind)} is not a traffic log")
    source, destination = address(get("srcip"), "srcip"), address(get("dstip"), "dstip")
    decision = action(get("action"), "action", fortios.ALLOW, fortios.DENY)
    proto = get("proto") or fortios._service_protocol(get("service"))
    policy_id = get("policyid") or None
    moment = fortios_time(get("eventtime"), get("date"), get("time"), get("tz"), header_time)
    return FlowLine(moment, device, decision, source, destination, protocol(proto, "proto"),
                    port(get("srcport"), "srcport"), port(get("dstport"), "dstport"),
                    get("policyname") or policy_id, policy_id)


def fortios_time(eventtime: str | None, date: str | None, clock: str | None, tz: str | None,
                 header_time: datetime | None) -> datetime:
    if not eventtime:
        return fortios._clock(date, clock, tz, header_time)
    if not (tz and date and clock):
        return epoch_time(eventtime, "eventtime")
    wall = fortios._clock(date, clock, tz, header_time)
    exact = epoch_time(eventtime, "eventtime")
    return exact if abs(exact - wall) < timedelta(seconds=1) else wall


def afm_reference(values: dict[str, str], device: str, header_time: datetime | None) -> FlowLine:
    get = values.get
    policy_type = get("acl_policy_type")
    if policy_type and policy_type.lower() == "staged":
        raise StagedMatch(f"acl_policy_type {shown(policy_type)}: a staged policy's match, not enforced")
    source, destination = address(get("source_ip"), "source_ip"), address(get("dest_ip"), "dest_ip")
    decision = action(get("action"), "action", bigip_afm.ALLOW, bigip_afm.DENY)
    proto = protocol(get("ip_protocol"), "ip_protocol")
    src_port, dst_port = port(get("source_port"), "source_port"), port(get("dest_port"), "dest_port")
    stamp = get("date_time")
    if not stamp:
        if header_time is None:
            raise MalformedLine("date_time is missing, and no syslog header time")
        moment = header_time
    elif stamp[:1].isdigit():
        moment = iso_time(stamp, "date_time", header_time)
    else:
        moment = local_time(*clock_parts(stamp, "date_time"), header_time)
    return FlowLine(moment, device, decision, source, destination, proto, src_port, dst_port,
                    get("acl_rule_name") or None)


# ---- generated values: the devices' usual ones, near misses and damage

def usually(good: list[str], bad: list[str]) -> st.SearchStrategy[str]:
    """Mostly one of the `good` values (so that whole lines parse), sometimes a `bad` one."""
    return st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(good),
                     st.sampled_from(bad))


ADDRESSES = usually(["10.64.0.1", "10.64.1.2", "203.0.113.18", "2001:db8::1"],
                    ["10.0.0.256", "1.2.3", "", "fe80::1%2", "10.1.1.1%3", "host"])
PORTS = st.one_of(st.integers(0, 65535).map(str), st.integers(0, 70000).map(str),
                  st.sampled_from(["", "-1", "²", "\uff14\uff14\uff13", "08", "443x"]))
NANOS = 1_777_703_507_000_000_000  # the wall clock below, at 08:31:47 +0200


def maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), values)


fortios_values = st.fixed_dictionaries({
    "type": usually(["traffic"], ["event", ""]),
    "srcip": ADDRESSES, "dstip": ADDRESSES,
    "action": usually(["deny", "close", "accept", "Deny", "timeout", "dns", "blocked"], ["x", ""]),
    "proto": usually(["6", "17", "1", "58", "132", "47"], ["300", "gre", "", "x y"]),
    "eventtime": st.one_of(
        st.integers(-3_000_000_000, 3_000_000_000).map(lambda off: str(NANOS + off)),  # 19 digits
        st.integers(0, 10**20).map(str), st.sampled_from(["", "abc", "\uff11" * 19, "-5"])),
}, optional={
    "service": st.sampled_from(["tcp/443", "UDP/53", "HTTPS", "icmp/0", ""]),
    "srcport": PORTS, "dstport": PORTS,
    "policyid": st.sampled_from(["0", "12", ""]), "policyname": st.sampled_from(["fc.a.b.c", ""]),
    "date": usually(["2026-05-02"], ["2026-02-30", "x"]),
    "time": usually(["08:31:47", "08:31:46"], ["25:00:00"]),
    "tz": usually(["+0200", "-05:00", "Z"], ["bad", ""]),
})


@settings(max_examples=400, deadline=None)
@given(fortios_values, maybe(st.just(HEADER)))
def test_fortios_agrees_with_the_plain_path(values: dict[str, str], header_time: datetime | None) -> None:
    line = " ".join(f'{key}="{value}"' if key in ("type", "action", "tz", "policyname") else f"{key}={value}"
                    for key, value in values.items())
    read = fortios._FIELDS.read(line)
    want = outcome(lambda: fortios_reference(read, "fw", header_time))
    assert outcome(lambda: fortios.parse_fortios(line, "fw", header_time)) == want
    assert outcome(lambda: fortios.parse_fortios(line, "fw", header_time)) == want  # remembered now
    PARSED.append(isinstance(want, FlowLine))


afm_values = st.fixed_dictionaries({
    "source_ip": ADDRESSES, "dest_ip": ADDRESSES,
    "action": usually(["Drop", "Reject", "Accept", "Accept Decisively", "allow"], ["x", ""]),
    "ip_protocol": usually(["TCP", "UDP", "tcp", "6", "17"], ["300", "", "x y"]),
}, optional={
    "acl_policy_type": usually(["Enforced"], ["Staged", "STAGED", ""]),
    "source_port": PORTS, "dest_port": PORTS,
    "acl_rule_name": st.sampled_from(["fc_a_b", ""]),
    "date_time": usually(["May 02 2026 06:31:47", "May 2 2026 06:31:47 +01:00", "2026-05-02T06:31:47",
                          "2026-05-02T06:31:47Z"], ["Feb 30 2026 06:31:47", "Xyz 02 2026 06:31:47", ""]),
})


@settings(max_examples=400, deadline=None)
@given(afm_values, maybe(st.just(HEADER)), st.booleans())
def test_bigip_afm_agrees_with_the_plain_path(values: dict[str, str], header_time: datetime | None,
                                              commas: bool) -> None:
    line = ("," if commas else " ").join(f'{key}="{value}"' for key, value in values.items())
    if '="' not in line:
        return  # the field list: another reader
    read = bigip_afm._FIELDS.read(line)
    want = outcome(lambda: afm_reference(read, "afm", header_time))
    assert outcome(lambda: bigip_afm.parse_bigip_afm(line, "afm", header_time)) == want
    assert outcome(lambda: bigip_afm.parse_bigip_afm(line, "afm", header_time)) == want
    PARSED.append(isinstance(want, FlowLine))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["Jan", "feb", "MAR", "Xyz"]), st.integers(0, 32), st.integers(1999, 2030),
       st.sampled_from(["", ".5", ".123456"]), st.sampled_from(["", " +01:00", " -0530", " Z", " CET"]),
       maybe(st.sampled_from([HEADER, HEADER.astimezone(timezone(timedelta(hours=3)))])))
def test_a_remembered_device_clock_answers_as_its_parts(month: str, day: int, year: int, fraction: str,
                                                        zone: str, header_time: datetime | None) -> None:
    stamp = f"{month} {day} {year} 10:20:30{fraction}{zone}"
    want = outcome(lambda: local_time(*clock_parts(stamp, "t"), header_time))
    for _ in range(2):  # read, then remembered
        got = outcome(lambda: month_day_year_time(stamp, "t", header_time))
        assert got == want
        if isinstance(got, datetime):
            assert got.tzinfo is UTC


def test_the_generated_lines_both_parse_and_fail() -> None:
    PARSED.clear()
    test_fortios_agrees_with_the_plain_path()
    test_bigip_afm_agrees_with_the_plain_path()
    assert sum(PARSED) > len(PARSED) // 20 and not all(PARSED)  # both outcomes, often enough


KEYS = KeyValues(("a", "b", "ab"))


def read_before(text: str) -> dict[str, str]:
    """`KeyValues.read` as written before its separator check was inlined."""
    if ("\\" in text and '\\"' in text) or text.count('"') & 1 or _QUOTED_EQUALS.search(text):
        return _read_every_pair(text, KEYS._keys)
    if _by_comma(text):
        return dict(KEYS._by_comma.findall("," + text))
    return dict(KEYS._by_space.findall(" " + text))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet='ab=", ][x', max_size=40))
def test_key_values_decide_the_separator_as_before(text: str) -> None:
    want = outcome(lambda: read_before(text))
    assert outcome(lambda: KEYS.read(text)) == want
    in_order = want if not isinstance(want, dict) else tuple(want.get(key) for key in ("a", "b", "ab"))
    assert outcome(lambda: KEYS.values(text)) == in_order
    single = outcome(lambda: KeyValues(["ab"]).values(text))
    assert single == (want if not isinstance(want, dict) else (want.get("ab"),))


def test_addresses_and_references_are_kept_once() -> None:
    first, second = "".join(["10.9.8.", "7"]), "".join(["10.9.8", ".7"])
    assert first is not second
    assert address(first, "src") is address(second, "src") is first
    assert reference("".join(["fc.", "a"])) is reference("".join(["fc", ".a"]))
