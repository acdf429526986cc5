"""Flow receiving benchmark: parsing speed, attribution speed, memory under a flood, store growth.

    python benchmarks/bench_flows.py [--lines 100000] [--addresses 10000] [--repeat 3]
                                     [--flood 200000] [--max-pending 20000] [--flood-pending 10000]
                                     [--store-lines 200000]
                                     [--skip-attribution] [--skip-flood] [--skip-store]

Lines are generated in the devices' real shapes (FortiOS `format default` traffic logs; BIG-IP AFM
`rfc5424` logs behind a relay's prefix, and the "Splunk" key="value" destination), from
`--addresses` distinct pod addresses to many distinct destinations and ports. Rates are lines per
CPU second of this process, one thread running (other load on the machine does not count). Prints:
- lines/s through the syslog header and the format's parser (as the receiver's worker does), and the
  parser alone; side by side with bare passes over the same lines in the same run: the fair one,
  one precompiled regex `findall` of the same fields the parser reads into a dict (no checking,
  no time conversion, no FlowLine), and `str.split()` for scale; and the ratios;
- lines/s parsed and attributed (the receiver's and the pipeline's work on one core), in batches of
  1,000, against a temporary SQLite store holding a timeline of `--addresses` addresses with
  reuse history (each address held by three earlier pods over the past hours, a tenth of them
  taken by a new pod 5 minutes before the lines) and the devices' rule maps: with the
  Attributor's in-memory index (`cached=True`, as the flow service runs it: the recent
  intervals and rule histories of the addresses and references seen, checked against the store
  every batch: the top row with the rows written since in one statement, and a count of the
  batch's open rows still open, by primary key), and the store-backed path alone for comparison;
  against the targets (50,000 lines/s; a third of the fair bare pass);
- the receiver under a UDP flood (a separate sending process, `--flood` datagrams): with a sink
  that only counts (`--max-pending`), without then with tracemalloc, and with a slow sink (50 ms
  per batch, `--flood-pending`) so the queue fills and sheds: lines delivered, shed, lost in the
  kernel, the queue's high-water mark, the tracemalloc peak and the RSS of this process;
- when connector.store.flow_records.FlowRecordRepository exists: store bytes per million lines
  recorded (SQLite), 1,000 lines a second, from every address to random destinations (nearly
  every line its own record) and from 200 addresses to 20 destinations (lines of one flow in one
  time bucket add up to one record).
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import multiprocessing
import os
import random
import re
import socket
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from connector.flows.parsers import PARSERS  # noqa: E402
from connector.flows.receiver import Sender, SyslogReceiver  # noqa: E402
from connector.flows.record import FlowIdentity, FlowLine, FlowRule  # noqa: E402
from connector.flows.syslog import parse_syslog  # noqa: E402

CLUSTER = "bench-flows"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)  # lines of the last half hour
# the fields each parser reads, for the fair bare pass
FIELDS = {
    "fortios": ("type", "srcip", "dstip", "action", "proto", "service", "srcport", "dstport",
                "policyid", "policyname", "eventtime", "date", "time", "tz"),
    "bigip-afm": ("source_ip", "dest_ip", "action", "ip_protocol", "source_port", "dest_port",
                  "acl_rule_name", "date_time", "acl_policy_type"),
}
TARGET = 50_000


# ---- line generation


def pod_address(index: int) -> str:
    return f"10.{64 + index // 65536}.{index // 256 % 256}.{index % 256}"


def destination(rng: random.Random, destinations: int) -> str:
    """One of `destinations` hosts, or any public-looking address when 0."""
    if destinations:
        host = rng.randrange(destinations)
        return f"198.51.{host // 256 % 256}.{host % 256}"
    return f"{rng.choice((198, 203, 192))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


PORTS = (443, 443, 443, 53, 5432, 8443, 9092)


def flow_of(rng: random.Random, addresses: int, destinations: int) -> tuple[int, str, int, int]:
    """A flow's source index, destination, destination port, and a number that decides the rule
    and the action (the same flow always gets the same)."""
    source, dst, dport = rng.randrange(addresses), destination(rng, destinations), rng.choice(PORTS)
    return source, dst, dport, (source * 7919 + sum(map(ord, dst)) * 31 + dport) % 1000


def fortios_line(rng: random.Random, moment: datetime, index: int, addresses: int,
                 destinations: int) -> str:
    local = moment + timedelta(hours=2)
    nanos = int(moment.timestamp()) * 1_000_000_000 + rng.randrange(1_000_000_000)
    source, dst, dport, verdict = flow_of(rng, addresses, destinations)
    deny = verdict < 200
    policy = 0 if verdict < 100 else 100 + verdict % 40
    name = f' policyname="fc.{CLUSTER}.ns{policy % 20}.rule{policy}"' if policy else ""
    proto, service = (17, "DNS") if dport == 53 else (6, "HTTPS")
    return (
        f'<189>date={local:%Y-%m-%d} time={local:%H:%M:%S} devname="fgt-edge" devid="FG100E0000000001" '
        f'eventtime={nanos} tz="+0200" logid="0000000013" type="traffic" subtype="forward" '
        f'level="notice" vd="root" srcip={pod_address(source)} '
        f'srcport={rng.randrange(32768, 61000)} srcintf="port2" srcintfrole="lan" '
        f'dstip={dst} dstport={dport} dstintf="port1" dstintfrole="wan" srccountry="Reserved" '
        f'dstcountry="United States" '
        f'sessionid={rng.randrange(10**9)} proto={proto} action="{"deny" if deny else "close"}" '
        f'policyid={policy} policytype="policy" poluuid="ccb269e0-5735-51e9-a218-a397dd08b7eb"{name} '
        f'service="{service}" trandisp="snat" transip=192.0.2.1 transport={rng.randrange(1024, 65535)} '
        f'duration={rng.randrange(120)} sentbyte={rng.randrange(10**6)} rcvdbyte={rng.randrange(10**6)} '
        f'sentpkt={rng.randrange(1000)} rcvdpkt={rng.randrange(1000)} appcat="unscanned"'
    )


def afm_line(rng: random.Random, moment: datetime, index: int, addresses: int,
             destinations: int) -> str:
    source, dst, dport, verdict = flow_of(rng, addresses, destinations)
    src, sport = pod_address(source), rng.randrange(32768, 61000)
    action = ("Drop", "Reject", "Accept", "Accept", "Accept")[verdict % 5]
    rule = f"fc_{CLUSTER}_ns{verdict % 20}_rule{verdict % 40}"
    proto = "UDP" if dport == 53 else "TCP"
    stamp = f"{moment:%b %d %Y %H:%M:%S}"
    if index % 2:  # the "Splunk" destination
        return (
            f'action="{action}",hostname="bigip-dc1.example",bigip_mgmt_ip="10.99.88.207",'
            f'context_name="/Common/vs_egress",context_type="Virtual Server",date_time="{stamp}",'
            f'dest_ip="{dst}",dest_port="{dport}",device_product="Advanced Firewall Module",'
            f'device_vendor="F5",device_version="17.1.0",drop_reason="",errdefs_msgno="23003137",'
            f'errdefs_msg_name="Network Event",flow_id="0000000000000000",ip_protocol="{proto}",'
            f'severity="8",partition_name="Common",route_domain="0",acl_policy_name="/Common/fc",'
            f'acl_policy_type="Enforced",acl_rule_name="{rule}",source_ip="{src}",source_port="{sport}",'
            f'vlan="/Common/internal"'
        )
    return (
        f'{moment:%b %d %H:%M:%S} 10.99.5.207 1 {moment:%Y-%m-%dT%H:%M:%S}.000Z bigip-dc1.example tmm '
        f'14807 23003137 [F5@12276 acl_policy_name="/Common/fc" acl_policy_type="Enforced" '
        f'acl_rule_name="{rule}" action="{action}" hostname="bigip-dc1.example" '
        f'bigip_mgmt_ip="10.99.88.207" context_name="/Common/vs_egress" context_type="Virtual Server" '
        f'date_time="{stamp}" dest_ip="{dst}" dst_geo="US" dest_port="{dport}" '
        f'device_product="Advanced Firewall Module" device_vendor="F5" device_version="17.1.0" '
        f'drop_reason="Policy" errdefs_msgno="23003137" errdefs_msg_name="Network Event" '
        f'flow_id="0000000000000000" ip_protocol="{proto}" severity="8" partition_name="Common" '
        f'route_domain="0" sa_translation_pool="" sa_translation_type="" source_fqdn="" '
        f'source_ip="{src}" src_geo="No-lookup" source_port="{sport}" source_user="" '
        f'source_user_group="" translated_dest_ip="" translated_dest_port="" '
        f'translated_ip_protocol="" translated_route_domain="" translated_source_ip="" '
        f'translated_source_port="" translated_vlan="" vlan="/Common/internal"] {dst},{src},{sport},{dport}'
    )


GENERATORS: dict[str, tuple[str, Callable[[random.Random, datetime, int, int, int], str]]] = {
    "fortios": ("fgt-edge", fortios_line),
    "bigip-afm": ("bigip-dc1", afm_line),
}


def generate(fmt: str, count: int, addresses: int, seed: int = 7, destinations: int = 0,
             per_second: int = 50) -> list[str]:
    """`count` lines, `per_second` lines a second from T0."""
    rng = random.Random(seed)
    make = GENERATORS[fmt][1]
    return [make(rng, T0 + timedelta(seconds=index // per_second), index, addresses, destinations)
            for index in range(count)]


# ---- timing


def best_rate(run: Callable[[], Any], items: int, repeat: int) -> float:
    """Items per CPU second of this process (one thread runs) of the fastest of `repeat` runs, so
    that other load on the machine does not count; GC as in production (on)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return items / best


