"""Leader election on a Lease of the in-process kube mock: one leader, takeover on expiry and on
release, optimistic concurrency, stepping down when renewals fail."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s_client

from connector.cluster import Obj
from connector.controller.leader import LeaderElector
from connector.kube import KubeApi
from mocks.common.http import HttpServer
from mocks.kube import KubeApp
from tests.connector.controller.harness import eventually

NS = "fusion-system"
NAME = "fusion-connector-c1"


@pytest.fixture(scope="module")
def server() -> Iterator[HttpServer]:
    srv = HttpServer(KubeApp(controllers=False)).start()
    yield srv
    srv.stop()


@pytest.fixture
def kube(server: HttpServer) -> Iterator[KubeApi]:
    httpx.post(f"{server.url}/_mock/reset").raise_for_status()
    httpx.post(f"{server.url}/api/v1/namespaces", json={"metadata": {"name": NS}}).raise_for_status()
    configuration = k8s_client.Configuration()
    configuration.host = server.url
    api = k8s_client.ApiClient(configuration)
    yield KubeApi(api)
    api.close()  # type: ignore[no-untyped-call]


def elector(kube: KubeApi, identity: str, **options: Any) -> LeaderElector:
    settings: dict[str, Any] = {"lease_seconds": 2, "renew_seconds": 0.2, "retry_seconds": 0.1, **options}
    return LeaderElector(kube, NS, NAME, identity, **settings)


def lease(kube: KubeApi) -> Obj:
    status, body = kube.get(f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/{NAME}")
    assert status == 200
    return body


def test_first_candidate_creates_the_lease_and_the_second_stands_by(kube: KubeApi) -> None:
    a, b = elector(kube, "a"), elector(kube, "b")
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    assert a.is_leader and not b.is_leader
    assert b.holder == "a"
    spec = lease(kube)["spec"]
    assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 2
    assert spec["acquireTime"].endswith("Z") and spec["renewTime"].endswith("Z")
    assert a.try_acquire_or_renew()  # renewal
    assert lease(kube)["spec"]["leaseTransitions"] == 0


def test_standby_takes_over_when_the_leader_stops_renewing(kube: KubeApi) -> None:
    changes: list[bool] = []
    a = elector(kube, "a").start()
    eventually(lambda: a.is_leader, 5)
    b = elector(kube, "b", on_change=changes.append).start()
    try:
        a.stop(release=False)  # a crash: no release
        eventually(lambda: b.is_leader, 10)
        assert changes == [True]
        spec = lease(kube)["spec"]
        assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    finally:
        b.stop()


def test_release_lets_the_standby_take_over_without_waiting_for_expiry(kube: KubeApi) -> None:
    a = elector(kube, "a", lease_seconds=60).start()
    eventually(lambda: a.is_leader, 5)
    b = elector(kube, "b", lease_seconds=60).start()
    try:
        a.stop(release=True)
        assert not a.is_leader
        eventually(lambda: b.is_leader, 5)  # far sooner than the 60 s lease
    finally:
        b.stop()
    assert lease(kube)["spec"]["holderIdentity"] == ""


class RacingApi(KubeApi):
    """Lets a rival write the Lease between this candidate's read and its write."""

    def __init__(self, inner: KubeApi, rival: LeaderElector) -> None:
        self.inner = inner
        self.rival = rival
        self.raced = False

    def call(self, method: str, path: str, body: Obj | None = None,
             content_type: str = "application/json") -> tuple[int, Obj]:
        if method == "PUT" and not self.raced:
            self.raced = True
            assert self.rival.try_acquire_or_renew()
        return self.inner.call(method, path, body, content_type)


