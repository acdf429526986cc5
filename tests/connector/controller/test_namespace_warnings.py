"""Namespace warnings (bad annotation values, host-network pods) reach the operator: one log line
and one Warning Event on the Namespace per new or changed warning, not one per compile."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from connector.compiler import NamespaceStatus
from connector.config import Secrets
from connector.controller.controller import Controller
from connector.controller.events import WARNING, ObjectRef
from connector.wiring import validate_config

BAD_ACTION = ('namespace shop: annotation fusion-connector.io/default-action: "maybe" is not one of Deny, '
              'Allow, None; using Deny')
BAD_ALLOW = 'namespace shop: annotation fusion-connector.io/egress-allow: ":::" is not an address; ignored'
HOST = "namespace shop: 2 hostNetwork pods share their node's address; left out of pod-mode groups"


class Events:
    def __init__(self) -> None:
        self.recorded: list[tuple[ObjectRef, str, str, str]] = []

    def record(self, involved: ObjectRef, type: str, reason: str, message: str) -> None:
        self.recorded.append((involved, type, reason, message))


class Elector:
    problem = None

    def __init__(self, leading: bool) -> None:
        self.is_leader = leading


def status(name: str, *warnings: str) -> NamespaceStatus:
    return NamespaceStatus(name, True, "pod", "Deny", ("dev",), 1, (), tuple(warnings))


def compiled(*statuses: NamespaceStatus) -> Any:
    return SimpleNamespace(namespaces={s.name: s for s in statuses})


@pytest.fixture
def made() -> tuple[Controller, Events, Elector]:
    config = validate_config({"cluster": "c1", "database": "sqlite:///:memory:", "devices": [
        {"name": "dev", "type": "rest", "url": "http://127.0.0.1:1"}]})
    controller = Controller(config, Secrets({}))
    events = Events()
    elector = Elector(True)
    controller.events.recorder = events
    controller._elector = elector  # type: ignore[assignment]
    return controller, events, elector


def test_each_new_warning_is_one_event_on_the_namespace_and_one_log_line(
        made: tuple[Controller, Events, Elector], caplog: pytest.LogCaptureFixture) -> None:
    controller, events, _ = made
    with caplog.at_level(logging.WARNING, logger="connector.controller.namespace_warnings"):
        controller.namespace_warnings.tell(compiled(status("shop", BAD_ACTION, BAD_ALLOW), status("ok")))
        controller.namespace_warnings.tell(compiled(status("shop", BAD_ACTION, BAD_ALLOW), status("ok")))
    assert [(r, t, reason, m) for r, t, reason, m in events.recorded] == [
        (ObjectRef("Namespace", "v1", "", "shop"), WARNING, "InvalidAnnotation", BAD_ACTION),
        (ObjectRef("Namespace", "v1", "", "shop"), WARNING, "InvalidAnnotation", BAD_ALLOW)]
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [BAD_ACTION, BAD_ALLOW]


def test_a_changed_warning_is_told_again_and_a_fixed_one_that_comes_back_too(
        made: tuple[Controller, Events, Elector]) -> None:
    controller, events, _ = made
    controller.namespace_warnings.tell(compiled(status("shop", BAD_ACTION)))
    controller.namespace_warnings.tell(compiled(status("shop", BAD_ACTION, HOST)))
    controller.namespace_warnings.tell(compiled(status("shop")))
    controller.namespace_warnings.tell(compiled(status("shop", BAD_ACTION)))
    assert [(reason, m) for _, _, reason, m in events.recorded] == [
        ("InvalidAnnotation", BAD_ACTION), ("NamespaceWarning", HOST), ("InvalidAnnotation", BAD_ACTION)]


def test_a_standby_logs_and_the_events_follow_when_it_leads(made: tuple[Controller, Events, Elector],
                                                             caplog: pytest.LogCaptureFixture) -> None:
    controller, events, elector = made
    elector.is_leader = False
    result = compiled(status("shop", BAD_ACTION))
    with caplog.at_level(logging.WARNING, logger="connector.controller.namespace_warnings"):
        controller.namespace_warnings.tell(result)
    assert events.recorded == [] and [r.getMessage() for r in caplog.records] == [BAD_ACTION]
    elector.is_leader = True
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="connector.controller.namespace_warnings"):
        controller.namespace_warnings.tell(result)
    assert [m for _, _, _, m in events.recorded] == [BAD_ACTION]
    assert caplog.records == []  # logged once already
