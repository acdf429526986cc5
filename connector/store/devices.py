"""Devices (configuration mirror and sync status) and the objects the connector owns on them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, delete, select, update
from sqlalchemy.orm import Session

from connector.model import checksum
from connector.planner.types import DeviceObject, Op, Plan
from connector.store.bulk import chunks, ensure_cluster, upsert_rows, upsert_statement, utcnow
from connector.store.models import DeviceObjectRow, DeviceRow
from connector.store.records import DeviceStatus, ObjectChanges, OwnedObject


class UnknownDeviceError(LookupError):
    """A status update names a device that was never registered."""


class DeviceRepository:
    """Devices of one cluster and their sync status. Never commits."""

    def __init__(self, session: Session, cluster: str) -> None:
        self.session = session
        self.cluster = cluster

    def register(self, name: str, type: str, url: str, at: datetime | None = None) -> None:
        """Create the device or update its type and URL (status is kept)."""
        at = at or utcnow()
        ensure_cluster(self.session, self.cluster, at)
        row = self._row(name)
        if row is None or (row.type, row.url) != (type, url):
            # by (cluster, name): another connector may register it at the same time
            self.session.execute(
                upsert_statement(self.session, DeviceRow, ("type", "url", "updated_at"),
                                 keys=("cluster", "name"))
                .values(cluster=self.cluster, name=name, type=type, url=url, updated_at=at))
            if row is not None:
                self.session.expire(row)
        self.session.flush()

    def unregister_missing(self, names: Iterable[str]) -> list[str]:
        """Delete devices not in `names` (removed from the configuration); returns their names.
        Their owned objects, audit entries and findings stay for the record."""
        keep = set(names)
        rows = self.session.scalars(select(DeviceRow).where(DeviceRow.cluster == self.cluster))
        gone = [row for row in rows if row.name not in keep]
        for row in gone:
            self.session.delete(row)
        self.session.flush()
        return sorted(row.name for row in gone)

    def record_read(self, name: str, at: datetime | None = None) -> None:
        """The device's state was read successfully."""
        self._set(name, at, last_read_at=at or utcnow())

    def record_write(self, name: str, at: datetime | None = None) -> None:
        """Changes were written to the device."""
        self._set(name, at, last_write_at=at or utcnow())

    def record_sync(self, name: str, in_sync: bool, error: str | None = None,
                    at: datetime | None = None, *, read: bool = False, wrote: bool = False) -> None:
        """The outcome of a sync: `in_sync` says whether the device now holds what the rules require;
        a sync without error and in sync becomes the last successful sync. `read` and `wrote` also
        record a read and a write at the same time (one statement instead of three)."""
        at = at or utcnow()
        values: dict[str, Any] = {"in_sync": in_sync, "last_error": error}
        if in_sync and error is None:
            values["last_sync_at"] = at
        if read:
            values["last_read_at"] = at
        if wrote:
            values["last_write_at"] = at
        self._set(name, at, **values)

    def status(self, name: str) -> DeviceStatus | None:
        row = self._row(name)
        return self._status(row) if row is not None else None

    def statuses(self) -> list[DeviceStatus]:
        rows = self.session.scalars(select(DeviceRow).where(DeviceRow.cluster == self.cluster)
                                    .order_by(DeviceRow.name))
        return [self._status(row) for row in rows]

    def _row(self, name: str) -> DeviceRow | None:
        return self.session.scalars(select(DeviceRow).where(
            DeviceRow.cluster == self.cluster, DeviceRow.name == name)).one_or_none()

    def _set(self, name: str, at: datetime | None, **values: Any) -> None:
        result = self.session.execute(
            update(DeviceRow).where(DeviceRow.cluster == self.cluster, DeviceRow.name == name)
            .values(updated_at=at or utcnow(), **values).execution_options(synchronize_session="fetch"))
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise UnknownDeviceError(f"device {name} of cluster {self.cluster} is not registered")

    @staticmethod
    def _status(row: DeviceRow) -> DeviceStatus:
        return DeviceStatus(name=row.name, type=row.type, url=row.url, last_read_at=row.last_read_at,
                            last_write_at=row.last_write_at, last_sync_at=row.last_sync_at,
                            in_sync=row.in_sync, last_error=row.last_error, updated_at=row.updated_at)


Ref = tuple[str, str]


