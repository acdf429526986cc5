"""The FortiOS adapter (docs/adapters.md, FortiGate) on top of `renderer`, `wire` and `client`.

Contract beyond `connector.adapter.Adapter`:
- `render` is incremental (`adapters.fortios.renderer.Renderer`): a render after a small change of
  the state costs O(the change); its output equals a fresh render of the same state. Groups hold
  at most `capacity.groupMembers` members.
- IPv6 (`ipv6=True`): address6/addrgrp6 objects and policies' srcaddr6/dstaddr6 (FortiOS 6.4+
  consolidated `firewall/policy`; `firewall/policy6` of older releases is not used).
- `read` returns every address, addrgrp, address6, addrgrp6, custom service and policy of the VDOM
  (ours and foreign, each with the mark found in its comment), policies in evaluation order; it
  remembers policy ids and the address pieces we own so `render` can reuse them (call `read`
  before `render` for O(1) membership changes; rendering without a read is still correct, it
  collapses from scratch).
  `observe(objects)` (what the device is known to hold when a sync skips the read) remembers the
  same pieces from `objects`, parsing only addresses it has not seen with that body; policy ids are
  kept from the last read and our own writes (objects carry none). `apply` keeps both up to date
  with what it creates, updates and deletes.
- `apply` follows the plan's phases (creates/updates kind by kind, then deletes) and runs each
  phase's independent changes with up to `concurrency` requests in flight: addresses together,
  addrgrps (and addrgrp6s) level by level (children first when creating, parents first when
  deleting), services together, policy updates and deletes together, policy creates one by one
  in desired order (the device appends each new policy, so the block needs no moves). The first
  error ends the apply after the requests in flight; the next read records what was made. An
  addrgrp (or addrgrp6) UPDATE becomes
  member-table operations (adds first, then removes, so a group is never empty; a remove goes
  before an add that would exceed `capacity.groupMembers`) plus a PUT only
  when the comment changed. Whenever a policy changed it places our policies as one block in
  desired order before `placement.before` (or at the top) with `action=move`, moving only
  policies that are out of place; other clusters' blocks may stand between ours and the anchor
  and are never split (`adapters.fortios.placement`).
- Concurrency: FortiOS publishes no request quota (httpsd is bounded by the device's CPU) and
  parallel bursts have drawn HTTP 429, which is retried with backoff; the default of
  `DEFAULT_CONCURRENCY` requests in flight is safe on small models, 8-16 suits larger ones.
- Never sends a DELETE to a collection URL. The token is sent as `Authorization: Bearer`, never logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from adapters.base.http import DeviceHttp, RetryPolicy, tls_verify
from adapters.fortios import render as r
from adapters.fortios.capacity import table_usage as fortios_tables
from adapters.fortios.client import FortiOSClient
from adapters.fortios.config import FortiOSDevice
from adapters.fortios.known import PieceLedger
from adapters.fortios.placement import block_moves
from adapters.fortios.renderer import Renderer
from adapters.fortios.wire import from_device, owner_of, to_wire
from connector.adapter import Adapter, ApplyResult, DeviceError, PermanentDeviceError, RuleNumbers
from connector.config import Secrets
from connector.model import Capabilities, DeviceState
from connector.planner.capacity import TableUsage
from connector.planner.types import Change, DeviceObject, Op, Plan

log = logging.getLogger(__name__)

# Read from the device on one of our policies when our block is not where the placement puts it;
# the rendered body has no such key, so the plan shows an update and the apply places the block.
MISPLACED_KEY = "position"
MISPLACED = "out of place"
DEFAULT_CONCURRENCY = 4


class FortiOSAdapter(Adapter):
    type_name = "fortios"
    # wildcard FQDNs: a `type fqdn` address whose fqdn is `*.example.com` (FortiOS 6.2.2 and later)
    capabilities: ClassVar[Capabilities] = Capabilities(fqdn=True, wildcard_fqdn=True, ipv6=True,
                                                        logging=True, incremental_members=True)
    kind_order: ClassVar[tuple[str, ...]] = r.KIND_ORDER
    ordered_kinds: ClassVar[frozenset[str]] = frozenset({r.POLICY})
    # a group cannot be empty: it holds the predefined `none` (0.0.0.0/32, IPv6 ::/128); a policy
    # matches none (`emptied` sets srcaddr6 too when the policy has an IPv6 pair)
    emptied_fields: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        r.ADDRGRP: {"member": ["none"]}, r.ADDRGRP6: {"member": ["none"]},
        r.POLICY: {"srcaddr": ["none"], MISPLACED_KEY: None}}

    def __init__(self, config: FortiOSDevice, cluster: str, secrets: Secrets,
                 transport: httpx.BaseTransport | None = None, *, retry: RetryPolicy | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY) -> None:
        super().__init__(config.name, cluster)
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.config = config
        self.concurrency = concurrency
        token = secrets.get(config.auth.token_env, f"device {config.name} API token")
        verify = tls_verify(config.verify_tls, config.ca_bundle)
        self.http = DeviceHttp(config.name, config.url, verify=verify, timeout=config.timeout, retry=retry,
                               auth=lambda: {"Authorization": f"Bearer {token.get_secret_value()}"},
                               transport=transport)
        self.client = FortiOSClient(self.http, config.vdom)
        self.settings = r.PolicySettings(tuple(config.srcintf), tuple(config.dstintf))
        self._renderer = Renderer(mark=self.owner_mark, settings=self.settings,
                                  group_members=config.capacity.group_members)
        self._policy_ids: dict[str, int] = {}
        self._ledger = PieceLedger()  # our address objects and the hosts they cover
        self._lock = threading.Lock()  # guards the ledger and policy ids while applying
        self._rendered: DeviceState | None = None  # the state of the last render

    def close(self) -> None:
        self.http.close()

    def emptied(self, kind: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """A policy matches nothing with the source of each of its pairs `none` (a pair's lists are
        set together: an IPv6-only policy keeps srcaddr empty); groups hold `none`."""
        if kind != r.POLICY:
            return super().emptied(kind, body)
        out = {key: value for key, value in body.items() if key != MISPLACED_KEY}
        for src, dst in (("srcaddr", "dstaddr"), ("srcaddr6", "dstaddr6")):
            if out.get(dst):
                out[src] = ["none"]
        return out

    def references(self, obj: DeviceObject) -> list[tuple[str, str]]:
        """Group members and policy addresses/services (a member may be an address or a group)."""
        return r.references(obj)

    def table_usage(self, objects: Sequence[DeviceObject]) -> Sequence[TableUsage]:
        return fortios_tables(objects, self.config.capacity)

    def check(self) -> dict[str, Any]:
        """`/api/v2/monitor/system/status`: proves the token and names version and serial."""
        return self.client.status()

    # --- render / read ---------------------------------------------------------------------------
    def render(self, state: DeviceState) -> list[DeviceObject]:
        index = self._ledger.index
        objects = self._renderer.render(state, index)
        index.trim(index.position())
        self._rendered = state
        return objects

    def rule_references(self, state: DeviceState) -> Mapping[str, str]:
        """Each policy's name (`policyname`) and, when known from the last read or our own
        creates, its id (`policyid`) -> its rule's key. Renders `state` unless it was the last."""
        if state is not self._rendered:
            self.render(state)
        with self._lock:
            names = self._renderer.policy_keys()
            ids = {str(self._policy_ids[name]): key for name, key in names.items()
                   if name in self._policy_ids}
        return {**names, **ids}

    def rule_numbers(self, state: DeviceState, held: Sequence[DeviceObject]) -> RuleNumbers:
        """Each policy of ours in `held` standing for a rule of `state` -> its `policyid`, as the
        last read (or our own creates) learnt it from the device; a policy whose id is not known
        is left out."""
        if state is not self._rendered:
            self.render(state)
        names = self._renderer.policy_keys()
        with self._lock:
            ids = dict(self._policy_ids)
        numbers: dict[str, tuple[str, ...]] = {}
        mark = self.owner_mark
        for obj in held:
            if obj.kind == r.POLICY and obj.owner == mark and obj.name in names and obj.name in ids:
                numbers[names[obj.name]] = (*numbers.get(names[obj.name], ()), str(ids[obj.name]))
        return RuleNumbers("policyid", "policy ID", numbers)

    def observe(self, objects: Sequence[DeviceObject]) -> None:
        """Remember the address pieces of ours among `objects` (what the device is known to hold),
        exactly as `read` does, so the next `render` reuses them."""
        self._ledger.sync(self._owned_addresses(objects))

    def _owned_addresses(self, objects: Iterable[DeviceObject]) -> Iterable[tuple[str, Mapping[str, Any]]]:
        mark = self.owner_mark
        return ((obj.name, obj.body) for obj in objects if obj.kind == r.ADDRESS and obj.owner == mark)

    def read(self) -> list[DeviceObject]:
        objects: list[DeviceObject] = []
        for kind in (r.ADDRESS, r.ADDRGRP, r.ADDRESS6, r.ADDRGRP6, r.SERVICE):
            for entry in self.client.list(kind):
                name, body, owner = from_device(kind, entry)
                objects.append(DeviceObject(kind, name, body, owner))
        ids: dict[str, int] = {}
        policies: list[tuple[int, str, dict[str, Any], str | None]] = []
        for entry in self.client.list(r.POLICY):
            name, body, owner = from_device(r.POLICY, entry)
            policyid = int(entry.get("policyid", 0))
            if name in ids:
                name = f"{name}#{policyid}"  # a duplicate name: visible (and deletable when ours)
            ids[name] = policyid
            policies.append((policyid, name, body, owner))
        misplaced = self._misplaced([p[0] for p in policies],
                                    [p[0] for p in policies if p[3] == self.owner_mark],
                                    {p[0]: p[3] for p in policies})
        for policyid, name, body, owner in policies:
            if policyid in misplaced:
                body[MISPLACED_KEY] = MISPLACED
            objects.append(DeviceObject(r.POLICY, name, body, owner))
        self._policy_ids = ids
        self._ledger.sync(self._owned_addresses(objects))
        return objects

    # --- apply -----------------------------------------------------------------------------------
    @property
    def writes(self) -> int:
        return self.http.writes

    def _apply(self, plan: Plan, desired: Sequence[DeviceObject], result: ApplyResult) -> None:
        wanted = {obj.ref: obj for obj in desired}
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"fortios-{self.name}") \
            if self.concurrency > 1 else None
        try:
            for level in apply_levels(plan.changes):
                self._run(level, lambda change: self._apply_change(change, wanted), pool, result)
            if any(change.kind == r.POLICY for change in plan.changes):
                moves = self._place([obj.name for obj in desired if obj.kind == r.POLICY])
                result.details["moves"] = moves
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _run(level: Level, apply: Callable[[Change], None], pool: ThreadPoolExecutor | None,
             result: ApplyResult) -> None:
        """Apply one level's changes (in parallel when allowed); after the first error no further
        change starts, the ones in flight finish, and the first error is raised (the others are
        logged)."""
        if pool is None or not level.parallel or len(level.changes) == 1:
            for change in level.changes:
                apply(change)
                result.applied += 1
            return
        futures: list[Future[None]] = [pool.submit(apply, change) for change in level.changes]
        _, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        wait(futures)
        errors: list[DeviceError] = []
        for future in futures:
            if future.cancelled():
                continue
            error = future.exception()
            if error is None:
                result.applied += 1
            elif isinstance(error, DeviceError):
                errors.append(error)
            else:
                raise error
        if errors:
            for other in errors[1:]:
                log.error("%s", other)
            raise errors[0]

    def _body(self, change: Change, wanted: Mapping[tuple[str, str], DeviceObject]) -> Mapping[str, Any]:
        obj = wanted.get((change.kind, change.name))
        if obj is not None:
            return obj.body
        if change.after is None:
            raise PermanentDeviceError(self.name, "no desired body", object_kind=change.kind,
                                       object_name=change.name)
        return change.after

    def _apply_change(self, change: Change, wanted: Mapping[tuple[str, str], DeviceObject]) -> None:
        kind, name = change.kind, change.name
        if change.op is Op.REORDER:
            return  # placement runs once after every change
        if change.op is Op.DELETE:
            self._delete(kind, name)
            return
        body = self._body(change, wanted)
        if change.op is Op.CREATE:
            self._create(kind, name, body)
        elif kind in r.GROUP_KINDS:
            self._update_group(kind, name, change.before or {}, body)
        elif kind == r.POLICY:
            before = {k: v for k, v in (change.before or {}).items() if k != MISPLACED_KEY}
            if before != dict(body):  # only out of place: the placement step moves it
                self.client.update(kind, name, self._policy_id(name), to_wire(kind, name, body))
        else:
            self.client.update(kind, name, name, to_wire(kind, name, body))
            if kind == r.ADDRESS:
                with self._lock:
                    self._ledger.remember(name, body)

    def _create(self, kind: str, name: str, body: Mapping[str, Any]) -> None:
        mkey = self.client.create(kind, name, to_wire(kind, name, body))
        if kind == r.POLICY:
            if mkey is None:
                found = self.client.list(r.POLICY, {"filter": f"name=={name}", "format": "policyid|name"})
                if not found:
                    raise PermanentDeviceError(self.name, "created but not found", object_kind=kind,
                                               object_name=name)
                mkey = found[0]["policyid"]
            with self._lock:
                self._policy_ids[name] = int(mkey)
        elif kind == r.ADDRESS:
            with self._lock:
                self._ledger.remember(name, body)

    def _update_group(self, kind: str, name: str, before: Mapping[str, Any],
                      after: Mapping[str, Any]) -> None:
        old = list(before.get("member", ()))
        new = list(after.get("member", ()))
        old_set, new_set = set(old), set(new)
        removals = [member for member in old if member not in new_set]
        size, limit = len(old), self.config.capacity.group_members
        for member in new:
            if member not in old_set:
                if size >= limit and removals:  # a remove first keeps the group within the limit
                    self.client.remove_member(name, removals.pop(0), kind)
                    size -= 1
                self.client.add_member(name, member, kind)
                size += 1
        for member in removals:
            self.client.remove_member(name, member, kind)
        if before.get("comment") != after.get("comment"):
            self.client.update(kind, name, name, {"comment": after["comment"]})

    def _delete(self, kind: str, name: str) -> None:
        if kind == r.POLICY:
            policyid = self._policy_ids.get(name)
            if policyid is None:
                return
            self.client.delete(kind, name, policyid)
            with self._lock:
                self._policy_ids.pop(name, None)
            return
        self.client.delete(kind, name, name)
        if kind == r.ADDRESS:
            with self._lock:
                self._ledger.forget(name)

    def _policy_id(self, name: str) -> int:
        policyid = self._policy_ids.get(name)
        if policyid is None:
            raise PermanentDeviceError(self.name, "policy id unknown (read the device first)",
                                       object_kind=r.POLICY, object_name=name)
        return policyid

    # --- placement -------------------------------------------------------------------------------
    def _misplaced(self, table: Sequence[int], ours: Sequence[int],
                   owners: Mapping[int, str | None]) -> set[int]:
        """One of our policies that is not where the configured placement puts the block (marking
        one is enough to have the apply place the whole block, and keeps safety counts honest)."""
        try:
            moves = block_moves(table, ours, owners, self._before(table, ours))
        except PermanentDeviceError:
            return set()  # reported by the apply that tries to place the block
        return {moves[0][0]} if moves else set()

    def _before(self, table: Sequence[int], block: Sequence[int]) -> int | None:
        """The configured `placement.before` (None for `top`), checked against the table."""
        before = self.config.placement.before
        if before is not None and (before not in table or before in set(block)):
            raise PermanentDeviceError(self.name, f"placement: policy {before} does not exist in vdom "
                                       f"{self.config.vdom} (or is one of ours)", object_kind=r.POLICY,
                                       object_name=str(before))
        return before

    def _place(self, order: Sequence[str]) -> int:
        """Move our policies into one block in `order` at the configured place, other clusters'
        blocks left where they are (`adapters.fortios.placement`); returns moves made."""
        listing = self.client.list(r.POLICY, {"format": "policyid|name|comments"})
        table = [int(entry["policyid"]) for entry in listing]
        owners = {int(entry["policyid"]): owner_of(entry.get("comments")) for entry in listing}
        present = set(table)
        block = [self._policy_ids[name] for name in order if self._policy_ids.get(name) in present]
        names = {pid: name for name, pid in self._policy_ids.items()}
        moves = block_moves(table, block, owners, self._before(table, block))
        for pid, where, target in moves:
            if where == "before":
                self.client.move(names[pid], pid, before=target)
            else:
                self.client.move(names[pid], pid, after=target)
        return len(moves)


