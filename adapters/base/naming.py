"""Deterministic device object names, shared by every adapter.

A name is built from the cluster, what the object is (`src` group, `dst` destination, `ports`,
`rule`) and the model key (which names the namespace, Service and rule behind it), so that a
human at the firewall console can tell where it comes from, e.g. `fc_prod-eu1_src_svc_payments_api`.

Contract of `make_name` (per device `NameRules`):
- only characters of the device's alphabet appear; others are replaced by `rules.replacement`;
- the name starts with a letter (`rules.lead` is prefixed otherwise);
- at most `rules.max_length` characters;
- when the text had to be altered (characters replaced, prefixed, lower-cased) or shortened, a
  stable hash of the original text is appended (`<separator><hash_length hex digits>`), so distinct
  texts keep distinct names and equal texts always give the same name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from connector.model import CompiledRule, Destination, PortSet, SourceGroup

PREFIX = "fc"


@dataclass(frozen=True)
class NameRules:
    """A device's naming rules. `allowed` is the body of a regex character class."""

    max_length: int
    allowed: str = "A-Za-z0-9_-"
    separator: str = "_"
    replacement: str = "_"
    lowercase: bool = False
    lead: str = "n"
    hash_length: int = 10

    def __post_init__(self) -> None:
        for char in (self.separator, self.replacement):
            if not self._char.fullmatch(char):
                raise ValueError(f"{char!r} is not in the allowed characters [{self.allowed}]")
        if not re.fullmatch("[A-Za-z]+", self.lead):
            raise ValueError("lead must be letters")
        if self.max_length < self.hash_length + len(self.separator) + len(self.lead):
            raise ValueError(f"max_length {self.max_length} leaves no room for a hash suffix")

    @cached_property
    def _char(self) -> re.Pattern[str]:
        return re.compile(f"[{self.allowed}]")

    @cached_property
    def _other(self) -> re.Pattern[str]:
        return re.compile(f"[^{self.allowed}]")

    def sanitize(self, text: str) -> str:
        return self._other.sub(self.replacement, text.lower() if self.lowercase else text)


def stable_hash(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def make_name(parts: Sequence[str], rules: NameRules) -> str:
    """A device name for the non-empty `parts` joined by the separator (see module contract)."""
    text = rules.separator.join(part for part in parts if part)
    if not text:
        raise ValueError("a name needs at least one non-empty part")
    name = rules.sanitize(text)
    if not (name[0].isascii() and name[0].isalpha()):
        name = rules.lead + rules.separator + name
    if name == text and len(name) <= rules.max_length:
        return name
    suffix = rules.separator + stable_hash(text, rules.hash_length)
    head = name[:rules.max_length - len(suffix)].rstrip(rules.separator + rules.replacement)
    return (head or rules.lead) + suffix


def object_name(cluster: str, tag: str, key: str, rules: NameRules) -> str:
    """`fc<sep>CLUSTER<sep>TAG<sep>KEY` under `rules`."""
    return make_name([PREFIX, cluster, tag, key], rules)


def group_name(cluster: str, group: SourceGroup, rules: NameRules) -> str:
    return object_name(cluster, "src", group.key, rules)


def destination_name(cluster: str, destination: Destination, rules: NameRules) -> str:
    return object_name(cluster, "dst", destination.key, rules)


def port_set_name(cluster: str, port_set: PortSet, rules: NameRules) -> str:
    return object_name(cluster, "ports", port_set.key, rules)


def rule_name(cluster: str, rule: CompiledRule, rules: NameRules) -> str:
    return object_name(cluster, "rule", rule.key, rules)
