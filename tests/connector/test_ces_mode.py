"""Rules imported from F5 CES are enforced: the conversion writes no `mode`, the API server's
default is `Enforce`, and the compiler enforces them (nothing staged)."""

from __future__ import annotations

from connector.model import Mode
from tests.connector.compiler.builders import namespace, settings
from tests.connector.compiler.helpers import compile_objects
from tests.connector.test_ces import EXSVC, ces, run
from tests.helm.test_crds import CRDS, apply_defaults


def test_imported_rules_have_no_mode_and_compile_enforced() -> None:
    service_rule = {"action": "drop", "externalServices": ["db"], "service": "api"}
    result = run(ces("ServiceEgressRule", "r", service_rule),
                 ces("NamespaceEgressRule", "n", {"action": "accept", "externalServices": ["db"]}), EXSVC)
    assert result.ok, result.errors
    rules = [r for r in result.resources if r["kind"].endswith("EgressRule")]
    assert len(rules) == 2 and all("mode" not in r["spec"] for r in rules)
    for rule in rules:
        assert apply_defaults(CRDS[rule["kind"]].schema, rule)["spec"]["mode"] == "Enforce"
    compiled = compile_objects([namespace("default"), *result.resources], settings())
    statuses = [s for ref, s in compiled.rules.items() if ref.namespace == "default"]
    assert statuses and all(s.mode is Mode.ENFORCE for s in statuses)
    assert all(not state.staged.rules for state in compiled.devices.values())
