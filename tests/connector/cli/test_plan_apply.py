"""`plan` and `apply` against in-process mocks: what they print, on which stream, and their exit
codes when things go wrong."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.rest.adapter import RestAdapter
from tests.connector.cli.lab import TOKEN, Lab, invoke, lab


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    monkeypatch.setenv("SOC_TOKEN", TOKEN)
    monkeypatch.setenv("SIEM_TOKEN", TOKEN)
    with lab(tmp_path) as running:
        yield running


def _no_traceback(result: Any) -> None:
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stdout + result.stderr


def _broken_render(monkeypatch: pytest.MonkeyPatch, device: str) -> None:
    original = RestAdapter.render

    def render(self: RestAdapter, state: Any) -> Any:
        if self.name == device:
            raise RuntimeError("renderer bug")
        return original(self, state)

    monkeypatch.setattr(RestAdapter, "render", render)


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_an_unexpected_error_on_one_device_is_its_line_and_the_others_still_print(
        env: Lab, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    _broken_render(monkeypatch, "siem")
    result = invoke(command, "--config", str(env.config()))
    _no_traceback(result)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("soc: ") and "to create" in line for line in lines), result.stdout
    [error] = [line for line in lines if line.startswith("siem:")]
    assert "unexpected error" in error and "RuntimeError: renderer bug" in error
    if command == "apply":
        assert env.state("soc")["rules"] and not env.state("siem")["rules"]


def test_an_unexpected_error_before_any_device_is_one_line(env: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyError("compiler bug")

    monkeypatch.setattr("connector.reconciler.once.compile_cluster", broken)
    result = invoke("plan", "--config", str(env.config()))
    _no_traceback(result)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: unexpected error: KeyError")
