"""The pods, Services and EndpointSlices of one namespace, indexed so that a change costs what it
touches, not the size of the namespace.

`NamespaceWorkloads` keeps:
- the pods (`PodInfo`), and for pod source mode the namespace's members (address -> the active
  pods holding it), updated per pod change; `members()` is the group's member tuple;
- the Services, and per Service the endpoint addresses of its EndpointSlices (counted per slice),
  so a Service's pods are found from its endpoints instead of scanning every pod;
- the active pods on the host network (`host_pods()`): they hold no member address, their
  addresses are indexed apart so that a Service still finds them among its endpoints;
- a `WorkloadDelta` of what changed since `take_delta()`: the old and new versions of changed pods,
  the Services whose endpoints or pods may have changed, and the member addresses added and
  removed (net), which the compiler uses to recompute only the rules a change can affect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.compiler.addresses import Members, PodInfo, SliceInfo
from connector.model import Identity


@dataclass
class WorkloadDelta:
    """What changed in a namespace's workloads since the last `take_delta()`."""

    pods: list[PodInfo] = field(default_factory=list)  # old and new versions of changed pods
    services: set[str] = field(default_factory=set)
    added: set[str] = field(default_factory=set)  # pod-mode member addresses that appeared
    removed: set[str] = field(default_factory=set)  # and that disappeared

    def __bool__(self) -> bool:
        return bool(self.pods or self.services or self.added or self.removed)


class _Index:
    """A multimap of strings that keeps a lone value as itself, without a set: most addresses
    belong to one pod and one Service, and 100,000 one-element sets cost tens of MiB."""

    __slots__ = ("_map",)

    def __init__(self) -> None:
        self._map: dict[str, str | set[str]] = {}

    def get(self, key: str) -> tuple[str, ...] | set[str]:
        found = self._map.get(key)
        if found is None:
            return ()
        return (found,) if isinstance(found, str) else found

    def add(self, key: str, value: str) -> bool:
        """Add `value` under `key`; True when `key` had nothing before."""
        found = self._map.get(key)
        if found is None:
            self._map[key] = value
            return True
        if isinstance(found, str):
            if found != value:
                self._map[key] = {found, value}
        else:
            found.add(value)
        return False

    def discard(self, key: str, value: str) -> bool:
        """Remove `value` from `key`; True when `key` is left with nothing."""
        found = self._map.get(key)
        if found is None:
            return False
        if isinstance(found, str):
            if found != value:
                return False
            del self._map[key]
            return True
        found.discard(value)
        if len(found) == 1:
            self._map[key] = next(iter(found))
        return False


