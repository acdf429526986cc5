"""Device object names: alphabet, leading letter, length limit, stable hash suffix, readability, the
cluster once, and names unique by construction (contested names resolved as a function of the claims,
kept up to date claim by claim)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base.naming import (
    NameRules,
    UniqueNames,
    group_name,
    keyed_name,
    local_key,
    make_name,
    object_name,
    rule_name,
    stable_hash,
    unique_names,
)
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


def test_the_cluster_appears_once() -> None:
    rules = NameRules(max_length=79, allowed="A-Za-z0-9_/-")
    assert object_name("c1", "src", "c1/payments/svc/api", rules) == "fc_c1_src_payments/svc/api"
    assert object_name("c1", "src", "c10/payments", rules) == "fc_c1_src_c10/payments"
    assert local_key("c1", "c1/_cluster/rule/dns") == "_cluster/rule/dns"


def test_keyed_names_end_in_a_hash_of_the_key() -> None:
    a = keyed_name(["fc", "rt", "default"], "rt/t2066/default", FORTI_POLICY)
    b = keyed_name(["fc", "rt", "default"], "rt/t4399/default", FORTI_POLICY)
    assert re.fullmatch(r"fc-rt-default-[0-9a-f]{10}", a) and a != b
    long = keyed_name(["fc", "rt", "x" * 50], "k", FORTI_POLICY)
    assert len(long) == 35 and long.endswith("-" + stable_hash("k", 10))


# --- unique names ----------------------------------------------------------------------------------
TINY = NameRules(max_length=12, allowed="a-z0-9_", separator="_", replacement="_", hash_length=1)


def test_the_smallest_identity_keeps_a_contested_name_and_the_others_get_another() -> None:
    names = unique_names({"b": "x", "a": "x", "c": "y"}, TINY)
    assert names["a"] == "x" and names["c"] == "y" and names["b"] not in ("x", "y")
    assert unique_names({"c": "y", "a": "x", "b": "x"}, TINY) == names  # a function of the set
    assert "x" not in unique_names({"a": "x"}, TINY, reserved={"x"}).values()


def test_an_object_keeps_its_name_when_an_unrelated_one_appears() -> None:
    space = UniqueNames(TINY)
    assert space.acquire("m", "x") == "x"
    assert space.acquire("z", "x") != "x" and space.name("m") == "x"  # a larger identity moves aside
    assert space.renamed == set()
    space.acquire("a", "x")  # a smaller one takes it: m moved while held, its users must follow
    assert space.name("a") == "x" and space.renamed == {"m"}
    space.release("a")
    assert space.name("m") == "x"


Step = tuple[bool, str, str]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from("abcdefgh"), st.sampled_from(["x", "y", "x_0"])),
                max_size=40),
       st.sets(st.sampled_from(["x", "y", "x_1", "x_2"]), max_size=2))
def test_names_kept_up_to_date_equal_the_names_of_the_claims_held(steps: list[Step],
                                                                  reserved: set[str]) -> None:
    # one hex digit of hash and three preferred names for eight identities: contests everywhere
    space = UniqueNames(TINY, reserved)
    held: dict[str, list[str]] = {}
    for acquire, ident, base in steps:
        before = {i: space.name(i) for i in held}
        if acquire:
            base = held[ident][0] if ident in held else base
            space.acquire(ident, base)
            held.setdefault(ident, []).append(base)
        elif ident in held:
            space.release(ident)
            held[ident].pop()
            if not held[ident]:
                del held[ident]
        expected = unique_names({i: bases[0] for i, bases in held.items()}, TINY, reserved)
        assert {i: space.name(i) for i in held} == expected
        assert space.held() == {i: bases[0] for i, bases in held.items()}
        moved = {i for i in before if i in held and expected[i] != before[i]}
        assert moved <= space.renamed
        space.renamed.clear()


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text("abc/", min_size=1, max_size=6), st.sampled_from(["x", "y", "zz", "n_1"]),
                       max_size=40))
def test_unique_names_are_distinct_valid_and_keep_uncontested_bases(claims: dict[str, str]) -> None:
    names = unique_names(claims, TINY, {"y"})
    assert len(set(names.values())) == len(names) == len(claims) and "y" not in names.values()
    for ident, name in names.items():
        assert len(name) <= TINY.max_length and re.fullmatch("[a-z][a-z0-9_]*", name)
        if claims[ident] != "y" and list(claims.values()).count(claims[ident]) == 1:
            assert name == claims[ident]  # an uncontested preferred name is never taken away
    assert unique_names(dict(reversed(list(claims.items()))), TINY, {"y"}) == names
