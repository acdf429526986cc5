"""Leader election on a `coordination.k8s.io/v1` Lease (the client-go algorithm, in a thread).

Contract: `is_leader` is True only while this process holds the Lease and has renewed it within
`renew_deadline`, judged by the local monotonic clock from the moment the successful renewal
round *started* (so a process stopped mid-renewal, e.g. by SIGSTOP, and resumed later does not
count the late answer as fresh; a renewal answered after `renew_deadline` does not lead). A
candidate takes the Lease when it is free (no holder, released) or when its record has not
changed for `lease_seconds` as observed locally (so clock skew between hosts does not matter).
Writes use the Lease's resourceVersion: a 409 means another candidate won the race. The holder
renews every `renew_seconds`; when renewing keeps failing past `renew_deadline`, it steps down
before the Lease can expire under it. `on_change(leading)` is called from the election thread on
every change of role. `stop()` releases a held Lease (holder cleared) so a standby can take over
at once.

A Lease this process cannot read or create (its namespace does not exist, RBAC forbids it) is a
`problem`: a sentence naming the namespace, the setting (`kubernetes.connectorNamespace`) or the
permission, logged as an error when it appears or changes (then every `PROBLEM_REPEAT` seconds
while it lasts) and cleared by the first round that reads or writes the Lease again. Such a
process can never lead; the controller reports it not ready.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from connector.cluster import Obj
from connector.kube import KubeApi, KubernetesUnavailable

log = logging.getLogger(__name__)

LEASES = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
PROBLEM_REPEAT = 60.0  # seconds between repeated error lines while a problem lasts


def micro_time(at: datetime | None = None) -> str:
    """A Kubernetes MicroTime: RFC 3339 with microseconds, UTC."""
    return (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Campaigns for `namespace/name` as `identity`; run with `start()`, end with `stop()`."""

    def __init__(self, kube: KubeApi, namespace: str, name: str, identity: str, *,
                 lease_seconds: int = 15, renew_seconds: float = 5.0, retry_seconds: float = 2.0,
                 renew_deadline: float = 10.0,
                 on_change: Callable[[bool], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds
        self.retry_seconds = retry_seconds
        self.renew_deadline = min(renew_deadline, lease_seconds * 2 / 3)
        self.on_change = on_change
        self._clock = clock
        self._leading = False
        self._last_renewal = 0.0
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._problem: str | None = None
        self._problem_logged_at = 0.0
        self.transitions = 0

    # ------------------------------------------------------------------ state
    @property
    def is_leader(self) -> bool:
        with self._lock:
            return self._leading and self._clock() - self._last_renewal < self.renew_deadline

    @property
    def holder(self) -> str | None:
        """The holder last observed (None when unknown or free)."""
        with self._lock:
            return self._observed[0] if self._observed and self._observed[0] else None

    @property
    def problem(self) -> str | None:
        """Why this process cannot take part in the election (None when it can)."""
        return self._problem

    @property
    def path(self) -> str:
        return LEASES.format(namespace=self.namespace) + f"/{self.name}"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LeaderElector:
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)
        self._thread.start()
        return self

    def stop(self, release: bool = True) -> None:
        """Stop campaigning; release the Lease when held and `release`."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if release and self._leading:
            self._release()
        self._set_leading(False)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.try_acquire_or_renew()
            except KubernetesUnavailable as exc:
                log.warning("leader election: %s", exc)
            if self._leading and self._clock() - self._last_renewal >= self.renew_deadline:
                log.error("leader election: could not renew the lease within %.0fs; stepping down",
                          self.renew_deadline)
                self._set_leading(False)
            self._stop.wait(self.renew_seconds if self._leading else self.retry_seconds)

    # ------------------------------------------------------------------ one round
    def try_acquire_or_renew(self) -> bool:
        """One election round; returns whether this process leads afterwards."""
        started = self._clock()
        now = datetime.now(UTC)
        status, lease = self.kube.get(self.path)
        if status == 404:
            created, answer = self.kube.create(LEASES.format(namespace=self.namespace),
                                               self._lease_body(None, now, transitions=0, acquired=True))
            if created in (200, 201):
                self._set_problem(None)
            elif created == 404:
                self._set_problem(
                    f"namespace {self.namespace!r} not found: the Lease {self.name} cannot be created "
                    f"there, so this process can never lead; create the namespace or set "
                    f"kubernetes.connectorNamespace to the connector's namespace")
            elif 400 <= created < 500 and created != 409:  # 409: another candidate was first
                self._set_problem(self._refused("create", created, answer))
            elif created != 409:
                log.warning("leader election: creating lease %s: HTTP %s", self.path, created)
            return self._outcome(created in (200, 201), "created the lease", started)
        if status != 200:
            if status in (401, 403):
                self._set_problem(self._refused("get", status, lease))
            log.warning("leader election: reading lease %s: HTTP %s", self.path, status)
            return self._leading
        self._set_problem(None)
        spec: dict[str, Any] = lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        record = (holder, str(spec.get("renewTime") or ""))
        if record != self._observed:
            self._observed = record
            self._observed_at = self._clock()
        duration = int(spec.get("leaseDurationSeconds") or self.lease_seconds)
        mine = holder == self.identity
        expired = self._clock() - self._observed_at >= duration
        if holder and not mine and not expired:
            if self._leading:
                log.warning("leader election: lease taken over by %s", holder)
            return self._outcome(False, "")
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if mine else 1)
        body = self._lease_body(lease, now, transitions=transitions, acquired=not mine,
                                acquire_time=None if not mine else spec.get("acquireTime"))
        replaced, answer = self.kube.replace(self.path, body)
        if replaced == 409:
            log.info("leader election: lost the race for lease %s", self.path)
            return self._outcome(False, "")
        if replaced in (401, 403):
            self._set_problem(self._refused("update", replaced, answer))
        if replaced != 200:
            log.warning("leader election: writing lease %s: HTTP %s", self.path, replaced)
            return self._leading
        what = "renewed the lease" if mine else f"took over the lease from {holder or 'nobody'}"
        return self._outcome(True, what, started)

    def _refused(self, verb: str, status: int, answer: Obj) -> str:
        detail = str(answer.get("message") or "")[:300]
        if status in (401, 403):
            return (f"forbidden to {verb} Lease {self.name} in namespace {self.namespace!r} (HTTP {status}"
                    f"{': ' + detail if detail else ''}); grant the connector's service account get, "
                    f"create and update on leases.coordination.k8s.io there (RBAC)")
        return (f"cannot {verb} Lease {self.name} in namespace {self.namespace!r}: HTTP {status}"
                f"{': ' + detail if detail else ''}")

    def _set_problem(self, problem: str | None) -> None:
        previous, self._problem = self._problem, problem
        if problem is None:
            if previous is not None:
                log.info("leader election: lease %s is usable again", self.path)
            return
        now = self._clock()
        if problem != previous or now - self._problem_logged_at >= PROBLEM_REPEAT:
            self._problem_logged_at = now
            log.error("leader election: %s", problem)

    def _lease_body(self, current: Obj | None, now: datetime, *, transitions: int, acquired: bool,
                    acquire_time: Any = None) -> Obj:
        metadata: Obj = {"name": self.name, "namespace": self.namespace}
        if current is not None:
            metadata = dict(current.get("metadata") or {})
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.lease_seconds,
                "acquireTime": micro_time(now) if acquired or not acquire_time else acquire_time,
                "renewTime": micro_time(now),
                "leaseTransitions": transitions,
            },
        }

    def _outcome(self, leading: bool, what: str, started: float | None = None) -> bool:
        if leading and started is not None and self._clock() - started >= self.renew_deadline:
            log.warning("leader election: the lease write was answered %.0fs after it started; not"
                        " leading until a prompt renewal", self._clock() - started)
            leading = False
        if leading:
            with self._lock:
                self._last_renewal = started if started is not None else self._clock()
                self._observed = None
            if not self._leading:
                log.info("leader election: %s; leading as %s", what, self.identity)
        self._set_leading(leading)
        return leading

    def _set_leading(self, leading: bool) -> None:
        with self._lock:
            changed = leading != self._leading
            self._leading = leading
        if changed:
            self.transitions += 1
            if not leading:
                log.info("leader election: %s is no longer the leader", self.identity)
            if self.on_change is not None:
                self.on_change(leading)

    def _release(self) -> None:
        try:
            status, lease = self.kube.get(self.path)
            spec = lease.get("spec") or {}
            if status != 200 or spec.get("holderIdentity") != self.identity:
                return
            body = dict(lease)
            body["spec"] = {**spec, "holderIdentity": "", "leaseDurationSeconds": 1,
                            "renewTime": micro_time()}
            released, _ = self.kube.replace(self.path, body)
            log.info("leader election: released lease %s (HTTP %s)", self.path, released)
        except KubernetesUnavailable as exc:
            log.warning("leader election: releasing the lease: %s", exc)
