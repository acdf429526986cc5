"""`FlowService`: flow visibility inside the controller, built from the `flows` configuration.

It owns the syslog receiver (when `flows.syslog` is set), the pipeline (attribution against the
store through the Attributor's in-memory index of the recent timeline and rule histories, checked
against the store every batch; one transaction per batch of records, metrics, SIEM forwarding,
EgressDenied Events, retention), and the `POST /v1/flows` endpoint (`answer`). Every replica
runs it: any replica receives and stores records (the store is shared); only the leader writes
the address timeline (elsewhere), and the timeline and rule map are pruned by the leader only, the
records by every replica (deleting expired rows twice is harmless).

`start()` binds the syslog port (OSError when it cannot); `stop()` stops receiving, processes what
waits for a few seconds, and stops forwarding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from connector.config import Config, FlowsConfig, Secrets
from connector.flows.attribute import Attributor
from connector.flows.denied_events import DeniedEvents, Tell, Uid
from connector.flows.forward import ENCODERS, Forwarder
from connector.flows.metrics import FlowMetrics
from connector.flows.pipeline import FlowPipeline, Subscriber
from connector.flows.push import FlowPush
from connector.flows.receiver import Sender, SyslogReceiver
from connector.flows.record import FlowLine, FlowRecord
from connector.reports.serve import HttpAnswer
from connector.store import session_factory
from connector.store.flow_records import FlowRecordRepository
from connector.store.rule_map import DeviceRuleMap
from connector.store.timeline import AddressTimeline

log = logging.getLogger(__name__)

REST_TYPE = "rest"  # the device type whose devices push records instead of sending syslog


class FlowService:
    """See the module docstring."""

    def __init__(self, config: Config, engine: Engine, registry: CollectorRegistry, secrets: Secrets, *,
                 tell: Tell, uid: Uid = lambda kind, namespace, name: "",
                 leading: Callable[[], bool] = lambda: True, prune_every: float = 300.0) -> None:
        if config.flows is None:
            raise ValueError("flows are not configured")
        flows: FlowsConfig = config.flows
        self.config = flows
        self.cluster = config.cluster
        self.leading = leading
        self.sessions = session_factory(engine)
        self.metrics = FlowMetrics(registry)
        self.attributor = Attributor(self.sessions, config.cluster, flows.clock_skew, cached=True)
        self.forwarder: Forwarder | None = None
        if flows.forward is not None:
            self.forwarder = Forwarder(flows.forward.address, ENCODERS[flows.forward.format],
                                       on_sent=self.metrics.forwarded.inc,
                                       on_dropped=self.metrics.forward_dropped.inc)
        self.denied = DeniedEvents(tell, uid=uid)
        self.pipeline = FlowPipeline(self.attributor.attribute, self._store, self.metrics,
                                     forwarder=self.forwarder, denied=self.denied, prune=self._prune,
                                     retention=flows.retention, prune_every=prune_every)
        self.receiver: SyslogReceiver | None = None
        if flows.syslog is not None:
            senders = [Sender(s.device, tuple(s.addresses), s.format) for s in flows.senders]
            self.receiver = SyslogReceiver(flows.syslog.address, senders, self._received,
                                           count=self.pipeline.count,
                                           max_connections=flows.syslog.max_connections,
                                           idle_timeout=flows.syslog.idle_timeout or None,
                                           closed=self.metrics.connection_closed)
        token = secrets.get(flows.token_env, "flows.tokenEnv").get_secret_value() if flows.token_env else None
        self.push = FlowPush(token, [d.name for d in config.devices if d.type == REST_TYPE],
                             self.pipeline.submit, count=self.pipeline.count)

    def _received(self, lines: list[FlowLine]) -> None:
        self.pipeline.submit(lines)  # never blocks; what cannot wait is shed and counted

    def subscribe(self, callback: Subscriber) -> None:
        """Observe every batch of attributed records (see `FlowPipeline.subscribe`)."""
        self.pipeline.subscribe(callback)

    def start(self) -> FlowService:
        self.pipeline.start()
        if self.receiver is not None:
            try:
                self.receiver.start()
            except OSError as exc:
                self.pipeline.stop(0)
                listen = self.config.syslog.listen if self.config.syslog else ""
                raise OSError(f"flows.syslog.listen {listen}: {exc.strerror or exc}") from exc
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self.receiver is not None:
            self.receiver.stop(timeout)
        self.pipeline.stop(timeout)

    @property
    def syslog_address(self) -> tuple[str, int] | None:
        return self.receiver.address if self.receiver is not None else None

    def answer(self, query: str, authorization: str | None, content_type: str | None,
               content_length: int | None, read: Callable[[int], bytes]) -> HttpAnswer:
        """`POST /v1/flows` (see connector.flows.push)."""
        return self.push.answer(query, authorization, content_type, content_length, read)

    # ------------------------------------------------------------------ store
    def _store(self, records: Sequence[FlowRecord]) -> None:
        if not records:
            return
        with self.sessions.begin() as session:
            FlowRecordRepository(session, self.cluster).add(records)

    def _prune(self, before: datetime) -> None:
        with self.sessions.begin() as session:
            removed = FlowRecordRepository(session, self.cluster).prune(before)
            if self.leading():
                removed += AddressTimeline(session, self.cluster).prune(before)
                removed += DeviceRuleMap(session, self.cluster).prune(before)
        if removed:
            log.info("flows: pruned %d row(s) older than the retention", removed)
