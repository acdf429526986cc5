"""`write_document`: `-` is stdout, a path a file, an unwritable path exit 2 naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.cli.common import EXIT_INVALID
from connector.cli.output import write_document


def test_dash_writes_to_stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    write_document(b"<html>\n", "-")
    assert capsysbinary.readouterr().out == b"<html>\n"


def test_a_path_is_written_and_nothing_goes_to_stdout(tmp_path: Path,
                                                      capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    target = tmp_path / "report.json"
    write_document(b'{"a": 1}', str(target))
    assert target.read_bytes() == b'{"a": 1}'
    assert capsysbinary.readouterr().out == b""


def test_an_unwritable_path_is_exit_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing" / "report.html"
    with pytest.raises(SystemExit) as exited:
        write_document(b"x", str(target))
    assert exited.value.code == EXIT_INVALID
    assert f"cannot write {target}" in capsys.readouterr().err
