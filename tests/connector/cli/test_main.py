"""The command group: commands are imported on first use, under the names `COMMANDS` gives."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from connector.cli import COMMANDS, main

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_every_command_module_defines_the_command_of_its_name() -> None:
    for name, module in COMMANDS.items():
        assert importlib.import_module(module).command.name == name


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    table = result.stdout.split("Commands:\n", 1)[1]
    listed = {line.split()[0] for line in table.splitlines() if line.strip()}
    assert listed == set(COMMANDS)


def test_an_unknown_command_is_refused() -> None:
    result = CliRunner().invoke(main, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command 'no-such-command'" in result.output


def test_a_command_imports_only_its_own_module() -> None:
    script = ("import json, sys; from connector.cli import main\n"
              "try:\n    main(['snapshot', '--help'])\nexcept SystemExit:\n    pass\n"
              "print(json.dumps(sorted(m for m in sys.modules if m.startswith('connector.cli.'))))")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120, check=True)
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert "connector.cli.snapshot" in loaded
    assert not {"connector.cli.demo", "connector.cli.run", "connector.cli.review"} & set(loaded)
