"""Packaging of the demo: the controller's wheel carries no mock servers (they are the separate
`fusion-connector-mocks` distribution in mocks-dist/, installed by the `demo` extra), and
`fusion-connector demo` without them says in one line how to install them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from connector.cli.demo import MOCKS_MISSING

REPO = Path(__file__).resolve().parents[3]
# What a checkout holds that a build reads (the demo's package data are links into helm/ and docs/).
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "connector", "adapters", "migrations", "mocks",
                "mocks-dist", "helm/fusion-connector/crds", "docs/examples")


def _checkout_copy(target: Path) -> Path:
    """The build inputs copied to `target` (links kept), so that building leaves the checkout alone."""
    for name in BUILD_INPUTS:
        source, copy = REPO / name, target / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir() and not source.is_symlink():
            shutil.copytree(source, copy, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "build",
                                                                                       "*.egg-info"))
        else:
            shutil.copy2(source, copy, follow_symlinks=False)
    return target


def _wheel(project: Path, out: Path) -> zipfile.ZipFile:
    """`pip wheel PROJECT --no-deps` (an isolated build, as `pip install` does)."""
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out),
               str(project)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


def _top_level(wheel: zipfile.ZipFile) -> set[str]:
    return {name.split("/")[0] for name in wheel.namelist() if not name.split("/")[0].endswith(".dist-info")}


def _metadata(wheel: zipfile.ZipFile) -> list[str]:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return Parser().parsestr(wheel.read(name).decode()).get_all("Requires-Dist") or []


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _checkout_copy(tmp_path_factory.mktemp("checkout"))


@pytest.mark.e2e
def test_the_controller_wheel_carries_no_mocks_and_its_demo_extra_installs_them(
        checkout: Path, tmp_path: Path) -> None:
    wheel = _wheel(checkout, tmp_path)
    assert _top_level(wheel) == {"connector", "adapters", "migrations"}
    assert not [name for name in wheel.namelist() if "mocks" in name.split("/")[0]]
    assert any(name.startswith("connector/demo/crds/") for name in wheel.namelist())  # the demo's data stay
    requires = _metadata(wheel)
    mocks_uri = (checkout / "mocks-dist").resolve().as_uri()
    assert f'fusion-connector-mocks @ {mocks_uri} ; extra == "demo"' in requires
    assert 'fusion-connector[demo,test]; extra == "dev"' in requires


@pytest.mark.e2e
def test_the_mocks_distribution_carries_the_mocks(checkout: Path, tmp_path: Path) -> None:
    wheel = _wheel(checkout / "mocks-dist", tmp_path)
    assert _top_level(wheel) == {"mocks"}
    packages = {name.rsplit("/", 1)[0] for name in wheel.namelist() if name.endswith("/__init__.py")}
    assert packages == {str(p.parent.relative_to(REPO)) for p in (REPO / "mocks").rglob("__init__.py")}


@pytest.mark.e2e
def test_a_wheel_built_without_the_mocks_distribution_has_an_empty_demo_extra(tmp_path: Path) -> None:
    """The container image's build: its context holds no mocks-dist/ (see .dockerignore)."""
    project = _checkout_copy(tmp_path / "src")
    shutil.rmtree(project / "mocks-dist")
    wheel = _wheel(project, tmp_path / "out")
    assert _top_level(wheel) == {"connector", "adapters", "migrations"}
    assert not [r for r in _metadata(wheel) if "mocks" in r]


def test_demo_without_the_mocks_prints_how_to_install_them(tmp_path: Path) -> None:
    script = "import sys; sys.modules['mocks'] = None; from connector.cli import main; main(['demo'])"
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == f"error: {MOCKS_MISSING}\n"
    assert "pip install '.[demo]'" in MOCKS_MISSING