def full_parse(fmt: str, device: str, lines: Sequence[str]) -> Callable[[], list[FlowLine]]:
    parser = PARSERS[fmt]

    def run() -> list[FlowLine]:
        out = []
        for line in lines:
            message = parse_syslog(line)
            out.append(parser(message.body, device, message.time))
        return out

    return run


def parse_speed(fmt: str, lines: list[str], repeat: int) -> float:
    """Prints the parse figures; returns the fair bare pass's rate."""
    device = GENERATORS[fmt][0]
    parser = PARSERS[fmt]
    bodies = [(message.body, message.time) for message in map(parse_syslog, lines)]
    n = len(lines)

    def parser_only() -> None:
        for body, header_time in bodies:
            parser(body, device, header_time)

    def bare_split() -> None:
        for line in lines:
            line.split()

    same_fields = re.compile("[ ,]({})=(\"[^\"]*\"|[^ ,\\]\"]*)".format(
        "|".join(sorted(FIELDS[fmt], key=len, reverse=True))))

    def bare_regex() -> None:
        findall = same_fields.findall
        for line in lines:
            dict(findall(line))

    full = best_rate(full_parse(fmt, device, lines), n, repeat)
    alone = best_rate(parser_only, n, repeat)
    split = best_rate(bare_split, n, repeat)
    regex = best_rate(bare_regex, n, repeat)
    size = sum(map(len, lines)) / n
    print(f"{fmt}: {n} lines, {size:.0f} characters on average")
    print(f"  header + parser          {full:>10,.0f} lines/s")
    print(f"  parser alone             {alone:>10,.0f} lines/s")
    print(f"  bare regex, same fields  {regex:>10,.0f} lines/s   header+parser / bare = {full / regex:.2f}")
    print(f"  bare str.split()         {split:>10,.0f} lines/s   header+parser / bare = {full / split:.2f}")
    return regex


