"""Device sync status and the ownership records of device objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connector.model import checksum
from connector.planner.types import DeviceObject
from connector.store import DeviceObjectRepository, DeviceRepository, ObjectChanges, UnknownDeviceError
from tests.connector.store.conftest import Db

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_device_status_lifecycle(db: Db) -> None:
    with db.sessions.begin() as session:
        repo = DeviceRepository(session, db.cluster)
        repo.register("bigip", "f5-as3", "https://10.0.0.1", T0)
        repo.register("soc", "rest", "http://10.0.0.3", T0)
        status = repo.status("bigip")
        assert status is not None
        assert (status.in_sync, status.last_read_at, status.last_sync_at, status.last_error) == (
            None,
            None,
            None,
            None,
        )
    with db.sessions.begin() as session:
        repo = DeviceRepository(session, db.cluster)
        repo.record_read("bigip", T0 + timedelta(seconds=1))
        repo.record_write("bigip", T0 + timedelta(seconds=2))
        repo.record_sync("bigip", in_sync=True, at=T0 + timedelta(seconds=3))
        repo.record_read("soc", T0 + timedelta(seconds=1))
        repo.record_sync("soc", in_sync=False, error="503 Service Unavailable", at=T0 + timedelta(seconds=4))
    with db.sessions.begin() as session:
        repo = DeviceRepository(session, db.cluster)
        bigip, soc = repo.statuses()
        assert (bigip.name, bigip.type, bigip.url) == ("bigip", "f5-as3", "https://10.0.0.1")
        assert bigip.last_read_at == T0 + timedelta(seconds=1)
        assert bigip.last_write_at == T0 + timedelta(seconds=2)
        assert bigip.last_sync_at == T0 + timedelta(seconds=3) and bigip.in_sync is True
        assert bigip.last_error is None
        assert soc.in_sync is False and soc.last_error == "503 Service Unavailable"
        assert soc.last_sync_at is None and soc.last_write_at is None
        # a failed sync keeps the time of the last successful one
        repo.record_sync("bigip", in_sync=False, error="timeout", at=T0 + timedelta(minutes=5))
        after = repo.status("bigip")
        assert after is not None and after.last_sync_at == T0 + timedelta(seconds=3)
        assert after.updated_at == T0 + timedelta(minutes=5)


def test_register_updates_type_and_url_and_keeps_status(db: Db) -> None:
    with db.sessions.begin() as session:
        repo = DeviceRepository(session, db.cluster)
        repo.register("fgt", "fortios", "https://10.0.0.2", T0)
        repo.record_sync("fgt", in_sync=True, at=T0)
        repo.register("fgt", "fortios", "https://10.0.0.22", T0 + timedelta(hours=1))
        status = repo.status("fgt")
        assert status is not None and status.url == "https://10.0.0.22" and status.in_sync is True
        repo.register("old", "rest", "http://old", T0)
        assert repo.unregister_missing(["fgt"]) == ["old"]
        assert [s.name for s in repo.statuses()] == ["fgt"]


def test_status_of_an_unregistered_device_is_an_error(db: Db) -> None:
    with db.sessions.begin() as session:
        repo = DeviceRepository(session, db.cluster)
        assert repo.status("ghost") is None
        with pytest.raises(UnknownDeviceError, match="ghost"):
            repo.record_read("ghost")


def obj(kind: str, name: str, body: dict[str, object], identities: tuple[str, ...] = ()) -> DeviceObject:
    return DeviceObject(kind=kind, name=name, body=body, owner="fusion-connector:c", identities=identities)


def test_device_objects_are_replaced_per_device(db: Db) -> None:
    first = [
        obj("address", "fc_c_shop_web_1", {"subnet": "10.0.0.1/32"}, ("Pod/shop/web-1",)),
        obj("address", "fc_c_shop_web_2", {"subnet": "10.0.0.2/32"}, ("Pod/shop/web-2",)),
        obj("policy", "fc_c_allow", {"action": "accept"}, ("NamespaceEgressRule/shop/allow",)),
    ]
    with db.sessions.begin() as session:
        repo = DeviceObjectRepository(session, db.cluster)
        assert repo.replace("fgt", first, T0) == ObjectChanges(created=3)
        assert repo.replace("bigip", first[:1], T0) == ObjectChanges(created=1)
    later = T0 + timedelta(minutes=1)
    second = [
        first[0],
        obj("address", "fc_c_shop_web_2", {"subnet": "10.0.0.20/32"}, ("Pod/shop/web-2",)),
        obj("address", "fc_c_shop_web_3", {"subnet": "10.0.0.3/32"}),
    ]
    with db.sessions.begin() as session:
        repo = DeviceObjectRepository(session, db.cluster)
        assert repo.replace("fgt", second, later) == ObjectChanges(
            created=1, updated=1, deleted=1, unchanged=1
        )
    with db.sessions.begin() as session:
        repo = DeviceObjectRepository(session, db.cluster)
        stored = {o.name: o for o in repo.objects("fgt")}
        assert set(stored) == {"fc_c_shop_web_1", "fc_c_shop_web_2", "fc_c_shop_web_3"}
        web1, web2, web3 = (stored[f"fc_c_shop_web_{i}"] for i in (1, 2, 3))
        assert (web1.created_at, web1.updated_at) == (T0, T0)
        assert (web2.created_at, web2.updated_at) == (T0, later)
        assert web2.checksum == checksum({"subnet": "10.0.0.20/32"})
        assert web2.identities == ("Pod/shop/web-2",) and web2.owner == "fusion-connector:c"
        assert web3.created_at == later and web3.identities == ()
        assert [o.device for o in repo.objects()] == ["bigip", "fgt", "fgt", "fgt"]
        assert repo.replace("fgt", []) == ObjectChanges(deleted=3)
        assert [o.device for o in repo.objects()] == ["bigip"]
