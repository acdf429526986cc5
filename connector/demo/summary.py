"""The demo's short report, read from the store the passes recorded into: per device, whether it
is in sync, how many objects the connector owns on it, what the audit log says was applied, and
the drift findings still open."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from connector.config import Config
from connector.store import Store, create_engine, session_factory


@dataclass(frozen=True)
class DeviceTally:
    """The demo's counts for one device (the report's fuller view is `reports.model.DeviceSummary`).
    `in_sync` None: never synced. `applied` counts changes by op over the audit log;
    `results` counts the audit entries by result (applied, partial, failed, refused)."""

    device: str
    type: str
    in_sync: bool | None
    last_error: str | None
    owned: int
    owned_by_kind: dict[str, int]
    plans: int
    applied: dict[str, int]
    results: dict[str, int]
    open_drift: int


def summarise(config: Config) -> list[DeviceTally]:
    """One entry per configured device, in configuration order."""
    engine = create_engine(config.database)
    try:
        with session_factory(engine).begin() as session:
            store = Store(session, config.cluster)
            statuses = {status.name: status for status in store.devices.statuses()}
            out = []
            for device in config.devices:
                status = statuses.get(device.name)
                owned = store.objects.objects(device.name)
                audit = store.audit.window(device=device.name)
                applied: Counter[str] = Counter()
                for entry in audit:
                    applied.update({op: n for op, n in entry.counts.items() if n})
                out.append(DeviceTally(
                    device=device.name,
                    type=device.type,
                    in_sync=status.in_sync if status else None,
                    last_error=status.last_error if status else None,
                    owned=len(owned),
                    owned_by_kind=dict(Counter(obj.kind for obj in owned)),
                    plans=len(audit),
                    applied=dict(applied),
                    results=dict(Counter(entry.result.value for entry in audit)),
                    open_drift=len(store.drift.open_findings(device.name)),
                ))
            return out
    finally:
        engine.dispose()
