"""The address timeline's feed: who holds each source address now, from the watch stream, and
the writes that keep the store's timeline (connector/store/timeline.py) in step.

`AddressBook` (pure, on the reconcile loop's thread, after the compiler took the same changes)
knows, for every source address the connector sees, the identity holding it:
- a pod's addresses (every `status.podIPs` entry) while the pod is active and not on the host
  network: namespace, pod name and uid, node, the Services whose EndpointSlices list any of the
  pod's addresses, source mode `pod`;
- the egress IPs of namespaces in source mode `egress-ip`: the namespace (empty when several
  namespaces share the address), source mode `egress-ip`;
- node InternalIPs: the node, and the namespace when exactly one namespace is in source mode
  `node` (else empty: the address stands for every node-mode namespace's pods on the node),
  source mode `node`.
A pod's claim wins over an egress IP's, which wins over a node's; of pods claiming one address
(a terminating pod's stale status), one not being deleted, then the first by namespace and name.
Nodes listing one address: the first by name. `apply(changes)` costs what the changes touch (a
Namespace or EgressIP change re-reads the namespaces' settings, a change of the node-mode
namespace every node address); `rebuild(view)` (after a full compile) recomputes everything.
Both return the addresses whose holder changed.

Each change also says `since` when the new holder really began to hold the address, which may be
before the connector saw it (it started after the holder, a log arrives late): for a pod its start
(`connector.compiler.addresses.pod_started`: the later of creationTimestamp and status.startTime,
both before its sandbox got the address); for a node's addresses and an egress IP, the
creationTimestamp of the Node, or of the Namespace (annotation) and the EgressIP object, for
objects this book sees for the first time (an address a known node or namespace gains later is
dated when seen: the object's age says nothing of it). The store starts the interval there, never
before the address's previous interval ended (`AddressTimeline.apply`).

`TimelineWriter` (its own thread) writes those changes to the store while this process leads
(only the leader writes the timeline), and `reconcile(holders)` makes the store's open intervals
equal to a complete picture: intervals of addresses no longer held are closed, others opened,
identical ones left alone, so a restart or a new leader re-listing the cluster adds no duplicate
interval (what changed while no leader was writing is dated when the next leader reconciles).
`TimelineFeed` ties both to the reconcile loop.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from connector.cluster import ClusterView, Kind, Obj, ObjectChange
from connector.compiler.addresses import epoch_seconds, node_addresses, read_pod, read_slice
from connector.compiler.namespaces import NamespaceInfo
from connector.flows.record import FlowIdentity
from connector.store.timeline import AddressTimeline

log = logging.getLogger(__name__)

PodKey = tuple[str, str]  # (namespace, name)


class SourceFacts(Protocol):
    """What the compiler knows that the book needs (`connector.compiler.Compiler` provides it)."""

    def namespace_settings(self) -> Mapping[str, NamespaceInfo]: ...

    def services_of(self, namespace: str, address: str) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class AddressChange:
    """`address` is held by `identity` from now on (None: by nobody); `since`, when known, is when
    the holder began to hold it (see the module docstring)."""

    address: str
    identity: FlowIdentity | None
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Pod:
    uid: str
    node: str
    ips: tuple[str, ...]
    terminating: bool
    started: int  # epoch seconds, 0 when unknown


ObjectKey = tuple[Kind, str]  # a Namespace, EgressIP or Node by name


def created(obj: Obj | None) -> int:
    """An object's creationTimestamp as epoch seconds (0 when absent or unreadable)."""
    return epoch_seconds(((obj or {}).get("metadata") or {}).get("creationTimestamp"))


def _moment(seconds: int) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