class NamespaceWorkloads:
    """See the module docstring. Not thread-safe (the compiler runs on one thread)."""

    def __init__(self) -> None:
        self.pods: dict[str, PodInfo] = {}
        self.services: set[str] = set()
        self.slices: dict[str, SliceInfo] = {}
        self._endpoints: dict[str, dict[str, int]] = {}  # service -> address -> slices listing it
        self._services_of = _Index()  # endpoint address -> services
        self._holders = _Index()  # address -> active pods holding it
        self._host_holders = _Index()  # address -> active host network pods holding it
        self._host: dict[str, PodInfo] = {}  # active host network pods by name
        # address -> (address, the pods holding it as identities): the member tuple, kept as long as
        # its holders do not change, so that consumers recognise unchanged members by identity
        self._entries: dict[str, tuple[str, tuple[Identity, ...]]] = {}
        self._members: Members | None = ()
        self._ipv6 = 0  # member addresses that are IPv6
        self.delta = WorkloadDelta()

    # ------------------------------------------------------------------ updates
    def put_pod(self, name: str, info: PodInfo | None) -> None:
        old = self.pods.pop(name, None)
        if info is not None:
            self.pods[name] = info
        if old == info:
            return
        for pod in (old, info):
            if pod is not None:
                self.delta.pods.append(pod)
                for ip in pod.ips:
                    self.delta.services.update(self._services_of.get(ip))
        if old is not None:
            if old.host_network:
                self._host.pop(name, None)
                for ip in old.ips:
                    self._host_holders.discard(ip, name)
            else:
                for ip in old.ips:
                    self._release(ip, name, old)
        if info is not None:
            if info.host_network:
                if info.ips:  # active, with an address
                    self._host[name] = info
                for ip in info.ips:
                    self._host_holders.add(ip, name)
            else:
                for ip in info.ips:
                    self._hold(ip, name, info)

    def put_slice(self, name: str, info: SliceInfo | None) -> None:
        old = self.slices.pop(name, None)
        if info is not None:
            self.slices[name] = info
        if old == info:
            return
        if old is not None:
            self.delta.services.add(old.service)
            counts = self._endpoints[old.service]
            for address in old.addresses:
                counts[address] -= 1
                if not counts[address]:
                    del counts[address]
                    self._services_of.discard(address, old.service)
            if not counts:
                del self._endpoints[old.service]
        if info is not None:
            self.delta.services.add(info.service)
            counts = self._endpoints.setdefault(info.service, {})
            for address in info.addresses:
                counts[address] = counts.get(address, 0) + 1
                self._services_of.add(address, info.service)

    def put_service(self, name: str, present: bool) -> None:
        if present == (name in self.services):
            return
        if present:
            self.services.add(name)
        else:
            self.services.discard(name)
        self.delta.services.add(name)

    def take_delta(self) -> WorkloadDelta:
        delta, self.delta = self.delta, WorkloadDelta()
        return delta

    # ------------------------------------------------------------------ queries
    def members(self) -> Members:
        """Pod IPs of the active pods, each with the pods holding it (as `pod_members` builds them)."""
        if self._members is None:
            self._members = tuple(sorted(self._entries.values()))
        return self._members

    @property
    def has_ipv6(self) -> bool:
        return self._ipv6 > 0

    def active_pods(self) -> list[PodInfo]:
        return [pod for pod in self.pods.values() if pod.active]

    def service_pods(self, service: str) -> list[PodInfo]:
        """The active pods holding an endpoint address of `service` (ready or not), host network
        pods included."""
        endpoints = self._endpoints.get(service, ())
        names = {pod for address in endpoints for pod in self._holders.get(address)}
        if self._host:
            names.update(pod for address in endpoints for pod in self._host_holders.get(address))
        return [self.pods[name] for name in sorted(names)]

    def services_of(self, address: str) -> tuple[str, ...]:
        """The Services whose EndpointSlices list `address`, sorted."""
        return tuple(sorted(self._services_of.get(address)))

    def host_pods(self) -> list[PodInfo]:
        """The active pods on the host network that have an address, by name."""
        return [self._host[name] for name in sorted(self._host)]

    # ------------------------------------------------------------------ internals
    def _hold(self, ip: str, name: str, pod: PodInfo) -> None:
        if self._holders.add(ip, name):
            self._note(ip, added=True)
        mine = next(member for member in pod.members if member[0] == ip)
        entry = self._entries.get(ip)
        self._entries[ip] = mine if entry is None else (ip, tuple(sorted({*entry[1], *mine[1]})))
        self._members = None

    def _release(self, ip: str, name: str, pod: PodInfo) -> None:
        if name not in self._holders.get(ip):
            return
        self._members = None
        if self._holders.discard(ip, name):
            del self._entries[ip]
            self._note(ip, added=False)
            return
        holders = self._holders.get(ip)
        kept = [member for other in sorted(holders) for member in self.pods[other].members if member[0] == ip]
        merged = (ip, tuple(sorted({identity for member in kept for identity in member[1]})))
        self._entries[ip] = kept[0] if len(kept) == 1 else merged

    def _note(self, ip: str, *, added: bool) -> None:
        delta = self.delta
        if ":" in ip:
            self._ipv6 += 1 if added else -1
        if added:
            if ip in delta.removed:
                delta.removed.discard(ip)
            else:
                delta.added.add(ip)
        elif ip in delta.added:
            delta.added.discard(ip)
        else:
            delta.removed.add(ip)
