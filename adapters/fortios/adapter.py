"""The FortiOS adapter: DESIGN §7 `fortios` on top of `render`, `wire` and `client`.

Contract beyond `adapters.base.adapter.Adapter`:
- `read` returns every address, addrgrp, custom service and policy of the VDOM (ours and foreign,
  each with the mark found in its comment), policies in evaluation order; it remembers policy ids
  and the address pieces we own so `render` can reuse them (call `read` before `render` for O(1)
  membership changes; rendering without a read is still correct, it collapses from scratch).
  `observe(objects)` (what the device is known to hold when a sync skips the read) remembers the
  same pieces from `objects`; policy ids are kept from the last read and our own writes (objects
  carry none). `apply` keeps both up to date with what it creates, updates and deletes.
- `apply` follows the plan: creates/updates, then deletes; an addrgrp UPDATE becomes member-table
  operations (adds first, then removes, so a group is never empty) plus a PUT only when the
  comment changed; nested groups are created children first and deleted parents first. Whenever a
  policy changed it places our policies as one block in desired order before `placement.before`
  (or at the top) with `action=move`, moving only policies that are out of place.
- Never sends a DELETE to a collection URL. The token is sent as `Authorization: Bearer`, never logged.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import httpx

from adapters.base.adapter import Adapter, ApplyResult, Capabilities
from adapters.base.errors import DeviceError, PermanentDeviceError
from adapters.base.http import DeviceHttp, RetryPolicy, tls_verify
from adapters.fortios import render as r
from adapters.fortios.capacity import table_usage as fortios_tables
from adapters.fortios.client import FortiOSClient
from adapters.fortios.wire import from_device, to_wire
from connector.config import FortiOSDevice, Secrets
from connector.model import DeviceState
from connector.planner.capacity import TableUsage
from connector.planner.types import Change, DeviceObject, Op, Plan

log = logging.getLogger(__name__)

# Read from the device on one of our policies when our block is not where the placement puts it;
# the rendered body has no such key, so the plan shows an update and the apply places the block.
MISPLACED_KEY = "position"
MISPLACED = "out of place"


class FortiOSAdapter(Adapter):
    type_name = "fortios"
    capabilities: ClassVar[Capabilities] = Capabilities(fqdn=True, ipv6=False, logging=True,
                                                        incremental_members=True)
    kind_order: ClassVar[tuple[str, ...]] = r.KIND_ORDER
    ordered_kinds: ClassVar[frozenset[str]] = frozenset({r.POLICY})

    def __init__(self, config: FortiOSDevice, cluster: str, secrets: Secrets,
                 transport: httpx.BaseTransport | None = None, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(config.name, cluster)
        self.config = config
        token = secrets.get(config.auth.token_env, f"device {config.name} API token")
        verify = tls_verify(config.verify_tls, config.ca_bundle)
        self.http = DeviceHttp(config.name, config.url, verify=verify, timeout=config.timeout, retry=retry,
                               auth=lambda: {"Authorization": f"Bearer {token.get_secret_value()}"},
                               transport=transport)
        self.client = FortiOSClient(self.http, config.vdom)
        self.settings = r.PolicySettings(tuple(config.srcintf), tuple(config.dstintf))
        self._policy_ids: dict[str, int] = {}
        self._pieces: dict[str, r.Piece] = {}  # our address objects' names -> the hosts they cover

    def close(self) -> None:
        self.http.close()

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
        return r.render_state(state, mark=self.owner_mark, settings=self.settings,
                              known=r.KnownPieces(self._pieces.values()))

    def observe(self, objects: Sequence[DeviceObject]) -> None:
        """Remember the address pieces of ours among `objects` (what the device is known to hold),
        exactly as `read` does, so the next `render` reuses them."""
        self._pieces = self._owned_pieces(objects)

    def _owned_pieces(self, objects: Iterable[DeviceObject]) -> dict[str, r.Piece]:
        pieces: dict[str, r.Piece] = {}
        for obj in objects:
            if obj.kind == r.ADDRESS and obj.owner == self.owner_mark:
                piece = _piece(obj.body)
                if piece is not None:
                    pieces[obj.name] = piece
        return pieces

    def read(self) -> list[DeviceObject]:
        objects: list[DeviceObject] = []
        for kind in (r.ADDRESS, r.ADDRGRP, r.SERVICE):
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
                                    [p[0] for p in policies if p[3] == self.owner_mark])
        for policyid, name, body, owner in policies:
            if policyid in misplaced:
                body[MISPLACED_KEY] = MISPLACED
            objects.append(DeviceObject(r.POLICY, name, body, owner))
        self._policy_ids = ids
        self._pieces = self._owned_pieces(objects)
        return objects

    # --- apply -----------------------------------------------------------------------------------
    def apply(self, plan: Plan, desired: Sequence[DeviceObject]) -> ApplyResult:
        result = ApplyResult(device=self.name)
        writes_before = self.http.writes
        wanted = {obj.ref: obj for obj in desired}
        policy_changed = False
        try:
            for change in dependency_order(plan.changes):
                self._apply_change(change, wanted)
                result.applied += 1
                policy_changed = policy_changed or change.kind == r.POLICY
            if policy_changed:
                moves = self._place([obj.name for obj in desired if obj.kind == r.POLICY])
                result.details["moves"] = moves
        except DeviceError as exc:
            log.error("%s", exc)
            result.errors.append(str(exc))
        result.writes = self.http.writes - writes_before
        return result

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
        elif kind == r.ADDRGRP:
            self._update_group(name, change.before or {}, body)
        elif kind == r.POLICY:
            before = {k: v for k, v in (change.before or {}).items() if k != MISPLACED_KEY}
            if before != dict(body):  # only out of place: the placement step moves it
                self.client.update(kind, name, self._policy_id(name), to_wire(kind, name, body))
        else:
            self.client.update(kind, name, name, to_wire(kind, name, body))
            if kind == r.ADDRESS:
                self._pieces.pop(name, None)
                self._remember_piece(name, body)

    def _create(self, kind: str, name: str, body: Mapping[str, Any]) -> None:
        mkey = self.client.create(kind, name, to_wire(kind, name, body))
        if kind == r.POLICY:
            if mkey is None:
                found = self.client.list(r.POLICY, {"filter": f"name=={name}", "format": "policyid|name"})
                if not found:
                    raise PermanentDeviceError(self.name, "created but not found", object_kind=kind,
                                               object_name=name)
                mkey = found[0]["policyid"]
            self._policy_ids[name] = int(mkey)
        elif kind == r.ADDRESS:
            self._remember_piece(name, body)

    def _update_group(self, name: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        old = list(before.get("member", ()))
        new = list(after.get("member", ()))
        old_set, new_set = set(old), set(new)
        for member in new:
            if member not in old_set:
                self.client.add_member(name, member)
        for member in old:
            if member not in new_set:
                self.client.remove_member(name, member)
        if before.get("comment") != after.get("comment"):
            self.client.update(r.ADDRGRP, name, name, {"comment": after["comment"]})

    def _delete(self, kind: str, name: str) -> None:
        if kind == r.POLICY:
            policyid = self._policy_ids.get(name)
            if policyid is None:
                return
            self.client.delete(kind, name, policyid)
            self._policy_ids.pop(name, None)
            return
        self.client.delete(kind, name, name)
        if kind == r.ADDRESS:
            self._pieces.pop(name, None)

    def _policy_id(self, name: str) -> int:
        policyid = self._policy_ids.get(name)
        if policyid is None:
            raise PermanentDeviceError(self.name, "policy id unknown (read the device first)",
                                       object_kind=r.POLICY, object_name=name)
        return policyid

    def _remember_piece(self, name: str, body: Mapping[str, Any]) -> None:
        piece = _piece(body)
        if piece is not None:
            self._pieces[name] = piece

    # --- placement -------------------------------------------------------------------------------
    def _misplaced(self, table: Sequence[int], ours: Sequence[int]) -> set[int]:
        """One of our policies that is not where the configured placement puts the block (marking
        one is enough to have the apply place the whole block, and keeps safety counts honest)."""
        try:
            anchor = self._anchor(table, ours)
        except PermanentDeviceError:
            return set()  # reported by the apply that tries to place the block
        moves = placement_moves(table, ours, anchor)
        return {moves[0][0]} if moves else set()

    def _anchor(self, table: Sequence[int], block: Sequence[int]) -> int | None:
        """The policy our block must end right before (None: the block ends the list)."""
        members = set(block)
        before = self.config.placement.before
        if before is None:
            return next((pid for pid in table if pid not in members), None)
        if before not in table or before in members:
            raise PermanentDeviceError(self.name, f"placement: policy {before} does not exist in vdom "
                                       f"{self.config.vdom} (or is one of ours)", object_kind=r.POLICY,
                                       object_name=str(before))
        return before

    def _place(self, order: Sequence[str]) -> int:
        """Move our policies into one block in `order` at the configured place; returns moves made."""
        listing = self.client.list(r.POLICY, {"format": "policyid|name"})
        table = [int(entry["policyid"]) for entry in listing]
        present = set(table)
        block = [self._policy_ids[name] for name in order if self._policy_ids.get(name) in present]
        names = {pid: name for name, pid in self._policy_ids.items()}
        moves = placement_moves(table, block, self._anchor(table, block))
        for pid, where, target in moves:
            if where == "before":
                self.client.move(names[pid], pid, before=target)
            else:
                self.client.move(names[pid], pid, after=target)
        return len(moves)


def placement_moves(table: Sequence[int], block: Sequence[int],
                    anchor: int | None) -> list[tuple[int, str, int]]:
    """The `action=move` steps (policy, "before"|"after", target) that make `block` one contiguous
    run, in its order, ending right before `anchor` (or at the end when None). Policies already in
    place are not moved."""
    current = list(table)
    moves: list[tuple[int, str, int]] = []
    for pid in reversed(block):
        if anchor is None:
            if current[-1] != pid:
                moves.append((pid, "after", current[-1]))
                current.remove(pid)
                current.append(pid)
        else:
            index = current.index(anchor)
            if index == 0 or current[index - 1] != pid:
                moves.append((pid, "before", anchor))
                current.remove(pid)
                current.insert(current.index(anchor), pid)
        anchor = pid
    return moves


def dependency_order(changes: Iterable[Change]) -> list[Change]:
    """`changes` with each run of addrgrp creates/updates sorted children first and each run of
    addrgrp deletes parents first (the planner orders a kind by name)."""
    out: list[Change] = []
    run: list[Change] = []

    def flush() -> None:
        if run:
            out.extend(_topological(run, parents_first=run[0].op is Op.DELETE))
            run.clear()

    for change in changes:
        groupable = change.kind == r.ADDRGRP and change.op is not Op.REORDER
        if run and not (groupable and (change.op is Op.DELETE) == (run[0].op is Op.DELETE)):
            flush()
        if groupable:
            run.append(change)
        else:
            out.append(change)
    flush()
    return out


def _topological(run: list[Change], parents_first: bool) -> list[Change]:
    names = {change.name for change in run}
    children: dict[str, list[str]] = {}
    for change in run:
        body = (change.before if parents_first else change.after) or {}
        children[change.name] = [m for m in body.get("member", ()) if m in names and m != change.name]
    placed: list[str] = []
    done: set[str] = set()

    def visit(name: str, trail: frozenset[str]) -> None:
        if name in done or name in trail:
            return
        for child in children.get(name, ()):
            visit(child, trail | {name})
        done.add(name)
        placed.append(name)

    for change in run:
        visit(change.name, frozenset())
    if parents_first:
        placed.reverse()
    by_name = {change.name: change for change in run}
    return [by_name[name] for name in placed]


def _piece(body: Mapping[str, Any]) -> r.Piece | None:
    """The IPv4 host range an address body covers when it is a host or an iprange."""
    try:
        if body.get("type") == "iprange":
            return (int(ipaddress.IPv4Address(body["start-ip"])), int(ipaddress.IPv4Address(body["end-ip"])))
        if body.get("type") == "ipmask":
            network = ipaddress.IPv4Network(body["subnet"])
            if network.prefixlen == 32:
                return (int(network.network_address), int(network.network_address))
    except (KeyError, ValueError):
        return None
    return None