class AddressBook:
    """Who holds each source address now (see the module docstring). Not thread-safe."""

    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self._reset()

    def _reset(self) -> None:
        self.holders: dict[str, FlowIdentity] = {}
        self._pods: dict[PodKey, _Pod] = {}
        self._pod_at: dict[str, set[PodKey]] = {}  # address -> the pods claiming it
        self._node_addresses: dict[str, tuple[str, ...]] = {}
        self._node_at: dict[str, set[str]] = {}  # address -> the nodes listing it
        self._egress_at: dict[str, str] = {}  # egress IP -> its namespace ("" when shared)
        self._node_namespace = ""
        self._created: dict[ObjectKey, int] = {}  # Namespaces, EgressIPs and Nodes seen
        self._node_since: dict[tuple[str, str], int] = {}  # (node, address) listed when first seen
        self._egress_since: dict[str, int] = {}  # egress IP -> since (0: when seen)

    # ------------------------------------------------------------------ updates
    def apply(self, changes: Iterable[ObjectChange], facts: SourceFacts) -> list[AddressChange]:
        """Take a batch of watch changes (already given to the compiler behind `facts`)."""
        touched: set[str] = set()
        settings_changed = False
        fresh: set[ObjectKey] = set()
        for change in changes:
            if change.kind == Kind.POD:
                touched |= self._put_pod((change.namespace, change.name), change.new)
            elif change.kind == Kind.ENDPOINT_SLICE:
                for obj in (change.old, change.new):
                    if obj is not None:
                        touched.update(read_slice(obj).addresses)
            elif change.kind == Kind.NODE:
                touched |= self._put_node(change.name, change.new, self._note(change.kind, change.name,
                                                                             change.new))
            elif change.kind in (Kind.NAMESPACE, Kind.EGRESS_IP):
                settings_changed = True
                if self._note(change.kind, change.name, change.new):
                    fresh.add((change.kind, change.name))
        if settings_changed:
            touched |= self._read_settings(facts, fresh)
        return self._settle(touched, facts)

    def rebuild(self, view: ClusterView, facts: SourceFacts) -> list[AddressChange]:
        """Recompute everything from `view` (after a full compile of the same view)."""
        before = self.holders
        known, node_since = self._created, self._node_since
        egress_at, egress_since = self._egress_at, self._egress_since
        self._reset()
        for obj in view.list(Kind.POD):
            meta = obj.get("metadata") or {}
            self._put_pod((meta.get("namespace") or "", meta.get("name") or ""), obj)
        for obj in view.list(Kind.NODE):
            name = (obj.get("metadata") or {}).get("name") or ""
            is_fresh = (Kind.NODE, name) not in known
            self._created[(Kind.NODE, name)] = created(obj)
            self._put_node(name, obj, is_fresh)
            if not is_fresh:  # a node known before keeps the dates of the addresses it had
                self._node_since.update({(name, address): node_since[(name, address)]
                                         for address in self._node_addresses.get(name, ())
                                         if (name, address) in node_since})
        fresh: set[ObjectKey] = set()
        for kind in (Kind.NAMESPACE, Kind.EGRESS_IP):
            for obj in view.list(kind):
                name = (obj.get("metadata") or {}).get("name") or ""
                self._created[(kind, name)] = created(obj)
                if (kind, name) not in known:
                    fresh.add((kind, name))
        self._egress_at, self._egress_since = egress_at, egress_since  # unchanged claims keep theirs
        self._read_settings(facts, fresh)
        self._settle(set(self._pod_at) | set(self._node_at) | set(self._egress_at), facts)
        changes = [AddressChange(address, None) for address in sorted(before) if address not in self.holders]
        changes += [AddressChange(address, identity, _moment(self.since_of(address)))
                    for address, identity in sorted(self.holders.items()) if before.get(address) != identity]
        return changes

    def _put_pod(self, key: PodKey, obj: Obj | None) -> set[str]:
        old = self._pods.pop(key, None)
        new = None
        if obj is not None:
            info = read_pod(obj, key[0])
            if info.active and not info.host_network and info.ips:
                meta = obj.get("metadata") or {}
                new = _Pod(str(meta.get("uid") or ""), info.node, info.ips,
                           meta.get("deletionTimestamp") is not None, info.started)
                self._pods[key] = new
        touched: set[str] = set()
        for ip in old.ips if old is not None else ():
            claims = self._pod_at.get(ip, set())
            claims.discard(key)
            if not claims:
                self._pod_at.pop(ip, None)
            touched.add(ip)
        for ip in new.ips if new is not None else ():
            self._pod_at.setdefault(ip, set()).add(key)
            touched.add(ip)
        return touched

    def _note(self, kind: Kind, name: str, obj: Obj | None) -> bool:
        """Record (or forget, when deleted) a Namespace's, EgressIP's or Node's creation time;
        whether this book sees the object for the first time."""
        if obj is None:
            self._created.pop((kind, name), None)
            return False
        is_fresh = (kind, name) not in self._created
        self._created[(kind, name)] = created(obj)
        return is_fresh

    def _put_node(self, name: str, obj: Obj | None, fresh: bool) -> set[str]:
        """`fresh`: the node is new to this book, so the addresses it lists date from its creation."""
        old = self._node_addresses.pop(name, ())
        new = node_addresses(obj) if obj is not None else ()
        for address in old:
            nodes = self._node_at.get(address, set())
            nodes.discard(name)
            if not nodes:
                self._node_at.pop(address, None)
            if address not in new:
                self._node_since.pop((name, address), None)
        if fresh:
            since = self._created.get((Kind.NODE, name), 0)
            self._node_since.update({(name, address): since for address in new if since})
        if new:
            self._node_addresses[name] = new
            for address in new:
                self._node_at.setdefault(address, set()).add(name)
        return set(old) | set(new)

    def _read_settings(self, facts: SourceFacts, fresh: set[ObjectKey]) -> set[str]:
        """Re-read the egress IPs and the node-mode namespace; the addresses whose claim changed.
        An egress IP newly claimed through a Namespace or EgressIP in `fresh` (new to this book)
        dates from the later of the two objects' creation; one several namespaces claim, from
        the earliest of theirs."""
        settings = facts.namespace_settings()
        egress: dict[str, str] = {}
        dates: dict[str, list[int]] = {}
        node_mode: list[str] = []
        for name, info in settings.items():
            if info.mode == "egress-ip":
                for address, members in info.egress_ips:
                    egress[address] = name if egress.get(address, name) == name else ""
                    objects = [(Kind.NAMESPACE, name)] + [(Kind.EGRESS_IP, member.name) for member in members
                                                          if member.kind == "EgressIP"]
                    new = any(key in fresh for key in objects)
                    dates.setdefault(address, []).append(
                        max(self._created.get(key, 0) for key in objects) if new else 0)
            elif info.mode == "node":
                node_mode.append(name)
        touched = {address for address in set(egress) | set(self._egress_at)
                   if egress.get(address) != self._egress_at.get(address)}
        self._egress_since = {address: self._egress_since.get(address, 0) if address not in touched
                              else min(dates[address]) for address in egress}
        self._egress_at = egress
        node_namespace = node_mode[0] if len(node_mode) == 1 else ""
        if node_namespace != self._node_namespace:
            self._node_namespace = node_namespace
            touched |= set(self._node_at)
        return touched

    def _settle(self, touched: Iterable[str], facts: SourceFacts) -> list[AddressChange]:
        addresses = set(touched)
        for address in list(addresses):  # a pod's Services are those of all its addresses
            for claim in self._pod_at.get(address, ()):
                addresses.update(self._pods[claim].ips)
        changes = []
        for address in sorted(addresses):
            identity = self._holder(address, facts)
            if identity == self.holders.get(address):
                continue
            if identity is None:
                del self.holders[address]
            else:
                self.holders[address] = identity
            changes.append(AddressChange(address, identity, _moment(self.since_of(address))))
        return changes

    def since_of(self, address: str) -> int:
        """When the holder of `address` began to hold it (epoch seconds; 0 when unknown or not
        held): see the module docstring."""
        claims = self._pod_at.get(address)
        if claims:
            return self._pods[self._claimant(claims)].started
        if address in self._egress_at:
            return self._egress_since.get(address, 0)
        nodes = self._node_at.get(address)
        if nodes:
            return self._node_since.get((min(nodes), address), 0)
        return 0

    def _claimant(self, claims: set[PodKey]) -> PodKey:
        """Of several pods claiming an address (a terminating pod's stale status), one not being
        deleted, then the first by namespace and name."""
        if len(claims) == 1:
            return next(iter(claims))
        return min(claims, key=lambda key: (self._pods[key].terminating, key))

    def _holder(self, address: str, facts: SourceFacts) -> FlowIdentity | None:
        claims = self._pod_at.get(address)
        if claims:
            namespace, name = self._claimant(claims)
            pod = self._pods[(namespace, name)]
            services = sorted({service for ip in pod.ips for service in facts.services_of(namespace, ip)})
            return FlowIdentity(cluster=self.cluster, namespace=namespace, pod=name, pod_uid=pod.uid,
                                services=tuple(services), node=pod.node, source_mode="pod")
        if address in self._egress_at:
            return FlowIdentity(cluster=self.cluster, namespace=self._egress_at[address],
                                source_mode="egress-ip")
        nodes = self._node_at.get(address)
        if nodes:
            return FlowIdentity(cluster=self.cluster, namespace=self._node_namespace, node=min(nodes),
                                source_mode="node")
        return None


