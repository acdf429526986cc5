"""Helpers for end-to-end tests that run mocks as real processes.

`start_mock(kind, *args)` is a context manager starting `python -m mocks <kind> --port 0 *args`,
waiting for its `listening on http://HOST:PORT` line and yielding `(url, process)`; the process is
terminated (then killed) on exit. The `launch_mock` fixture does the same and cleans up at teardown:
`url, process = launch_mock("kube")`. Import the context manager from other test packages with
`from tests.e2e.conftest import start_mock`; `start_mocks((kind, *args), ...)` starts several side by
side.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0
_LISTENING = re.compile(r"listening on (https?://\S+)")


def _read_first_line(process: subprocess.Popen[str], timeout: float) -> str | None:
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        lines.append(process.stdout.readline())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else None


def _drain(process: subprocess.Popen[str]) -> None:
    """Keep reading stdout so that a chatty mock never blocks on a full pipe."""
    assert process.stdout is not None
    for _ in process.stdout:
        pass


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _launch(kind: str, args: Sequence[str], stderr: IO[str]) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-m", "mocks", kind, "--host", "127.0.0.1", "--port", "0", *args],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)


@contextlib.contextmanager
def _serving(kind: str, process: subprocess.Popen[str], stderr: IO[str], timeout: float
             ) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Wait for a launched mock's `listening on` line; yield (url, process); stop it on exit."""
    drain: threading.Thread | None = None
    try:
        line = _read_first_line(process, timeout)
        match = _LISTENING.search(line or "")
        if match is None:
            _stop(process)
            stderr.seek(0)
            raise RuntimeError(f"mock {kind} did not start (first line {line!r}): "
                               f"{stderr.read()[-2000:]}")
        drain = threading.Thread(target=_drain, args=(process,), daemon=True)
        drain.start()
        yield match.group(1), process
    finally:
        _stop(process)
        if drain is not None:
            drain.join(5)
        if process.stdout is not None and (drain is None or not drain.is_alive()):
            process.stdout.close()


@contextlib.contextmanager
def start_mock(kind: str, *args: str, timeout: float = STARTUP_TIMEOUT
               ) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Run `python -m mocks <kind> --host 127.0.0.1 --port 0 *args`; yield (url, process)."""
    with tempfile.TemporaryFile("w+") as stderr, \
            _serving(kind, _launch(kind, args, stderr), stderr, timeout) as started:
        yield started


@contextlib.contextmanager
def start_mocks(*specs: Sequence[str], timeout: float = STARTUP_TIMEOUT
                ) -> Iterator[list[tuple[str, subprocess.Popen[str]]]]:
    """Several mocks, each spec `(kind, *args)` as for `start_mock`, started side by side (their
    start-ups overlap); yields their (url, process) in the order given; all stopped on exit."""
    with contextlib.ExitStack() as stack:
        launched = []
        for kind, *args in specs:
            stderr = stack.enter_context(tempfile.TemporaryFile("w+"))
            process = _launch(kind, args, stderr)
            stack.callback(_stop, process)  # stopped even when another one fails to start
            launched.append((kind, process, stderr))
        yield [stack.enter_context(_serving(kind, process, stderr, timeout))
               for kind, process, stderr in launched]


@pytest.fixture
def launch_mock() -> Iterator[Callable[..., tuple[str, subprocess.Popen[str]]]]:
    """A function starting a mock process (see `start_mock`); every one is stopped at teardown."""
    with contextlib.ExitStack() as stack:
        def launch(kind: str, *args: str) -> tuple[str, subprocess.Popen[str]]:
            return stack.enter_context(start_mock(kind, *args))

        yield launch
