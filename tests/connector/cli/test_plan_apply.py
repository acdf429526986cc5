"""`plan` and `apply` against in-process mocks: what they print, on which stream, and their exit
codes when things go wrong."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.rest.adapter import RestAdapter
from tests.connector.cli.lab import TOKEN, Lab, invoke, lab, namespace


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

    monkeypatch.setattr("connector.reconciler.reconcile_pass.compile_cluster", broken)
    result = invoke("plan", "--config", str(env.config()))
    _no_traceback(result)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: unexpected error: KeyError")


def test_objects_kept_for_a_foreign_reference_are_shown(env: Lab) -> None:
    config = str(env.config())
    assert invoke("apply", "--config", config).exit_code == 0
    [address] = [a["name"] for a in env.state("soc")["addresses"] if a.get("owner") == "fusion-connector:t"]
    env.seed("soc", groups=[{"name": "secops-hosts", "owner": "secops", "members": ["10.99.0.1"]}],
             rules=[{"name": "secops-audit", "owner": "secops", "source": "secops-hosts",
                     "destination": address, "service": None, "action": "allow", "log": True}])
    env.delete("NamespaceEgressRule", "shop", "to-stripe")  # the address is no longer desired
    planned = invoke("plan", "--config", config, "--device", "soc")
    assert planned.exit_code == 0, planned.output
    kept = [line for line in planned.stdout.splitlines() if line.startswith("  = ")]
    assert kept == [f"  = address {address}: kept, no longer desired but referenced by rule 'secops-audit'"
                    " (owner secops), which is not ours; delete or change that one first"], planned.stdout
    assert invoke("apply", "--config", config, "--device", "soc").exit_code == 0
    again = invoke("plan", "--config", config, "--device", "soc")
    assert again.stdout.splitlines()[0] == (
        "soc: in sync, nothing to do; 1 object(s) of ours kept for foreign references")
    assert f"address {address}: kept" in again.stdout
    document = json.loads(invoke("plan", "--config", config, "--device", "soc", "--output", "json").stdout)
    assert document["devices"][0]["kept"] == [
        {"kind": "address", "name": address, "referencedBy": "rule 'secops-audit' (owner secops)"}]


def test_namespace_warnings_are_lines_of_the_output(env: Lab) -> None:
    env.apply_objects([namespace("shop", {"fusion-connector.io/default-action": "maybe",
                                          "fusion-connector.io/egress-allow": ":::"})])
    for command in ("plan", "apply"):
        result = invoke(command, "--config", str(env.config()))
        assert result.exit_code == 0, result.output
        warnings = [line for line in result.stdout.splitlines()
                    if line.startswith("warning: namespace shop:")]
        assert len(warnings) == 2, result.stdout
        assert any("default-action" in line and '"maybe"' in line for line in warnings)
        assert any("egress-allow" in line and '":::"' in line for line in warnings)
    document = json.loads(invoke("plan", "--config", str(env.config()), "--output", "json").stdout)
    assert len(document["namespaceWarnings"]) == 2
