"""Device object names: alphabet, leading letter, length limit, stable hash suffix, readability."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base.naming import NameRules, group_name, make_name, object_name, rule_name
from connector.model import Action, CompiledRule, RuleKind, RuleOrigin, SourceGroup, Tier

AS3 = NameRules(max_length=190, allowed="A-Za-z0-9_")
FORTI_POLICY = NameRules(max_length=35, allowed="A-Za-z0-9_.-", separator="-", replacement="_")


def test_clean_text_is_kept_verbatim() -> None:
    rules = NameRules(max_length=63, allowed="A-Za-z0-9_.:/-", separator=".")
    assert object_name("prod-eu1", "src", "svc/payments/api", rules) == "fc.prod-eu1.src.svc/payments/api"


def test_replaced_characters_add_a_stable_hash() -> None:
    name = object_name("prod-eu1", "src", "svc/payments/api", AS3)
    assert re.fullmatch(r"fc_prod_eu1_src_svc_payments_api_[0-9a-f]{10}", name)
    assert object_name("prod-eu1", "src", "svc/payments/api", AS3) == name
    # texts that sanitize alike keep distinct names
    assert object_name("prod_eu1", "src", "svc/payments/api", AS3) != name


def test_long_names_are_shortened_with_a_hash() -> None:
    key = "rule/payments/" + "very-long-rule-name-" * 5
    name = object_name("prod", "rule", key, FORTI_POLICY)
    assert len(name) == 35 and name.startswith("fc-prod-rule-rule_paymen-")
    assert object_name("prod", "rule", key + "x", FORTI_POLICY) != name


def test_names_start_with_a_letter() -> None:
    assert make_name(["9lives"], AS3).startswith("n_9lives_")
    assert make_name(["_x"], AS3)[0] == "n"


def test_lowercase_rules() -> None:
    rules = NameRules(max_length=40, allowed="a-z0-9-", separator="-", replacement="-", lowercase=True)
    name = make_name(["Prod", "API"], rules)
    assert re.fullmatch(r"prod-api-[0-9a-f]{10}", name)


def test_invalid_rules_are_refused() -> None:
    with pytest.raises(ValueError):
        NameRules(max_length=40, allowed="a-z", separator="_")
    with pytest.raises(ValueError):
        NameRules(max_length=5)
    with pytest.raises(ValueError):
        make_name(["", ""], AS3)


def test_model_helpers_name_cluster_and_key() -> None:
    group = SourceGroup(key="svc/payments/api", cluster="c1", namespace="payments", members=(),
                        service="api", purpose="service")
    rules = NameRules(max_length=79, allowed="A-Za-z0-9_/-")
    assert group_name("c1", group, rules) == "fc_c1_src_svc/payments/api"
    origin = RuleOrigin(RuleKind.SERVICE, "payments", "allow-stripe", Tier.NAMESPACE, 100)
    rule = CompiledRule("ServiceEgressRule/payments/allow-stripe/0", origin, "svc/payments/api", None, None,
                        Action.ALLOW)
    assert "payments_allow-stripe" in rule_name("c1", rule, NameRules(max_length=190))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=4),
       st.sampled_from([AS3, FORTI_POLICY]))
def test_every_name_obeys_the_rules(parts: list[str], rules: NameRules) -> None:
    name = make_name(parts, rules)
    assert len(name) <= rules.max_length
    assert re.fullmatch(f"[A-Za-z][{rules.allowed}]*", name)
    assert make_name(list(parts), rules) == name


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=80))
def test_distinct_keys_give_distinct_names(a: str, b: str) -> None:
    if a != b:
        assert object_name("c", "src", a, FORTI_POLICY) != object_name("c", "src", b, FORTI_POLICY)
