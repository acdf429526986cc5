"""`fusion-connector demo --serve` as a real process, and the commands it prints run as another
shell would after the printed exports (shared by the demo and README tests)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def clean_environment(tmp_path: Path) -> dict[str, str]:
    """A clean environment: temporary files in `tmp_path/tmp`, the repository importable, and a
    proxy that answers nothing (the demo, and every printed command, must reach the mocks directly)."""
    temporary = tmp_path / "tmp"
    temporary.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_PASSWORD")) and k != "FC_DEMO"}
    env = {k: v for k, v in env.items() if k.upper() not in ("NO_PROXY", "HTTP_PROXY", "HTTPS_PROXY")}
    env.update(TMPDIR=str(temporary), HOME=str(tmp_path), PYTHONPATH=str(REPO),
               HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9")
    return env


@dataclass
class Served:
    """What `demo --serve` printed up to `ready`, and the environment of another shell after its
    exports (this Python's scripts, fusion-connector among them, on PATH)."""

    process: subprocess.Popen[str]
    text: str
    env: dict[str, str]

    @property
    def exports(self) -> dict[str, str]:
        return dict(re.findall(r"^  export (\w+)=(\S+)$", self.text, re.M))

    @property
    def shell(self) -> dict[str, str]:
        path = os.pathsep.join([str(Path(sys.executable).parent), self.env.get("PATH", "/usr/bin:/bin")])
        return {**self.env, **self.exports, "PATH": path}

    def field(self, label: str) -> str:
        """The value printed on the line `LABEL: VALUE`."""
        found = re.search(rf"^{re.escape(label)}: (\S+)$", self.text, re.M)
        assert found is not None, f"no {label!r} line in:\n{self.text}"
        return found.group(1)

    @property
    def commands(self) -> list[str]:
        """The commands printed under `then try:`, one per line with its comment."""
        block = self.text.split("\nthen try:\n", 1)[1].split("\nready", 1)[0]
        lines = block.splitlines()
        return [line[2:] for line in lines if line.startswith("  ") and not line.startswith("  (")]

    def stop(self) -> str:
        """SIGTERM, and what the process printed after `ready`."""
        self.process.send_signal(signal.SIGTERM)
        rest, _ = self.process.communicate(timeout=30)
        return rest


@contextlib.contextmanager
def served(tmp_path: Path, *args: str) -> Iterator[Served]:
    env = clean_environment(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "connector", "demo", "--serve", *args], cwd=tmp_path,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("ready"):
                break
        text = "".join(lines)
        assert "ready: press Ctrl-C to stop" in text, text
        yield Served(process, text, env)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def run_commands(commands: list[str], cwd: Path, env: dict[str, str]) -> list[str]:
    """Run each shell command line in `cwd` with `env`, in order; the first ones that only read
    (up to the first kubectl) run side by side. Every one must exit 0; their standard outputs."""
    first_kubectl = next((i for i, c in enumerate(commands) if c.startswith("kubectl")), len(commands))
    readers = [_start(command, cwd, env) for command in commands[:first_kubectl]]
    outputs = [_finish(command, process) for command, process in zip(commands, readers, strict=False)]
    for command in commands[first_kubectl:]:
        outputs.append(_finish(command, _start(command, cwd, env)))
    return outputs


def _start(command: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(command: str, process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, f"{command}\nexit {process.returncode}\n{out}{err}"
    return out