class DeviceObjectRepository:
    """The objects the connector owns on each device of one cluster. Never commits.

    `replace` makes a device's records exactly a given list (O(objects held): the repair after a
    read); `record_changes` and `record_plan` touch only the records they name (O(changes))."""

    def __init__(self, session: Session, cluster: str) -> None:
        self.session = session
        self.cluster = cluster

    def replace(self, device: str, objects: Iterable[DeviceObject],
                at: datetime | None = None) -> ObjectChanges:
        """Make the ownership records of `device` exactly `objects` (what it holds of ours after an
        apply). Unchanged objects keep their timestamps; `created_at` survives updates."""
        desired = {obj.ref: _values(obj) for obj in objects}
        stored = {(row.kind, row.name): row for row in self.session.execute(
            self._columns().where(DeviceObjectRow.cluster == self.cluster, DeviceObjectRow.device == device))}
        gone = [ref for ref in stored if ref not in desired]
        return self._write(device, desired, gone, stored, at)

    def record_changes(self, device: str, upserts: Iterable[DeviceObject], deletes: Iterable[Ref] = (),
                       at: datetime | None = None) -> ObjectChanges:
        """Record that `device` now holds `upserts` (created or updated) and no longer holds
        `deletes`; every other record of the device stays as it is. Reads and writes only the
        records named. An upsert recorded with the same checksum, owner and identities counts as
        unchanged; a delete of an unrecorded object is ignored; naming a ref in both is an error."""
        desired = {obj.ref: _values(obj) for obj in upserts}
        gone = list(dict.fromkeys(deletes))
        both = [ref for ref in gone if ref in desired]
        if both:
            raise ValueError(f"objects both upserted and deleted on device {device}: {both[:5]}")
        stored = self._stored(device, [*desired, *gone])
        return self._write(device, desired, gone, stored, at)

    def record_plan(self, device: str, plan: Plan, owner: str | None,
                    at: datetime | None = None) -> ObjectChanges:
        """Record a fully applied `plan`: its created and updated objects (bodies from the plan,
        carrying `owner`: the adapter's owner mark that every rendered object carries), its
        deletes, and the owned objects it kept for foreign references (no longer desired, so no
        longer recorded, as `replace` with the desired objects would leave them).

        Equals `replace` with the plan's desired objects when the records held the device's owned
        objects before the plan, except for desired objects whose identities changed without
        their body: the planner compares bodies only, so those identities are refreshed by the
        next `replace`."""
        upserts = [DeviceObject(change.kind, change.name, change.after or {}, owner, change.identities)
                   for change in plan.changes if change.op in (Op.CREATE, Op.UPDATE)]
        deletes: list[Ref] = [(change.kind, change.name) for change in plan.changes if change.op is Op.DELETE]
        deletes.extend(plan.kept)
        return self.record_changes(device, upserts, deletes, at)

    def checksums(self, device: str, refs: Iterable[Ref] | None = None) -> dict[Ref, str]:
        """Checksum of each object we own on `device` as we last wrote it, by (kind, name); with
        `refs`, of those objects only (looked up by index: cost follows `refs`, not the device's
        records). Selected as plain columns (a device may hold tens of thousands of our objects)."""
        if refs is not None:
            return {ref: row.checksum for ref, row in self._stored(device, refs).items()}
        rows = self.session.execute(
            select(DeviceObjectRow.kind, DeviceObjectRow.name, DeviceObjectRow.checksum)
            .where(DeviceObjectRow.cluster == self.cluster, DeviceObjectRow.device == device))
        return {(kind, name): checksum for kind, name, checksum in rows}

    def objects(self, device: str | None = None) -> list[OwnedObject]:
        """Owned objects of `device` (or of every device), by device, kind and name."""
        query = select(DeviceObjectRow).where(DeviceObjectRow.cluster == self.cluster)
        if device is not None:
            query = query.where(DeviceObjectRow.device == device)
        rows = self.session.scalars(query.order_by(DeviceObjectRow.device, DeviceObjectRow.kind,
                                                   DeviceObjectRow.name))
        return [OwnedObject(device=row.device, kind=row.kind, name=row.name, checksum=row.checksum,
                            owner=row.owner, identities=tuple(row.identities), created_at=row.created_at,
                            updated_at=row.updated_at) for row in rows]

    @staticmethod
    def _columns() -> Select[Any]:
        return select(DeviceObjectRow.id, DeviceObjectRow.kind, DeviceObjectRow.name,
                      DeviceObjectRow.checksum, DeviceObjectRow.owner, DeviceObjectRow.identities)

    def _stored(self, device: str, refs: Iterable[Ref]) -> dict[Ref, Row[Any]]:
        """The records of `refs` on `device`: one indexed query per kind and chunk of names."""
        names: dict[str, list[str]] = {}
        for kind, name in dict.fromkeys(refs):
            names.setdefault(kind, []).append(name)
        stored: dict[Ref, Row[Any]] = {}
        for kind, of_kind in names.items():
            for chunk in chunks(of_kind):
                for row in self.session.execute(self._columns().where(
                        DeviceObjectRow.cluster == self.cluster, DeviceObjectRow.device == device,
                        DeviceObjectRow.kind == kind, DeviceObjectRow.name.in_(chunk))):
                    stored[(row.kind, row.name)] = row
        return stored

    def _write(self, device: str, desired: dict[Ref, dict[str, Any]], gone: Iterable[Ref],
               stored: dict[Ref, Row[Any]], at: datetime | None) -> ObjectChanges:
        """Insert, update and delete so that the records of `desired` hold its values and those
        of `gone` are absent, given the `stored` records of both."""
        at = at or utcnow()
        writes = []  # upserted by (cluster, device, kind, name): `created_at` survives updates
        created = unchanged = 0
        for (kind, name), values in desired.items():
            row = stored.get((kind, name))
            if row is not None and (row.checksum, row.owner, list(row.identities)) == (
                    values["checksum"], values["owner"], values["identities"]):
                unchanged += 1
                continue
            created += row is None
            writes.append({"cluster": self.cluster, "device": device, "kind": kind, "name": name,
                           "created_at": at, "updated_at": at, **values})
        deleted = [stored[ref].id for ref in gone if ref in stored]
        if not (writes or deleted):
            return ObjectChanges(unchanged=unchanged)
        ensure_cluster(self.session, self.cluster, at)
        for ids in chunks(deleted):
            self.session.execute(delete(DeviceObjectRow).where(DeviceObjectRow.id.in_(ids)))
        upsert_rows(self.session, DeviceObjectRow, writes, keys=("cluster", "device", "kind", "name"),
                    keep=("created_at",))
        self.session.flush()
        return ObjectChanges(created=created, updated=len(writes) - created, deleted=len(deleted),
                             unchanged=unchanged)


def _values(obj: DeviceObject) -> dict[str, Any]:
    return {"checksum": checksum(dict(obj.body)), "owner": obj.owner, "identities": list(obj.identities)}
