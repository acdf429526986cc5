"""Where a command's document goes: `-` is stdout, anything else a file path."""

from __future__ import annotations

import sys

from connector.cli.common import EXIT_INVALID, fail


def write_document(body: bytes, output: str) -> None:
    """Write `body` to stdout (`output` "-") or to the file `output`; a file that cannot be
    written ends the command with exit 2 and one line naming it."""
    if output == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return
    try:
        with open(output, "wb") as handle:
            handle.write(body)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}", EXIT_INVALID)
