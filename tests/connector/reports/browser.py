"""Headless Chromium for the report tests: the DOM a page renders to, its console messages, and
screenshots with their pixel colours.

Debian's `/usr/bin/chromium` is used when installed (`.ci/run` installs it). Without it the
browser tests are skipped with the reason, unless the environment asks for them
(`FC_REQUIRE_CHROMIUM=1`, or `CI` set, as `.ci/run` runs): then they fail.
"""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile
import zlib
from collections import Counter
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
REQUIRE_ENV = "FC_REQUIRE_CHROMIUM"
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--hide-scrollbars")


def chromium() -> str:
    """The browser's path; skips (or fails, when the environment asks for it) without one."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    if os.environ.get(REQUIRE_ENV) or os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium); set {REQUIRE_ENV}=1 to require it")


def _run(page: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = tempfile.mkdtemp(dir=tmp)
    return subprocess.run([chromium(), *_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=90, check=True)


def dump_dom(page: Path, tmp: Path) -> tuple[str, list[str]]:
    """The DOM Chromium renders for `page` and every console message it logged."""
    done = _run(page, tmp, "--enable-logging=stderr", "--v=0", "--dump-dom")
    messages = [line for line in done.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    return done.stdout, messages


def screenshot(page: Path, out: Path, tmp: Path, size: tuple[int, int]) -> Path:
    """A PNG of `page` in a window of `size` (width, height)."""
    _run(page, tmp, f"--window-size={size[0]},{size[1]}", f"--screenshot={out}")
    return out


def png_colours(path: Path) -> Counter[tuple[int, int, int]]:
    """How many pixels of each RGB colour an 8-bit RGB or RGBA PNG (as Chromium writes) holds."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, chunks, header = 8, [], b""
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        offset += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour_type in (2, 6), (depth, colour_type)
    step = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * step
    previous = bytearray(stride)
    counts: Counter[tuple[int, int, int]] = Counter()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up = previous[i]
            corner = previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        counts.update(tuple(line[i:i + 3]) for i in range(0, stride, step))  # type: ignore[misc]
        previous = line
    return counts
