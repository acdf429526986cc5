"""The capacity check: the tables above their limit, named with count and limit."""

from __future__ import annotations

from connector.planner.capacity import CapacityReport, Table, TableExceeded, TableUsage, describe, exceeded


def test_only_counts_above_a_limit_are_exceeded() -> None:
    tables = (TableUsage(Table.POLICIES, 10_001, 10_000), TableUsage(Table.ADDRESSES, 20_000, 20_000),
              TableUsage(Table.SERVICES, 5, None), TableUsage(Table.ADDRESS_GROUPS, 2_600, 2_500))
    assert exceeded(tables) == (TableExceeded(Table.POLICIES, 10_001, 10_000),
                                TableExceeded(Table.ADDRESS_GROUPS, 2_600, 2_500))
    assert [t.over for t in tables] == [True, False, False, True]


def test_nothing_is_exceeded_without_limits_or_tables() -> None:
    assert exceeded(()) == ()
    assert CapacityReport("fgt", (TableUsage(Table.RULES, 10**9),)).exceeded == ()


def test_the_description_names_table_count_and_limit() -> None:
    report = CapacityReport("fgt", (TableUsage(Table.POLICIES, 12, 10),
                                    TableUsage(Table.GROUP_MEMBERS, 700, 600)))
    assert describe(report.exceeded) == "policies 12 > limit 10; groupMembers 700 > limit 600"
    assert report.usage(Table.POLICIES) == TableUsage(Table.POLICIES, 12, 10)
    assert report.usage(Table.RULES) is None
    assert report.to_json()["exceeded"] == [{"table": "policies", "count": 12, "limit": 10},
                                            {"table": "groupMembers", "count": 700, "limit": 600}]


def test_table_names_are_the_configuration_keys() -> None:
    from adapters.f5.config import AS3Capacity
    from adapters.fortios.config import FortiOSCapacity
    from adapters.rest.config import RestCapacity

    aliases = {field.alias or name for model in (FortiOSCapacity, AS3Capacity, RestCapacity)
               for name, field in model.model_fields.items()}
    assert {t.value for t in Table} == aliases
