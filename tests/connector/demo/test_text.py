"""The demo's text: the Cluster table has a heading for every column and says what they mean;
counts are pluralized."""

from __future__ import annotations

from connector.demo.summary import DeviceTally
from connector.demo.text import conclusion, namespaces_text, plural, rules_text
from tests.connector.compiler.builders import external_service, namespace, namespace_rule, pod
from tests.connector.compiler.helpers import compile_objects


def test_plural() -> None:
    assert [plural(n, "rule") for n in (0, 1, 2)] == ["0 rules", "1 rule", "2 rules"]
    assert plural(2, "policy", "policies") == "2 policies"


def _compiled(*extra: dict[str, object]) -> object:
    return compile_objects([namespace("shop"), pod("shop", "web-1", "10.0.0.1"),
                            namespace("free", managed=False), *extra])


def test_every_cluster_column_has_a_heading_and_is_explained() -> None:
    lines = namespaces_text(_compiled())  # type: ignore[arg-type]
    headings = [cell.strip() for cell in lines[0].split("  ") if cell.strip()]
    assert headings == ["namespace", "managed", "source mode", "default action", "devices",
                        "source addresses"]
    assert lines[1].split() == ["shop", "yes", "pod", "Deny", "fw1,", "fw2", "1"]
    assert lines[2].split() == ["free", "no"]
    legend = " ".join(line.strip() for line in lines[3:])
    for column in ("source mode:", "default action:", "devices:", "source addresses:"):
        assert column in legend


def test_rule_counts_are_pluralized() -> None:
    one = _compiled(external_service("shop", "x", ["192.0.2.1"]),
                    namespace_rule("shop", "only", "Allow", externalServices=["x"]))
    assert rules_text(one)[0] == "  1 of 1 rule accepted"  # type: ignore[arg-type]
    two = _compiled(external_service("shop", "x", ["192.0.2.1"]),
                    namespace_rule("shop", "a", "Allow", externalServices=["x"]),
                    namespace_rule("shop", "b", "Allow", externalServices=["missing"]))
    assert rules_text(two)[0] == "  1 of 2 rules accepted"  # type: ignore[arg-type]


def _summary(in_sync: bool, created: int) -> DeviceTally:
    return DeviceTally("fw", "rest", in_sync, None, created, {}, 1, {"create": created}, {}, 0)


def test_the_conclusion_is_pluralized() -> None:
    assert conclusion([_summary(True, 1)]) == "1 device, in sync; 1 change applied."
    assert conclusion([_summary(True, 2), _summary(False, 0)]) == "2 devices, 1 in sync; 2 changes applied."
    assert conclusion([_summary(True, 2), _summary(True, 3)]) == "2 devices, all in sync; 5 changes applied."
