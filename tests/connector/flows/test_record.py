"""`slot_init` (connector/flows/record.py): the same constructor as the generated one."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from datetime import UTC, datetime

import pytest

from connector.flows.record import FlowLine, FlowRecord, slot_init


@dataclasses.dataclass(frozen=True, slots=True)
class Generated:
    a: int
    b: str
    c: int | None = None
    d: tuple[int, ...] = ()


@slot_init
@dataclasses.dataclass(frozen=True, slots=True)
class Fast:
    a: int
    b: str
    c: int | None = None
    d: tuple[int, ...] = ()


def values(item: object) -> tuple[object, ...]:
    return dataclasses.astuple(item)  # type: ignore[call-overload, no-any-return]


@pytest.mark.parametrize(("args", "kwargs"), [
    ((1, "x"), {}), ((1, "x", 3), {}), ((1, "x", 3, (4,)), {}), ((1,), {"b": "y", "d": (5,)}),
    ((), {"d": (), "c": 0, "b": "", "a": 2}),
])
def test_the_same_fields_as_the_generated_init(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    assert values(Fast(*args, **kwargs)) == values(Generated(*args, **kwargs))


@pytest.mark.parametrize(("args", "kwargs"), [
    ((1,), {}), ((1, "x", 3, (), 5), {}), ((1, "x"), {"a": 2}), ((1, "x"), {"e": 1}),
])
def test_the_same_errors_as_the_generated_init(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        Generated(*args, **kwargs)
    with pytest.raises(TypeError):
        Fast(*args, **kwargs)


def test_still_frozen_hashable_replaceable_and_picklable() -> None:
    item = Fast(1, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.a = 2  # type: ignore[misc]
    assert hash(item) == hash(Fast(1, "x")) and item == Fast(1, "x") and item != Fast(2, "x")
    assert dataclasses.replace(item, c=7) == Fast(1, "x", 7)
    assert pickle.loads(pickle.dumps(item)) == item


def test_the_flow_types_keep_their_signatures() -> None:
    line = FlowLine(datetime(2026, 1, 1, tzinfo=UTC), "fw", "Allow", "10.0.0.1", "10.0.0.2", "TCP")
    assert (line.src_port, line.dst_port, line.device_rule, line.device_rule_id, line.count) == (
        None, None, None, None, 1)
    record = FlowRecord(line, None, None)
    assert (record.ambiguous, record.candidates, record.count) == (False, (), 1)
    assert list(inspect.signature(FlowLine).parameters) == [f.name for f in dataclasses.fields(FlowLine)]


def test_fields_with_a_default_factory_are_refused() -> None:
    with pytest.raises(TypeError, match="plain fields"):
        @slot_init
        @dataclasses.dataclass(frozen=True, slots=True)
        class Listed:
            items: list[int] = dataclasses.field(default_factory=list)
