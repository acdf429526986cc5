"""The cluster snapshot: namespaces, source groups and their members (with the Kubernetes
identity behind every address).

Writes are diffs: a group whose checksum is unchanged costs nothing, a changed group rewrites only
the members that changed, and rows are inserted with executemany batches, so a first write of
100,000 members is a few bulk statements and a later single-pod change a couple of rows.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connector.model import Identity, SourceGroup, checksum
from connector.store.bulk import (
    chunks,
    ensure_cluster,
    insert_missing_rows,
    upsert_rows,
    upsert_statement,
    utcnow,
)
from connector.store.models import AddressGroupRow, AddressMemberRow, NamespaceRow
from connector.store.records import GroupChanges, NamespaceRecord

MemberKey = tuple[str, str, str, str]  # address, identity kind, namespace, name
_MEMBER_KEY = ("group_id", "address", "identity_kind", "identity_namespace", "identity_name")


def _member_keys(group: SourceGroup) -> set[MemberKey]:
    keys: set[MemberKey] = set()
    for address, identities in group.members:
        if not identities:
            keys.add((address, "", "", ""))
        for identity in identities:
            keys.add((address, identity.kind, identity.namespace, identity.name))
    return keys


def _address_order(address: str) -> tuple[int, int, str]:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return (9, 0, address)
    return (parsed.version, int(parsed), address)


class SnapshotRepository:
    """Namespaces and source groups of one cluster. Never commits: the caller owns the transaction."""

    def __init__(self, session: Session, cluster: str) -> None:
        self.session = session
        self.cluster = cluster

    # -- namespaces -------------------------------------------------------------------------

    def replace_namespaces(self, namespaces: Iterable[NamespaceRecord], at: datetime | None = None) -> int:
        """Make the stored namespaces exactly `namespaces`; returns how many rows changed."""
        at = at or utcnow()
        ensure_cluster(self.session, self.cluster, at)
        desired = {ns.name: ns for ns in namespaces}
        existing = {row.name: row for row in self.session.scalars(
            select(NamespaceRow).where(NamespaceRow.cluster == self.cluster))}
        writes = []
        for name, record in desired.items():
            if record.devices is not None and not isinstance(record.devices, tuple):
                record = replace(record, devices=tuple(record.devices))
            row = existing.get(name)
            if row is None or self._namespace_record(row) != record:
                writes.append({"cluster": self.cluster, "name": name, "updated_at": at,
                               "managed": record.managed, "source_mode": record.source_mode,
                               "default_action": record.default_action,
                               "devices": list(record.devices) if record.devices is not None else None})
        gone = [row.id for name, row in existing.items() if name not in desired]
        upsert_rows(self.session, NamespaceRow, writes, keys=("cluster", "name"))
        for ids in chunks(gone):
            self.session.execute(delete(NamespaceRow).where(NamespaceRow.id.in_(ids)))
        self.session.flush()
        return len(writes) + len(gone)

    def namespaces(self) -> list[NamespaceRecord]:
        rows = self.session.scalars(select(NamespaceRow).where(NamespaceRow.cluster == self.cluster)
                                    .order_by(NamespaceRow.name))
        return [self._namespace_record(row) for row in rows]

    @staticmethod
    def _namespace_record(row: NamespaceRow) -> NamespaceRecord:
        return NamespaceRecord(name=row.name, managed=row.managed, source_mode=row.source_mode,
                               default_action=row.default_action,
                               devices=tuple(row.devices) if row.devices is not None else None)

    # -- groups -----------------------------------------------------------------------------

    def replace_groups(self, groups: Iterable[SourceGroup], at: datetime | None = None) -> GroupChanges:
        """Make the stored groups exactly `groups` (groups not given are deleted)."""
        return self._write_groups(list(groups), at or utcnow(), delete_others=True)

    def upsert_groups(self, groups: Iterable[SourceGroup], at: datetime | None = None) -> GroupChanges:
        """Create or update `groups`, leaving other stored groups alone."""
        return self._write_groups(list(groups), at or utcnow(), delete_others=False)

    def delete_groups(self, keys: Iterable[str]) -> int:
        """Delete the groups with these keys (and their members); returns how many existed."""
        ids = list(self.session.scalars(select(AddressGroupRow.id).where(
            AddressGroupRow.cluster == self.cluster, AddressGroupRow.key.in_(list(keys)))))
        self._delete_group_ids(ids)
        return len(ids)

    def _write_groups(self, groups: list[SourceGroup], at: datetime, delete_others: bool) -> GroupChanges:
        ensure_cluster(self.session, self.cluster, at)
        existing = {key: (group_id, digest) for key, group_id, digest in self.session.execute(
            select(AddressGroupRow.key, AddressGroupRow.id, AddressGroupRow.checksum)
            .where(AddressGroupRow.cluster == self.cluster))}
        desired: dict[str, tuple[SourceGroup, str]] = {}
        for group in groups:
            if group.cluster != self.cluster:
                raise ValueError(f"group {group.key} belongs to cluster {group.cluster}, not {self.cluster}")
            desired[group.key] = (group, checksum(group.to_json()))

        new = [(g, digest) for key, (g, digest) in desired.items() if key not in existing]
        changed = [(existing[key][0], g, digest) for key, (g, digest) in desired.items()
                   if key in existing and existing[key][1] != digest]
        gone = [gid for key, (gid, _) in existing.items() if key not in desired] if delete_others else []

        self._delete_group_ids(gone)
        added, removed = self._write_changed([(g, digest) for g, digest in new]
                                             + [(g, digest) for _, g, digest in changed], at)
        self.session.flush()
        return GroupChanges(created=len(new), updated=len(changed), deleted=len(gone),
                            unchanged=len(desired) - len(new) - len(changed),
                            members_added=added, members_removed=removed)

    def _group_values(self, group: SourceGroup, digest: str, at: datetime) -> dict[str, Any]:
        return {"purpose": group.purpose, "namespace": group.namespace, "service": group.service,
                "rule": group.rule, "member_count": len(group.members), "checksum": digest,
                "updated_at": at}

    def _member_rows(self, group_id: int, keys: Iterable[MemberKey]) -> Iterable[dict[str, Any]]:
        for address, kind, namespace, name in keys:
            yield {"cluster": self.cluster, "group_id": group_id, "address": address,
                   "identity_kind": kind, "identity_namespace": namespace, "identity_name": name}

    def _write_changed(self, groups: list[tuple[SourceGroup, str]], at: datetime) -> tuple[int, int]:
        """Upsert the rows of new and changed `groups` by (cluster, key), then make each one's
        members exactly its own: members are read by the ids the upsert returned, so a group
        another writer created or changed meanwhile is corrected, never duplicated. Returns the
        numbers of members added and removed."""
        if not groups:
            return 0, 0
        rows = [{"cluster": self.cluster, "key": g.key, **self._group_values(g, digest, at)}
                for g, digest in groups]
        statement = upsert_statement(self.session, AddressGroupRow, rows[0], keys=("cluster", "key"))
        ids = {key: gid for key, gid in self.session.execute(
            statement.returning(AddressGroupRow.key, AddressGroupRow.id), rows)}
        stored: dict[int, dict[MemberKey, int]] = defaultdict(dict)
        for chunk in chunks(list(ids.values())):
            for row in self.session.execute(
                    select(AddressMemberRow.id, AddressMemberRow.group_id, AddressMemberRow.address,
                           AddressMemberRow.identity_kind, AddressMemberRow.identity_namespace,
                           AddressMemberRow.identity_name).where(AddressMemberRow.group_id.in_(chunk))):
                stored[row.group_id][(row.address, row.identity_kind, row.identity_namespace,
                                      row.identity_name)] = row.id
        inserts: list[dict[str, Any]] = []
        removed: list[int] = []
        for group, _ in groups:
            gid = ids[group.key]
            want = _member_keys(group)
            have = stored.get(gid, {})
            removed.extend(member_id for key, member_id in have.items() if key not in want)
            inserts.extend(self._member_rows(gid, sorted(want - have.keys())))
        for chunk in chunks(removed):
            self.session.execute(delete(AddressMemberRow).where(AddressMemberRow.id.in_(chunk)))
        insert_missing_rows(self.session, AddressMemberRow, inserts, keys=_MEMBER_KEY)
        return len(inserts), len(removed)

    def _delete_group_ids(self, ids: list[int]) -> None:
        for chunk in chunks(ids):
            self.session.execute(delete(AddressMemberRow).where(AddressMemberRow.group_id.in_(chunk)))
            self.session.execute(delete(AddressGroupRow).where(AddressGroupRow.id.in_(chunk)))

    # -- reads ------------------------------------------------------------------------------

    def group_keys(self) -> dict[str, str]:
        """Key -> checksum of every stored group (cheap: no members read)."""
        query = select(AddressGroupRow.key, AddressGroupRow.checksum).where(
            AddressGroupRow.cluster == self.cluster)
        return {key: digest for key, digest in self.session.execute(query)}

    def groups(self, keys: Iterable[str] | None = None) -> dict[str, SourceGroup]:
        """Stored groups by key (all, or those with `keys`), members in address order."""
        query = select(AddressGroupRow).where(AddressGroupRow.cluster == self.cluster)
        rows = []
        if keys is None:
            rows = list(self.session.scalars(query))
        else:
            for chunk in chunks(list(keys)):
                rows.extend(self.session.scalars(query.where(AddressGroupRow.key.in_(chunk))))
        members: dict[int, dict[str, list[Identity]]] = {row.id: defaultdict(list) for row in rows}
        member_query = select(AddressMemberRow.group_id, AddressMemberRow.address,
                              AddressMemberRow.identity_kind, AddressMemberRow.identity_namespace,
                              AddressMemberRow.identity_name)
        if keys is None:
            batches = [member_query.where(AddressMemberRow.cluster == self.cluster)]
        else:
            batches = [member_query.where(AddressMemberRow.group_id.in_(ids))
                       for ids in chunks(list(members))]
        for batch in batches:
            for group_id, address, kind, namespace, name in self.session.execute(batch):
                identities = members[group_id][address]
                if kind or namespace or name:
                    identities.append(Identity(kind, namespace, name))
        return {row.key: SourceGroup(
            key=row.key, cluster=self.cluster, namespace=row.namespace, service=row.service,
            rule=row.rule, purpose=row.purpose,
            members=tuple((address, tuple(sorted(members[row.id][address])))
                          for address in sorted(members[row.id], key=_address_order)))
            for row in rows}

    def group(self, key: str) -> SourceGroup | None:
        return self.groups([key]).get(key)

    def groups_containing(self, address: str) -> dict[str, tuple[Identity, ...]]:
        """Group key -> the Kubernetes objects behind `address` in that group."""
        out: dict[str, list[Identity]] = defaultdict(list)
        for key, kind, namespace, name in self.session.execute(
                select(AddressGroupRow.key, AddressMemberRow.identity_kind,
                       AddressMemberRow.identity_namespace, AddressMemberRow.identity_name)
                .join(AddressGroupRow, AddressGroupRow.id == AddressMemberRow.group_id)
                .where(AddressMemberRow.cluster == self.cluster, AddressMemberRow.address == address)):
            identities = out[key]
            if kind or namespace or name:
                identities.append(Identity(kind, namespace, name))
        return {key: tuple(sorted(identities)) for key, identities in sorted(out.items())}
