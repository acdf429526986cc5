"""Device write locks: writers of one device are serialized, other devices are not."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from connector.store import LockTimeoutError, create_engine, device_write_lock, session_factory
from connector.store.locks import advisory_key

Bind = Engine | Connection | Session


def test_advisory_keys_are_stable_signed_64_bit_and_scoped() -> None:
    key = advisory_key("https://fw.example.com")
    assert key == advisory_key("https://fw.example.com")
    assert -(2**63) <= key < 2**63
    assert key != advisory_key("https://fw2.example.com")
    assert key != advisory_key("https://fw.example.com", cluster="prod")


def assert_serializes(a: Bind, b: Bind) -> None:
    with device_write_lock(a, "fw-1", timeout=5):
        with pytest.raises(LockTimeoutError, match="fw-1"), device_write_lock(b, "fw-1", timeout=0.2):
            pass
        with device_write_lock(b, "fw-2", timeout=0.2):
            pass
        with device_write_lock(b, "fw-1", cluster="other", timeout=0.2):
            pass
    with device_write_lock(b, "fw-1", timeout=0.2):
        pass


def test_sqlite_lock_is_held_in_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    engine = create_engine(url)
    try:
        acquired = threading.Event()
        release = threading.Event()

        def holder() -> None:
            with device_write_lock(engine, "fw-1"):
                acquired.set()
                release.wait(10)

        thread = threading.Thread(target=holder)
        thread.start()
        assert acquired.wait(10)
        with pytest.raises(LockTimeoutError), device_write_lock(engine, "fw-1", timeout=0.1):
            pass
        release.set()
        thread.join()
        with session_factory(engine)() as session, device_write_lock(session, "fw-1", timeout=1):
            pass
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_advisory_lock_serializes_connectors(postgres_url: str) -> None:
    first = create_engine(postgres_url)  # two engines: two connectors sharing one database
    second = create_engine(postgres_url)
    try:
        assert_serializes(first, second)
        with session_factory(first)() as session, first.connect() as connection:
            assert_serializes(session, connection)
            session.commit()  # the caller's transactions do not affect a lock held on its own connection
    finally:
        first.dispose()
        second.dispose()


@pytest.mark.postgres
def test_postgres_lock_is_released_when_the_block_fails(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        with pytest.raises(RuntimeError), device_write_lock(engine, "fw-err"):
            raise RuntimeError("apply failed")
        with device_write_lock(engine, "fw-err", timeout=0.2):
            pass
    finally:
        engine.dispose()
