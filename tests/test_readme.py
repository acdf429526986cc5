"""The README's commands work as printed: the first installs the demo extra and runs the demo, and
the commands it lists for `demo --serve` are what `demo --serve` prints and run against it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from connector.cli.demo import MOCKS_MISSING
from connector.demo.live import PORT
from connector.demo.text import serve_commands
from tests.connector.cli.served_demo import run_commands, served

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
DEFAULT_METRICS = f"http://127.0.0.1:{PORT}/metrics"


def sh_blocks() -> list[list[str]]:
    return [block.splitlines() for block in re.findall(r"^```sh\n(.*?)^```", README, re.S | re.M)]


def serve_block() -> list[str]:
    (block,) = [b for b in sh_blocks() if b and b[0].startswith("fusion-connector plan")]
    return block


def test_the_first_commands_install_the_demo_extra_then_the_development_extras() -> None:
    assert sh_blocks()[0] == ["python3 -m pip install '.[demo]' && fusion-connector demo",
                              "python3 -m pip install -e '.[dev]' && python3 -m pytest"]
    assert "python3 -m pip install '.[demo]'" in MOCKS_MISSING  # the hint without the mocks says the same


def test_the_serve_commands_are_what_demo_serve_prints() -> None:
    assert serve_block() == serve_commands(DEFAULT_METRICS, kubectl=True)
    assert f"`{DEFAULT_METRICS}`" in README


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_the_serve_commands_run_against_the_served_demo(tmp_path: Path) -> None:
    with served(tmp_path) as demo:
        commands = [line.replace(DEFAULT_METRICS, demo.field("metrics")) for line in serve_block()]
        if shutil.which("kubectl") is None:
            commands = [line for line in commands if not line.startswith("kubectl")]
        shell = tmp_path / "shell"
        shell.mkdir()
        outputs = run_commands(commands, shell, demo.shell)
        assert len(outputs) == len(commands) >= 4
        assert "checkout-to-stripe" in outputs[1]


@pytest.mark.parametrize("required", [None, "FC_REQUIRE_CHROMIUM", "CI"])
def test_without_chromium_the_browser_tests_skip_unless_the_environment_requires_it(
        required: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As the README says; `.ci/run` sets FC_REQUIRE_CHROMIUM."""
    from tests.connector.reports import browser

    for name in ("FC_REQUIRE_CHROMIUM", "CI"):
        monkeypatch.delenv(name, raising=False)
    if required:
        monkeypatch.setenv(required, "1")
    monkeypatch.setattr(browser, "CHROMIUM", str(tmp_path / "no-chromium"))
    outcome = pytest.fail.Exception if required else pytest.skip.Exception
    with pytest.raises(outcome, match="chromium"):
        browser.chromium()
    assert "export FC_REQUIRE_CHROMIUM=1" in (REPO / ".ci" / "run").read_text()
    assert "FC_REQUIRE_CHROMIUM=1" in README