@dataclass(frozen=True)
class Level:
    """Changes of one apply step: independent of each other (`parallel`) or to be made in order."""

    changes: tuple[Change, ...]
    parallel: bool = True


def apply_levels(changes: Iterable[Change]) -> list[Level]:
    """The plan's changes (REORDERs left out: placement runs after) as steps: each run of one kind
    and direction (creates/updates or deletes) in the plan's order; an addrgrp run split into
    levels by nesting depth (children first; parents first for deletes); a policy run into its
    updates (parallel) and then its creates (in order)."""
    levels: list[Level] = []
    run: list[Change] = []

    def flush() -> None:
        if not run:
            return
        kind, deleting = run[0].kind, run[0].op is Op.DELETE
        if kind in r.GROUP_KINDS:
            levels.extend(Level(layer) for layer in _layers(run, parents_first=deleting))
        elif kind == r.POLICY and not deleting:
            updates = tuple(c for c in run if c.op is not Op.CREATE)
            creates = tuple(c for c in run if c.op is Op.CREATE)
            steps = (Level(updates), Level(creates, parallel=False))
            levels.extend(level for level in steps if level.changes)
        else:
            levels.append(Level(tuple(run)))
        run.clear()

    for change in changes:
        if change.op is Op.REORDER:
            continue
        if run and (change.kind, change.op is Op.DELETE) != (run[0].kind, run[0].op is Op.DELETE):
            flush()
        run.append(change)
    flush()
    return levels


def _layers(run: list[Change], parents_first: bool) -> list[tuple[Change, ...]]:
    """`run`'s addrgrp changes by depth among themselves: a group after (before, for deletes) every
    group of the run it holds."""
    names = {change.name for change in run}
    children: dict[str, list[str]] = {}
    for change in run:
        body = (change.before if parents_first else change.after) or {}
        children[change.name] = [m for m in body.get("member", ()) if m in names and m != change.name]
    depth: dict[str, int] = {}

    def measure(name: str, trail: frozenset[str]) -> int:
        if name not in depth:
            inner = [measure(child, trail | {name}) for child in children.get(name, ()) if child not in trail]
            depth[name] = 1 + max(inner) if inner else 0
        return depth[name]

    layers: dict[int, list[Change]] = {}
    for change in run:
        layers.setdefault(measure(change.name, frozenset()), []).append(change)
    ordered = [tuple(layers[level]) for level in sorted(layers)]
    return ordered[::-1] if parents_first else ordered
