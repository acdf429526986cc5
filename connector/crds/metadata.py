"""Object metadata syntax, checked as the API server's ObjectMeta validation does, with its messages.

Contract (the one implementation: the mock Kubernetes API server imports it):
- `name_causes(name, label=False)`: `metadata.name` is required and must be a lowercase RFC 1123
  subdomain (at most 253 characters), or an RFC 1123 label (at most 63) for the kinds named as
  labels (Namespaces, Services: `label=True`);
- `metadata_causes(obj)`: each label key is a qualified name (`[prefix/]name`: the prefix an RFC
  1123 subdomain of at most 253 characters, the name at most 63 characters of alphanumerics,
  `-`, `_`, `.`, starting and ending alphanumeric), each label value empty or at most 63 such
  characters; each annotation key a qualified name (case ignored) and all annotations together
  (keys and values) at most 256 KiB.
Each cause is a metav1 StatusCause (`field`, `message`, `reason`) whose `field: message` is the
API server's text word for word.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from connector.crds.schema import Cause, cause

LABEL_MAX = 63
SUBDOMAIN_MAX = 253
ANNOTATIONS_MAX = 256 * 1024  # bytes of every key and value together

_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT = _LABEL_FMT + r"(\." + _LABEL_FMT + ")*"
_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_VALUE_FMT = "(" + _NAME_FMT + ")?"
_LABEL = re.compile(f"^{_LABEL_FMT}$")
_SUBDOMAIN = re.compile(f"^{_SUBDOMAIN_FMT}$")
_NAME = re.compile(f"^{_NAME_FMT}$")
_VALUE = re.compile(f"^{_VALUE_FMT}$")


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    """apimachinery's `RegexError`: the rule, examples, and the regex."""
    shown = "".join(f"{' or ' if index else ''}'{example}', " for index, example in enumerate(examples))
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


LABEL_ERROR = _regex_error("a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                           "or '-', and must start and end with an alphanumeric character",
                           _LABEL_FMT, "my-name", "123-abc")
SUBDOMAIN_ERROR = _regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                               "characters, '-' or '.', and must start and end with an alphanumeric "
                               "character", _SUBDOMAIN_FMT, "example.com")
_NAME_MESSAGE = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
                 "an alphanumeric character")
NAME_ERROR = _regex_error("name part " + _NAME_MESSAGE, _NAME_FMT, "MyName", "my.name", "123-abc")
QUALIFIED_ERROR = (_regex_error("a qualified name " + _NAME_MESSAGE, _NAME_FMT, "MyName", "my.name",
                                "123-abc")
                   + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
VALUE_ERROR = _regex_error("a valid label must be an empty string or consist of alphanumeric characters, "
                           "'-', '_' or '.', and must start and end with an alphanumeric character",
                           _VALUE_FMT, "MyValue", "my_value", "12345")


def _quoted(value: str) -> str:
    """A value as Go's `%q` shows it in `Invalid value: ...` (printable ASCII assumed escaped)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _invalid(field: str, value: str, message: str) -> Cause:
    return cause(field, f"Invalid value: {_quoted(value)}: {message}")


def label_problems(name: str) -> list[str]:
    """apimachinery's `IsDNS1123Label`: what makes `name` no RFC 1123 label."""
    problems = [f"must be no more than {LABEL_MAX} characters"] if len(name) > LABEL_MAX else []
    return problems if _LABEL.match(name) else [*problems, LABEL_ERROR]


def subdomain_problems(name: str) -> list[str]:
    """apimachinery's `IsDNS1123Subdomain`."""
    problems = [f"must be no more than {SUBDOMAIN_MAX} characters"] if len(name) > SUBDOMAIN_MAX else []
    return problems if _SUBDOMAIN.match(name) else [*problems, SUBDOMAIN_ERROR]


def qualified_name_problems(value: str) -> list[str]:
    """apimachinery's `IsQualifiedName`: `[prefix/]name`."""
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
        problems: list[str] = []
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            problems = ["prefix part must be non-empty"]
        else:
            problems = ["prefix part " + p for p in subdomain_problems(prefix)]
    else:
        return [QUALIFIED_ERROR]
    if not name:
        return [*problems, "name part must be non-empty"]
    if len(name) > LABEL_MAX:
        problems.append(f"name part must be no more than {LABEL_MAX} characters")
    if not _NAME.match(name):
        problems.append(NAME_ERROR)
    return problems


def label_value_problems(value: str) -> list[str]:
    """apimachinery's `IsValidLabelValue`."""
    problems = [f"must be no more than {LABEL_MAX} characters"] if len(value) > LABEL_MAX else []
    return problems if _VALUE.match(value) else [*problems, VALUE_ERROR]


def name_causes(name: str, label: bool = False) -> list[Cause]:
    """The causes refusing `metadata.name` (module docstring); empty when valid."""
    if not name:
        return [cause("metadata.name", "Required value: name or generateName is required",
                      "FieldValueRequired")]
    problems = label_problems(name) if label else subdomain_problems(name)
    return [_invalid("metadata.name", name, problem) for problem in problems]


def metadata_causes(obj: Mapping[str, Any]) -> list[Cause]:
    """The causes refusing `obj`'s labels and annotations (module docstring); empty when valid."""
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    causes: list[Cause] = []
    labels = metadata.get("labels")
    for key, value in (labels if isinstance(labels, Mapping) else {}).items():
        causes.extend(_invalid("metadata.labels", str(key), p) for p in qualified_name_problems(str(key)))
        text = value if isinstance(value, str) else str(value)
        causes.extend(_invalid("metadata.labels", text, p) for p in label_value_problems(text))
    annotations = metadata.get("annotations")
    annotations = annotations if isinstance(annotations, Mapping) else {}
    for key in annotations:
        causes.extend(_invalid("metadata.annotations", str(key), p)
                      for p in qualified_name_problems(str(key).lower()))
    size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > ANNOTATIONS_MAX:
        causes.append(cause("metadata.annotations", f"Too long: must have at most {ANNOTATIONS_MAX} bytes",
                            "FieldValueTooLong"))
    return causes
