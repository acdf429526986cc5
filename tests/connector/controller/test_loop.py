"""The reconcile loop takes typed messages: change batches feed the incremental compiler (minus
the controller's own status writes), a periodic run recompiles everything and reads every device
back, and leading resubmits every device and resumes the workers."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from connector.cluster import Kind, ObjectChange, StaticView
from connector.config import Secrets
from connector.controller import Controller
from connector.controller.messages import ChangesSeen, LeadershipChanged, PeriodicReconcile
from connector.model import DeviceState
from connector.wiring import validate_config
from tests.connector.controller.harness import eventually

RULE = {"metadata": {"name": "r", "namespace": "shop", "generation": 1}, "spec": {"action": "Allow"}}


@dataclass
class Submitted:
    state: DeviceState
    triggers: list[str]
    seen: list[float]
    immediate: bool
    read: bool


@dataclass
class Worker:
    submitted: list[Submitted] = field(default_factory=list)
    resumed: int = 0

    def submit(self, state: DeviceState, triggers: Sequence[str] = (), seen: Sequence[float] = (), *,
               immediate: bool = False, read: bool = False) -> None:
        self.submitted.append(Submitted(state, list(triggers), list(seen), immediate, read))

    def resume(self) -> None:
        self.resumed += 1

    def pause(self) -> None:
        pass


class Compiler:
    """Gives a new device state per compile; counts full and incremental compiles."""

    def __init__(self) -> None:
        self.full_compiles = 0
        self.applied: list[list[ObjectChange]] = []
        self.result = self._result()

    def _result(self) -> Any:
        n = self.full_compiles + len(self.applied)
        return SimpleNamespace(devices={"dev": DeviceState(device="dev", cluster=f"c{n}")}, rules={},
                               namespaces={})

    def full(self, view: Any) -> Any:
        self.full_compiles += 1
        self.result = self._result()
        return self.result

    def apply(self, changes: list[ObjectChange]) -> Any:
        self.applied.append(changes)
        self.result = self._result()
        return self.result


class Watcher:
    cache = StaticView()

    def wait_synced(self, timeout: float) -> bool:
        return True


class Elector:
    is_leader = True
    problem = None


def made() -> tuple[Controller, Compiler, Worker, list[Any]]:
    config = validate_config({"cluster": "c1", "database": "sqlite:///:memory:", "devices": [
        {"name": "dev", "type": "rest", "url": "http://127.0.0.1:1"}]})
    controller = Controller(config, Secrets({}))
    controller._elector = Elector()  # type: ignore[assignment]
    compiler, worker, snapshots = Compiler(), Worker(), []
    loop = controller.loop
    loop.compiler = compiler  # type: ignore[assignment]
    loop.record_snapshot = snapshots.append
    loop.connect(Watcher(), {"dev": worker})  # type: ignore[arg-type, dict-item]
    return controller, compiler, worker, snapshots


@pytest.fixture
def running() -> Iterator[tuple[Controller, Compiler, Worker, list[Any]]]:
    controller, compiler, worker, snapshots = made()
    thread = threading.Thread(target=controller.loop.run, daemon=True)
    thread.start()
    assert controller.wait_compiled(10)
    yield controller, compiler, worker, snapshots
    controller._stopping.set()
    thread.join(5)


def test_the_first_compile_submits_every_device_to_read_back(
        running: tuple[Controller, Compiler, Worker, list[Any]]) -> None:
    controller, compiler, worker, _ = running
    [first] = worker.submitted
    assert compiler.full_compiles == 1 and (first.triggers, first.immediate, first.read) == (
        ["initial"], True, True)
    assert controller.book.desired("dev") is first.state
    pod = ObjectChange(Kind.POD, "shop", "p", None, {"metadata": {"name": "p", "namespace": "shop"}})
    controller.loop.post(ChangesSeen(8.0, (pod,)))  # the loop goes on taking messages
    eventually(lambda: len(worker.submitted) == 2)
    assert compiler.applied == [[pod]]


POD = ObjectChange(Kind.POD, "shop", "p", None, {"metadata": {"name": "p", "namespace": "shop"}})


def test_a_change_batch_compiles_incrementally_and_a_status_write_coming_back_does_not() -> None:
    controller, compiler, worker, _ = made()
    rule = Kind.NAMESPACE_EGRESS_RULE
    own_write = ObjectChange(rule, "shop", "r", RULE, {**RULE, "status": {"sources": 2}})
    controller.loop.handle([ChangesSeen(7.0, (own_write,))])
    assert compiler.applied == [] and worker.submitted == []
    controller.loop.handle([ChangesSeen(7.0, (own_write,)), ChangesSeen(8.0, (POD,))])
    assert compiler.applied == [[POD]]
    [submitted] = worker.submitted
    assert (submitted.triggers, submitted.seen, submitted.immediate, submitted.read) == (
        ["Pod/shop/p"], [8.0], False, False)
    assert controller.book.desired("dev") is submitted.state


def test_a_periodic_run_recompiles_everything_and_reads_every_device_back() -> None:
    controller, compiler, worker, snapshots = made()
    controller.loop.handle([PeriodicReconcile(), ChangesSeen(3.0, (POD,))])
    assert compiler.applied == [] and compiler.full_compiles == 1
    [submitted] = worker.submitted
    assert (submitted.triggers, submitted.seen, submitted.immediate, submitted.read) == (
        ["periodic", "Pod/shop/p"], [3.0], True, True)
    assert len(snapshots) == 1  # a leader records the cluster snapshot of a periodic compile


def test_leading_resubmits_every_device_to_read_back_and_resumes_the_workers() -> None:
    controller, _, worker, snapshots = made()
    controller.loop.handle([PeriodicReconcile()])
    controller.loop.handle([LeadershipChanged(False)])
    assert worker.resumed == 0 and len(worker.submitted) == 1
    controller.loop.handle([LeadershipChanged(True)])
    assert worker.resumed == 1
    last = worker.submitted[-1]
    assert (last.triggers, last.immediate, last.read) == (["leader-elected"], True, True)
    assert last.state is worker.submitted[0].state
    assert len(snapshots) == 2  # and on taking the lead