# ---- attribution and store (engineer B's modules, when present)


def optional(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def build_store(addresses: int) -> tuple[Any, Any, Path]:
    from connector.store import create_engine, migrate, session_factory

    path = Path(tempfile.mkdtemp(prefix="bench-flows-")) / "store.db"
    url = f"sqlite:///{path}"
    migrate(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    timeline_cls = optional("connector.store.timeline", "AddressTimeline")
    rule_map_cls = optional("connector.store.rule_map", "DeviceRuleMap")
    start = time.perf_counter()
    def owner(index: int, generation: int) -> FlowIdentity:
        name = f"pod-{index}-g{generation}"
        return FlowIdentity(cluster=CLUSTER, namespace=f"ns{(index + generation) % 20}", pod=name,
                            pod_uid=f"uid-{name}", services=(f"svc{(index + generation) % 50}",),
                            node=f"node{index % 30}")

    with sessions.begin() as session:
        timeline = timeline_cls(session, CLUSTER)
        for generation in range(4):  # three earlier holders of every address, then the current one
            timeline.apply([(pod_address(index), owner(index, generation)) for index in range(addresses)],
                           T0 - timedelta(hours=4 - generation))
        timeline.apply([(pod_address(index), owner(index, 4)) for index in range(0, addresses, 10)],
                       T0 - timedelta(minutes=5))
        if rule_map_cls is not None:
            rule_map = rule_map_cls(session, CLUSTER)
            fgt = {f"fc.{CLUSTER}.ns{policy % 20}.rule{policy}": FlowRule(
                "ServiceEgressRule", f"ns{policy % 20}", f"rule{policy}", "Namespace")
                for policy in range(100, 140)}
            rule_map.record("fgt-edge", fgt, T0 - timedelta(hours=1))
            afm = {f"fc_{CLUSTER}_ns{ns}_rule{rule}": FlowRule(
                "ServiceEgressRule", f"ns{ns}", f"rule{rule}", "Namespace")
                for ns in range(20) for rule in range(40)}
            rule_map.record("bigip-dc1", afm, T0 - timedelta(hours=1))
    print(f"store: a timeline of {addresses} addresses written in {time.perf_counter() - start:.1f} s "
          f"(SQLite {path})")
    return engine, sessions, path


def attribution_speed(lines_by_format: dict[str, list[str]], addresses: int, repeat: int,
                      bare_rates: dict[str, float], batch_lines: int) -> None:
    attributor_cls = optional("connector.flows.attribute", "Attributor")
    if attributor_cls is None:
        print("attribution: skipped (connector.flows.attribute.Attributor is not there yet)")
        return
    engine, sessions, _ = build_store(addresses)
    try:
        print("attribution: the Attributor's in-memory index (cached=True) is new for every format; "
              "its first batches read the store")
        for fmt, lines in lines_by_format.items():
            attributor = attributor_cls(sessions, CLUSTER, 2.0, cached=True)
            store_only = attributor_cls(sessions, CLUSTER, 2.0)
            device = GENERATORS[fmt][0]
            parse = full_parse(fmt, device, lines)
            parser = PARSERS[fmt]

            def run(lines: list[str] = lines, device: str = device, parser: Any = parser,
                    attributor: Any = attributor) -> None:
                for start in range(0, len(lines), batch_lines):
                    batch = []
                    for line in lines[start:start + batch_lines]:
                        message = parse_syslog(line)
                        batch.append(parser(message.body, device, message.time))
                    attributor.attribute(batch)

            rate = best_rate(run, len(lines), repeat)
            parsed = parse()

            def attribute_all(attributor: Any = attributor, parsed: list[FlowLine] = parsed) -> None:
                for start in range(0, len(parsed), batch_lines):
                    attributor.attribute(parsed[start:start + batch_lines])

            alone = best_rate(attribute_all, len(parsed), repeat)
            uncached = best_rate(lambda store_only=store_only: attribute_all(store_only), len(parsed), 1)
            records = attributor.attribute(parsed[:1000])
            if records != store_only.attribute(parsed[:1000]):
                print("  the cached and the store-backed records DIFFER")
            with_identity = sum(1 for record in records if record.identity is not None)
            with_rule = sum(1 for record in records if record.rule is not None)
            ambiguous = sum(1 for record in records if record.ambiguous)
            bare = bare_rates[fmt]
            verdict = "meets" if rate >= TARGET and rate >= bare / 3 else "MISSES"
            print(f"{fmt}: parsed + attributed {rate:>10,.0f} lines/s ({verdict} the targets: "
                  f"{TARGET:,} lines/s and a third of the bare pass, {bare / 3:,.0f})")
            print(f"  attribution alone {alone:,.0f} lines/s; store-backed path alone {uncached:,.0f} "
                  f"lines/s (batches of 1,000; of the first 1,000: {with_identity} with an identity, "
                  f"{ambiguous} ambiguous, {with_rule} with a rule; index: "
                  f"{attributor.timeline.entries} addresses, {attributor.rules.entries} references)")
    finally:
        engine.dispose()


def store_growth(fmt: str, addresses: int, store_lines: int, sources: int, destinations: int,
                 per_second: int) -> None:
    """Record `store_lines` fresh lines, `per_second` a second, from `sources` of the timeline's
    addresses to `destinations` hosts (0: any)."""
    attributor_cls = optional("connector.flows.attribute", "Attributor")
    repository_cls = optional("connector.store.flow_records", "FlowRecordRepository")
    if attributor_cls is None or repository_cls is None:
        print("store growth: skipped (Attributor or FlowRecordRepository is not there yet)")
        return
    engine, sessions, path = build_store(addresses)
    try:
        attributor = attributor_cls(sessions, CLUSTER, 2.0)
        device = GENERATORS[fmt][0]
        parser = PARSERS[fmt]
        lines = generate(fmt, store_lines, sources, seed=11, destinations=destinations,
                         per_second=per_second)
        size_before = _db_bytes(path)
        start = time.perf_counter()
        for offset in range(0, len(lines), 1000):
            batch = [parser(message.body, device, message.time)
                     for message in map(parse_syslog, lines[offset:offset + 1000])]
            records = attributor.attribute(batch)
            with sessions.begin() as session:
                repository_cls(session, CLUSTER).add(records)
        elapsed = time.perf_counter() - start
        grown = _db_bytes(path) - size_before
        with engine.connect() as connection:
            from sqlalchemy import text

            rows = connection.execute(text("SELECT count(*) FROM flow_records")).scalar_one()
        towards = f"{destinations} destinations" if destinations else "random destinations"
        print(f"store growth ({fmt}, {len(lines)} lines over {len(lines) // per_second} s from {sources} "
              f"addresses to {towards}, stored in {elapsed:.1f} s): {rows} records, "
              f"{grown / 1e6:.1f} MB: {grown / len(lines):,.0f} MB per million lines "
              f"({grown / max(rows, 1):,.0f} bytes a record)")
    except Exception as error:  # an unfinished store must not hide the other figures
        print(f"store growth: failed ({type(error).__name__}: {error})")
    finally:
        engine.dispose()


def _db_bytes(path: Path) -> int:
    return sum(candidate.stat().st_size for candidate in path.parent.glob(path.name + "*"))


# ---- flood


def _flood(address: tuple[str, int], payloads: list[bytes], count: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for index in range(count):
            sock.sendto(payloads[index % len(payloads)], address)


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def flood(lines: list[str], count: int, max_pending: int, sink_delay: float, traced: bool) -> None:
    """Offer `count` datagrams through a real receiver; the sink sleeps `sink_delay` per batch."""
    payloads = [line.encode() for line in lines[:20000]]
    delivered = [0]
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def sink(batch: list[FlowLine]) -> None:
        delivered[0] += len(batch)
        if sink_delay:
            time.sleep(sink_delay)

    def count_lines(device: str, result: str, n: int) -> None:
        with lock:
            counts[result] = counts.get(result, 0) + n

    gc.collect()
    rss_before = _rss_kib("VmRSS")
    if traced:
        tracemalloc.start()
    receiver = SyslogReceiver(("127.0.0.1", 0), [Sender("fgt-edge", ("127.0.0.1",), "fortios")], sink,
                              count=count_lines, max_pending_lines=max_pending)
    receiver.start()
    context = multiprocessing.get_context("fork")
    sender = context.Process(target=_flood, args=(receiver.address, payloads, count))
    start = time.perf_counter()
    sender.start()
    peak_pending = 0
    while sender.is_alive():
        peak_pending = max(peak_pending, receiver.pending_lines)
        time.sleep(0.01)
    sent_in = time.perf_counter() - start
    if not sink_delay:
        while receiver.pending_lines:
            time.sleep(0.01)
        time.sleep(0.3)
    _, peak = tracemalloc.get_traced_memory() if traced else (0, 0)
    receiver.stop()  # what still waits is counted shed
    tracemalloc.stop()
    rss_peak = _rss_kib("VmHWM")
    shed = counts.get("shed", 0)
    malformed = counts.get("malformed", 0)
    lost = count - delivered[0] - shed - malformed
    sink_text = f"a sink sleeping {sink_delay * 1000:.0f} ms per batch" if sink_delay else "a counting sink"
    print(f"flood ({sink_text}, max_pending_lines={max_pending}, tracemalloc {'on' if traced else 'off'}): "
          f"{count} datagrams in {sent_in:.1f} s ({count / sent_in:,.0f}/s)")
    print(f"  delivered {delivered[0]} ({delivered[0] / sent_in:,.0f}/s), shed {shed} (under load or "
          f"waiting at stop), malformed {malformed}, lost in the kernel {lost}; "
          f"queue high-water {peak_pending}")
    traced_text = f"tracemalloc peak {peak / 1e6:.1f} MB; " if traced else ""
    print(f"  {traced_text}RSS {rss_before / 1024:.0f} MB before, process high-water "
          f"{rss_peak / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--addresses", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--flood", type=int, default=200_000)
    parser.add_argument("--max-pending", type=int, default=20_000)
    parser.add_argument("--flood-pending", type=int, default=10_000,
                        help="max_pending_lines of the receiver with the slow sink")
    parser.add_argument("--store-lines", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000,
                        help="lines per attribution batch (the receiver hands 1,000 at a time; the "
                             "pipeline's worker takes up to 5,000 waiting lines when it falls behind)")
    parser.add_argument("--skip-attribution", action="store_true")
    parser.add_argument("--skip-flood", action="store_true")
    parser.add_argument("--skip-store", action="store_true")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; one thread parses")
    lines_by_format = {fmt: generate(fmt, args.lines, args.addresses) for fmt in GENERATORS}
    bare_rates = {fmt: parse_speed(fmt, lines, args.repeat) for fmt, lines in lines_by_format.items()}
    if not args.skip_attribution:
        attribution_speed(lines_by_format, args.addresses, args.repeat, bare_rates, args.batch)
    if not args.skip_flood:
        flood(lines_by_format["fortios"], args.flood, args.max_pending, 0.0, traced=False)
        flood(lines_by_format["fortios"], args.flood, args.max_pending, 0.0, traced=True)
        flood(lines_by_format["fortios"], args.flood, args.flood_pending, 0.05, traced=True)
    if not args.skip_store:
        store_growth("fortios", args.addresses, args.store_lines, args.addresses, 0, 1000)
        store_growth("fortios", args.addresses, args.store_lines, 200, 20, 1000)


if __name__ == "__main__":
    main()
