"""Serializing writes to one device across connectors that share a store (docs/install.md).

On PostgreSQL the lock is a session-level advisory lock, so it holds across the caller's
transactions and works between processes and hosts; on SQLite (one host, usually one process)
it is an in-process lock.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

POLL_SECONDS = 0.05


class LockTimeoutError(TimeoutError):
    """The device write lock was not obtained in time."""


_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


def device_identity(device: str) -> str:
    """`device` as the lock names it: a URL with its scheme and host lower-cased, the scheme's
    default port and trailing slashes left out, so that connectors spelling one device's URL
    differently (`https://FW.example.com:443/` and `https://fw.example.com`) share its lock; any
    other name as it is."""
    parts = urlsplit(device)
    if not parts.scheme or not parts.hostname:
        return device
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and (parts.scheme.lower(), port) not in (("https", 443), ("http", 80)):
        host = f"{host}:{port}"
    return f"{parts.scheme.lower()}://{host}{parts.path.rstrip('/')}"


def advisory_key(device: str, cluster: str | None = None) -> int:
    """The signed 64-bit advisory lock key of `device` (`device_identity`; scoped to `cluster`
    when given)."""
    scope = f"fusion-connector/device/{cluster or '*'}/{device_identity(device)}"
    return int.from_bytes(hashlib.sha256(scope.encode()).digest()[:8], "big", signed=True)


@contextmanager
def device_write_lock(bind: Engine | Connection | Session, device: str, cluster: str | None = None,
                      timeout: float | None = None) -> Iterator[None]:
    """Hold the write lock of `device` for exactly the `with` block.

    `device` must name the device identically in every connector that writes to it: without
    `cluster` the lock is shared by the whole fleet (what a firewall several clusters write to
    needs; its URL is the safest name); with `cluster` it only serializes writers of that
    cluster. With an Engine or a Session the lock is held on a connection of its own (in
    autocommit mode, so it neither joins nor outlives the caller's transactions); with a
    Connection, on that connection. `timeout` (seconds) raises LockTimeoutError instead of
    waiting forever.
    """
    key = advisory_key(device, cluster)
    if isinstance(bind, Session):
        bound = bind.get_bind()
        bind = bound if isinstance(bound, Engine | Connection) else bound.engine
    if bind.dialect.name != "postgresql":
        url = bind.url if isinstance(bind, Engine) else bind.engine.url
        with _in_process(f"{url}|{key}", device, timeout):
            yield
        return
    if isinstance(bind, Connection):
        with _advisory(bind, key, device, timeout):
            yield
        return
    with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as connection, \
            _advisory(connection, key, device, timeout):
        yield


@contextmanager
def _advisory(connection: Connection, key: int, device: str, timeout: float | None) -> Iterator[None]:
    if timeout is None:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
    else:
        deadline = time.monotonic() + timeout
        while not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar_one():
            if time.monotonic() >= deadline:
                raise LockTimeoutError(f"device {device} is locked by another writer")
            time.sleep(POLL_SECONDS)
    try:
        yield
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


@contextmanager
def _in_process(name: str, device: str, timeout: float | None) -> Iterator[None]:
    with _local_guard:
        lock = _local_locks.setdefault(name, threading.Lock())
    if not lock.acquire(timeout=-1 if timeout is None else timeout):
        raise LockTimeoutError(f"device {device} is locked by another writer")
    try:
        yield
    finally:
        lock.release()
