"""Deterministic device object names, shared by every adapter.

A name is built from the cluster, what the object is (`src` group, `dst` destination, `ports`,
`rule`) and the model key without its leading `CLUSTER/` (the name carries the cluster once), so
that a human at the firewall console can tell where it comes from, e.g.
`fc_prod-eu1_src_payments/svc/api` for the key `prod-eu1/payments/svc/api`.

Contract of `make_name` (per device `NameRules`):
- only characters of the device's alphabet appear; others are replaced by `rules.replacement`;
- the name starts with a letter (`rules.lead` is prefixed otherwise);
- at most `rules.max_length` characters;
- when the text had to be altered (characters replaced, prefixed, lower-cased) or shortened, a
  stable hash of the original text is appended (`<separator><hash_length hex digits>`), so equal
  texts always give the same name and distinct texts almost always distinct ones.

Names are unique by construction (`unique_names`, kept up to date by `UniqueNames`): each object
of one device name table claims a name for its identity (`ident`, what it stands for, e.g.
`src:<key>`) with a preferred name (`base`, from `make_name`). The names handed out are a pure
function of the set of claims, so the same desired set always gets the same names:
- level 0: every identity wants its base; a name wanted by several goes to the smallest identity;
- an identity that lost, or whose wanted name is reserved or was taken at an earlier level, wants
  at level k `alternate(base, ident, k)`: the base shortened, then the separator and a hash of the
  identity and k (levels 1 to `ALTERNATE_HASH_LEVELS`), or the separator and k (a counter, so
  that the search always ends);
- a name taken at one level is never taken from it at a later one.
An identity whose base no other identity claims therefore always gets its base: an object keeps
its name when an unrelated object appears, and with 10 hash digits a colliding base is a rare
event (or a deliberate one) that costs a name with a second hash, never an error.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from connector.model import CompiledRule, Destination, PortSet, SourceGroup

PREFIX = "fc"
ALTERNATE_HASH_LEVELS = 3


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


def keyed_name(parts: Sequence[str], key: str, rules: NameRules) -> str:
    """The non-empty `parts` joined and sanitized like `make_name`, shortened to leave room for
    `<separator>` and `rules.hash_length` hex digits of a stable hash of `key`, which always end
    the name: for objects whose readable parts repeat (a rule name in many namespaces)."""
    text = rules.separator.join(part for part in parts if part)
    suffix = rules.separator + stable_hash(key, rules.hash_length)
    name = rules.sanitize(text)
    if name and not (name[0].isascii() and name[0].isalpha()):
        name = rules.lead + rules.separator + name
    head = name[:rules.max_length - len(suffix)].rstrip(rules.separator + rules.replacement)
    return (head or rules.lead) + suffix


def local_key(cluster: str, key: str) -> str:
    """`key` without its leading `CLUSTER/` (model keys start with the cluster)."""
    prefix = cluster + "/"
    return key[len(prefix):] if cluster and key.startswith(prefix) and len(key) > len(prefix) else key


def object_name(cluster: str, tag: str, key: str, rules: NameRules) -> str:
    """`fc<sep>CLUSTER<sep>TAG<sep>KEY` under `rules`, KEY without its leading `CLUSTER/`."""
    return make_name([PREFIX, cluster, tag, local_key(cluster, key)], rules)


def group_name(cluster: str, group: SourceGroup, rules: NameRules) -> str:
    return object_name(cluster, "src", group.key, rules)


def destination_name(cluster: str, destination: Destination, rules: NameRules) -> str:
    return object_name(cluster, "dst", destination.key, rules)


def port_set_name(cluster: str, port_set: PortSet, rules: NameRules) -> str:
    return object_name(cluster, "ports", port_set.key, rules)


def rule_name(cluster: str, rule: CompiledRule, rules: NameRules) -> str:
    return object_name(cluster, "rule", rule.key, rules)


# --- unique names ----------------------------------------------------------------------------------
def alternate(base: str, ident: str, level: int, rules: NameRules) -> str:
    """The name identity `ident` wants at `level` (>= 1) after losing `base` (module docstring)."""
    if level <= ALTERNATE_HASH_LEVELS:
        suffix = rules.separator + stable_hash(f"{ident}\n{level}", rules.hash_length)
    else:
        suffix = rules.separator + str(level)
    head = base[:rules.max_length - len(suffix)].rstrip(rules.separator + rules.replacement)
    return (head or rules.lead) + suffix


def _resolve(claims: Mapping[str, str], rules: NameRules,
             reserved: Collection[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(ident -> name, ident -> the names it wanted, in level order) for `claims` (ident -> base)."""
    names: dict[str, str] = {}
    paths: dict[str, list[str]] = {ident: [] for ident in claims}
    taken = set(reserved)
    wanted = dict(claims)
    level = 0
    while wanted:
        by_name: dict[str, list[str]] = {}
        for ident, name in wanted.items():
            by_name.setdefault(name, []).append(ident)
            paths[ident].append(name)
        level += 1
        later: dict[str, str] = {}
        for name, idents in by_name.items():
            winner = None
            if name not in taken:
                winner = min(idents)
                names[winner] = name
                taken.add(name)
            for ident in idents:
                if ident != winner:
                    later[ident] = alternate(claims[ident], ident, level, rules)
        wanted = later
    return names, paths


