"""Metadata syntax: the API server's messages word for word (apimachinery's validation texts)."""

from __future__ import annotations

from typing import Any

from connector.crds.metadata import ANNOTATIONS_MAX, metadata_causes, name_causes

VALUE_RULE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
              "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
              "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
NAME_RULE = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
             "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
             "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def _texts(metadata: dict[str, Any]) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in metadata_causes({"metadata": metadata})]


def test_a_name_must_be_a_subdomain_or_for_label_named_kinds_a_label() -> None:
    assert name_causes("payments.v2") == []
    assert name_causes("payments.v2", label=True)[0]["message"].startswith(
        'Invalid value: "payments.v2": a lowercase RFC 1123 label must consist of lower case alphanumeric '
        "characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
        "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
    assert name_causes("a" * 254)[0]["message"] == (
        f'Invalid value: "{"a" * 254}": must be no more than 253 characters')
    assert name_causes("")[0]["reason"] == "FieldValueRequired"


def test_label_keys_and_values_give_one_cause_per_problem() -> None:
    assert _texts({"labels": {"example.com/app": "My_Value-1.0", "empty": ""}}) == []
    assert _texts({"labels": {"bad key": "bad value!"}}) == [
        f'metadata.labels: Invalid value: "bad key": {NAME_RULE}',
        f'metadata.labels: Invalid value: "bad value!": {VALUE_RULE}']
    long = "x" * 64
    assert _texts({"labels": {"app": "-" + long}}) == [
        f'metadata.labels: Invalid value: "-{long}": must be no more than 63 characters',
        f'metadata.labels: Invalid value: "-{long}": {VALUE_RULE}']
    assert _texts({"labels": {"/app": "v"}}) == [
        'metadata.labels: Invalid value: "/app": prefix part must be non-empty']


def test_annotation_keys_ignore_case_and_all_annotations_are_bounded_in_size() -> None:
    assert _texts({"annotations": {"Example.COM/Note": "x"}}) == []
    assert _texts({"annotations": {"a": "x" * (ANNOTATIONS_MAX - 1)}}) == []
    too_large = metadata_causes({"metadata": {"annotations": {"a": "x" * ANNOTATIONS_MAX}}})
    assert [(c["field"], c["message"], c["reason"]) for c in too_large] == [
        ("metadata.annotations", "Too long: must have at most 262144 bytes", "FieldValueTooLong")]