# ---------------------------------------------------------------------- writing the store
@dataclass(frozen=True)
class _Changes:
    changes: tuple[AddressChange, ...]
    at: datetime


@dataclass(frozen=True)
class _Reconcile:
    holders: Mapping[str, FlowIdentity]
    at: datetime
    since: Mapping[str, int]


def write_changes(timeline: AddressTimeline, changes: Iterable[AddressChange], at: datetime) -> int:
    """Open or close the interval of each changed address at `at` (in a few statements; a new
    holder's interval starts at its `since` when earlier, see `AddressTimeline.apply`); returns
    how many addresses changed holder in the store."""
    changes = list(changes)
    return timeline.apply([(change.address, change.identity) for change in changes], at,
                          since={change.address: change.since for change in changes if change.since})


def reconcile(timeline: AddressTimeline, holders: Mapping[str, FlowIdentity], at: datetime,
              since: Mapping[str, int] | None = None) -> int:
    """Make the open intervals equal `holders` (a complete picture) at `at`: close those of
    addresses not held, open those whose holder differs, from `since[address]` (epoch seconds)
    when earlier (see `AddressTimeline.apply`); returns the number of writes."""
    rows = timeline.open_intervals()  # one read: the writes need no other
    stored = {address: timeline.identity_of(row) for address, row in rows.items()}
    changes: list[tuple[str, FlowIdentity | None]] = [
        (address, None) for address in sorted(stored) if address not in holders]
    changes += [(address, identity) for address, identity in sorted(holders.items())
                if stored.get(address) != identity]
    began = since or {}
    return timeline.apply(changes, at, stored=rows,
                          since={address: _moment(began.get(address, 0)) for address, _ in changes})