def test_a_concurrent_write_makes_the_slower_candidate_lose(kube: KubeApi) -> None:
    first = elector(kube, "old")
    assert first.try_acquire_or_renew()
    first_body = lease(kube)
    first_body["spec"]["holderIdentity"] = ""
    status, _ = kube.replace(f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/{NAME}", first_body)
    assert status == 200  # released: both candidates may now take it
    rival = elector(kube, "rival")
    racing = RacingApi(kube, rival)
    slow = LeaderElector(racing, NS, NAME, "slow", lease_seconds=2)
    assert not slow.try_acquire_or_renew()  # its write carried a stale resourceVersion: 409
    assert racing.raced and rival.is_leader and not slow.is_leader
    assert lease(kube)["spec"]["holderIdentity"] == "rival"


def test_leader_steps_down_when_it_cannot_renew(kube: KubeApi, server: HttpServer) -> None:
    lost = threading.Event()

    def on_change(leading: bool) -> None:
        if not leading:
            lost.set()

    a = elector(kube, "a", lease_seconds=3, on_change=on_change).start()
    try:
        eventually(lambda: a.is_leader, 5)
        httpx.post(f"{server.url}/_mock/faults", json={"status": 500, "times": 10_000}).raise_for_status()
        assert lost.wait(10)
        assert not a.is_leader
    finally:
        httpx.post(f"{server.url}/_mock/reset").raise_for_status()
        a.stop(release=False)


class PausingApi(KubeApi):
    """Advances the fake clock by `pause` seconds while a renewal's write is in flight (the
    process stopped by SIGSTOP between sending the write and reading its answer)."""

    def __init__(self, inner: KubeApi, clock: list[float], pause: float) -> None:
        self.inner = inner
        self.clock = clock
        self.pause = pause

    def call(self, method: str, path: str, body: Obj | None = None,
             content_type: str = "application/json") -> tuple[int, Obj]:
        answer = self.inner.call(method, path, body, content_type)
        if method == "PUT":
            self.clock[0] += self.pause
        return answer


def test_leadership_is_dated_from_before_the_renewal_not_from_its_answer(kube: KubeApi) -> None:
    now = [1000.0]
    a = LeaderElector(kube, NS, NAME, "a", lease_seconds=15, clock=lambda: now[0])
    assert a.try_acquire_or_renew() and a.is_leader
    now[0] += 5
    a.kube = PausingApi(kube, now, pause=30)
    # the renewal was accepted, but its answer arrived 30 s later: another candidate may have
    # taken the Lease meanwhile, so this process must not consider itself leading
    assert not a.try_acquire_or_renew()
    assert not a.is_leader
    now[0] += 1
    a.kube = kube
    assert a.try_acquire_or_renew() and a.is_leader  # a prompt renewal leads again


def test_a_process_resumed_past_the_renew_deadline_is_not_leading_before_it_renews(kube: KubeApi) -> None:
    now = [1000.0]
    a = LeaderElector(kube, NS, NAME, "a", lease_seconds=15, clock=lambda: now[0])
    assert a.try_acquire_or_renew()
    now[0] += a.renew_deadline - 0.5
    assert a.is_leader
    now[0] += 1  # stopped past the renew deadline: judged by the local monotonic clock
    assert not a.is_leader


def test_a_missing_lease_namespace_is_a_loud_problem_not_a_silent_standby(
        kube: KubeApi, server: HttpServer, caplog: pytest.LogCaptureFixture) -> None:
    missing = LeaderElector(kube, "fusion-sytem", NAME, "a", lease_seconds=2)
    with caplog.at_level("ERROR", logger="connector.controller.leader"):
        assert not missing.try_acquire_or_renew()
        assert not missing.try_acquire_or_renew()
    assert missing.problem is not None
    assert "fusion-sytem" in missing.problem and "kubernetes.connectorNamespace" in missing.problem
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "fusion-sytem" in errors[0]  # said once, not every round
    httpx.post(f"{server.url}/api/v1/namespaces",
               json={"metadata": {"name": "fusion-sytem"}}).raise_for_status()
    assert missing.try_acquire_or_renew() and missing.problem is None


class ForbiddenApi(KubeApi):
    def __init__(self) -> None:
        pass

    def call(self, method: str, path: str, body: Obj | None = None,
             content_type: str = "application/json") -> tuple[int, Obj]:
        return 403, {"message": f'leases.coordination.k8s.io is forbidden: cannot {method.lower()}'}


def test_a_forbidden_lease_names_the_missing_permission() -> None:
    elector_ = LeaderElector(ForbiddenApi(), NS, NAME, "a", lease_seconds=2)
    assert not elector_.try_acquire_or_renew()
    assert elector_.problem is not None
    assert "forbidden" in elector_.problem and NS in elector_.problem and "RBAC" in elector_.problem
