"""Layering: `adapters` depends on the connector core, never the other way round.

The core (every `connector` module but the wiring module, `connector/wiring.py`) imports no
`adapters` module: device families plug in through the wiring module only. The planner and the
adapter contract take plain numbers, not the configuration models. Adapters import only the core
modules meant for them: the model, the planner, the adapter contract, the configuration kit and
the address parsing shared with the compiler.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIRING = ROOT / "connector" / "wiring.py"
FOR_ADAPTERS = ("connector.model", "connector.planner", "connector.adapter", "connector.config",
                "connector.netaddr")


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported(path: Path) -> Iterator[str]:
    """Every module `path` imports (absolute names; relative imports resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    here = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = here.split(".")[: -node.level]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_walk_finds_the_packages_and_their_imports() -> None:
    assert WIRING in modules("connector") and len(modules("connector")) > 50
    assert any(within(name, "adapters") for name in imported(WIRING))


@pytest.mark.parametrize("path", [p for p in modules("connector") if p != WIRING], ids=rel)
def test_the_core_never_imports_adapters(path: Path) -> None:
    wrong = sorted({name for name in imported(path) if within(name, "adapters")})
    assert not wrong, f"{rel(path)} imports {wrong}: only connector/wiring.py may"


@pytest.mark.parametrize("path", modules("connector/planner") + modules("connector/adapter"), ids=rel)
def test_the_planner_and_the_adapter_contract_take_plain_thresholds(path: Path) -> None:
    wrong = sorted({name for name in imported(path) if within(name, "connector.config")})
    assert not wrong, f"{rel(path)} imports {wrong}"


@pytest.mark.parametrize("path", modules("adapters"), ids=rel)
def test_adapters_use_only_the_core_meant_for_them(path: Path) -> None:
    wrong = sorted({name for name in imported(path) if within(name, "connector")
                    and not any(within(name, allowed) for allowed in FOR_ADAPTERS)})
    assert not wrong, f"{rel(path)} imports {wrong}"