class TimelineWriter:
    """Writes address changes and reconciliations to the store on its own thread, in the order
    given, while `leading()`; what arrives while not leading is dropped (the next leader
    reconciles). A failed write is logged; the next reconciliation repairs it."""

    def __init__(self, sessions: sessionmaker[Session], cluster: str, leading: Callable[[], bool]) -> None:
        self.sessions = sessions
        self.cluster = cluster
        self.leading = leading
        self.writes = 0
        self.failures = 0
        self.reconciliations = 0  # made while leading
        self._queue: queue.Queue[_Changes | _Reconcile | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="timeline-writer", daemon=True)
        self._idle = threading.Condition()
        self._pending = 0

    def start(self) -> TimelineWriter:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued, then end the thread."""
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def changes(self, changes: Sequence[AddressChange], at: datetime) -> None:
        if changes:
            self._put(_Changes(tuple(changes), at))

    def reconcile(self, holders: Mapping[str, FlowIdentity], at: datetime,
                  since: Mapping[str, int] | None = None) -> None:
        """`since`: when each holder began to hold its address (epoch seconds), see `reconcile`."""
        self._put(_Reconcile(dict(holders), at, dict(since or {})))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is written (or dropped); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _put(self, item: _Changes | _Reconcile) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(item)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                if self.leading():
                    self._write(item)
            except Exception:  # the store may be down: the next reconciliation repairs it
                self.failures += 1
                log.exception("writing the address timeline failed")
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _write(self, item: _Changes | _Reconcile) -> None:
        with self.sessions.begin() as session:
            timeline = AddressTimeline(session, self.cluster)
            if isinstance(item, _Changes):
                self.writes += write_changes(timeline, item.changes, item.at)
            else:
                self.writes += reconcile(timeline, item.holders, item.at, item.since)
        if isinstance(item, _Reconcile):
            self.reconciliations += 1


class TimelineFeed:
    """The reconcile loop's side (its thread only): `changed` after each incremental compile,
    `rebuilt` after each full compile, `leading` when this process becomes the leader."""

    def __init__(self, book: AddressBook, writer: TimelineWriter, facts: SourceFacts) -> None:
        self.book = book
        self.writer = writer
        self.facts = facts

    def changed(self, changes: Sequence[ObjectChange], seen: float | None = None) -> None:
        """A batch the compiler took; `seen` is when it was seen (`time.monotonic()`)."""
        self.writer.changes(self.book.apply(changes, self.facts), wall_time(seen))

    def rebuilt(self, view: ClusterView) -> None:
        """After a full compile of `view`: recompute, and reconcile the store with the result."""
        self.book.rebuild(view, self.facts)
        self._reconcile()

    def leading(self) -> None:
        """This process leads now: reconcile the store with what the book holds."""
        self._reconcile()

    def _reconcile(self) -> None:
        since = {address: began for address in self.book.holders if (began := self.book.since_of(address))}
        self.writer.reconcile(self.book.holders, wall_time(None), since)


def wall_time(monotonic: float | None) -> datetime:
    """The UTC time of a `time.monotonic()` reading (now when None)."""
    now = datetime.now(UTC)
    if monotonic is None:
        return now
    return now - timedelta(seconds=max(0.0, time.monotonic() - monotonic))