def unique_names(claims: Mapping[str, str], rules: NameRules,
                 reserved: Collection[str] = ()) -> dict[str, str]:
    """A distinct name for every identity of `claims` (ident -> preferred name), none of them in
    `reserved`: a pure function of its arguments (module docstring)."""
    return _resolve(claims, rules, frozenset(reserved))[0]


class UniqueNames:
    """`unique_names` of the identities currently claimed, kept up to date claim by claim.

    `acquire(ident, base)` counts one more user of `ident` and returns its name; `release(ident)`
    counts one less (the claim ends with its last user). Names always equal `unique_names` of the
    claims held. A claim or release that changes no contested name costs O(1); one that does
    resolves every claim again and adds to `renamed` the identities, still held, whose name changed
    (their users hold a stale name and must be rebuilt). `pinned(...)` starts with claims held by a
    pin each, which `unpin()` releases: a rebuild under those pins sees the final names at once."""

    def __init__(self, rules: NameRules, reserved: Iterable[str] = ()) -> None:
        self.rules = rules
        self.reserved = frozenset(reserved)
        self.renamed: set[str] = set()
        self._base: dict[str, str] = {}
        self._count: dict[str, int] = {}
        self._name: dict[str, str] = {}
        self._path: dict[str, list[str]] = {}
        self._tried: dict[str, set[str]] = {}  # name -> identities that wanted it
        self._pins: list[str] = []

    @classmethod
    def pinned(cls, rules: NameRules, claims: Mapping[str, str], reserved: Iterable[str] = ()) -> UniqueNames:
        names = cls(rules, reserved)
        names._base = dict(claims)
        names._count = dict.fromkeys(claims, 1)
        names._pins = list(claims)
        names._settle()
        return names

    def unpin(self) -> None:
        pins, self._pins = self._pins, []
        for ident in pins:
            self.release(ident)

    def held(self) -> dict[str, str]:
        """The claims held: ident -> preferred name."""
        return dict(self._base)

    def name(self, ident: str) -> str:
        return self._name[ident]

    def acquire(self, ident: str, base: str) -> str:
        count = self._count.get(ident, 0)
        self._count[ident] = count + 1
        if count and self._base[ident] == base:
            return self._name[ident]
        self._base[ident] = base
        if count:  # the same identity with another preferred name: its users see the change
            self._settle()
        elif base in self._tried or base in self.reserved:
            self._settle(new=ident)
        else:
            self._name[ident] = base
            self._path[ident] = [base]
            self._tried[base] = {ident}
        return self._name[ident]

    def release(self, ident: str) -> None:
        count = self._count[ident] - 1
        if count:
            self._count[ident] = count
            return
        del self._count[ident], self._base[ident]
        name = self._name.pop(ident)
        path = self._path.pop(ident)
        if self._tried.get(name) != {ident}:  # someone else wanted its name: it may move up
            self._settle()
            return
        for wanted in path:
            users = self._tried[wanted]
            users.discard(ident)
            if not users:
                del self._tried[wanted]

    def _settle(self, new: str | None = None) -> None:
        old = self._name
        self._name, self._path = _resolve(self._base, self.rules, self.reserved)
        self._tried = {}
        for ident, path in self._path.items():
            for wanted in path:
                self._tried.setdefault(wanted, set()).add(ident)
        self.renamed.update(ident for ident, name in old.items()
                            if ident != new and ident in self._name and self._name[ident] != name)
