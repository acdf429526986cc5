"""AS3 object names: deterministic, human-meaningful, valid for AS3 and BIG-IP.

AS3 item names match `^[A-Za-z]([0-9A-Za-z_.-]{0,188}[0-9A-Za-z_.])?$` (at most 190 characters, a
letter first, never ending in `-`) and the full path `/<tenant>/Shared/<name>` is at most 255
characters. `as3_name` sanitizes and, when the result is too long, keeps a readable prefix followed by
`_` and a stable 10-hex-digit hash of the unshortened text. `NameBook` hands out one name per logical
key and, when keys would get the same name, keeps it for the smallest key and suffixes the others with
a hash of their own key (`adapters.base.naming.unique_names`), so that names stay unique and
deterministic for a given set of keys.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable

from adapters.base.naming import NameRules, unique_names

MAX_NAME = 190
MAX_PATH = 255
APPLICATION = "Shared"
_INVALID = re.compile(r"[^0-9A-Za-z_.-]+")
_HASH_LEN = 10


def stable_hash(text: str, length: int = _HASH_LEN) -> str:
    """Hex digest prefix of SHA-256 over `text`; stable across runs and machines."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def max_name_length(tenant: str) -> int:
    """The longest item name allowed in `/<tenant>/Shared/`."""
    return min(MAX_NAME, MAX_PATH - len(f"/{tenant}/{APPLICATION}/"))


@functools.lru_cache(maxsize=1 << 16)  # pure; every render names every list again
def as3_name(text: str, limit: int = MAX_NAME) -> str:
    """`text` as a valid AS3 item name of at most `limit` characters."""
    name = _INVALID.sub("_", text).strip("_") or "x"
    if not name[0].isalpha():
        name = "n" + name
    name = name.rstrip("-") or "x"
    if len(name) <= limit:
        return name
    suffix = "_" + stable_hash(text)
    head = name[: limit - len(suffix)].rstrip("-")
    return head + suffix


class NameBook:
    """Unique AS3 names for logical keys. Call `want` for every key, then `name` to read them.

    Names are `adapters.base.naming.unique_names` of the keys' `as3_name`s: a name wanted by one key
    only is that key's; of keys wanting the same name the smallest keeps it and the others get a
    hash of their own key appended, so names are unique and a function of the set of keys. None
    is in `reserved` (the fixed names of the tenant's other items)."""

    def __init__(self, limit: int = MAX_NAME, reserved: Iterable[str] = ()) -> None:
        self.limit = limit
        self.rules = NameRules(max_length=limit, allowed="0-9A-Za-z_.-", separator="_", replacement="_")
        self.reserved = frozenset(reserved)
        self._wanted: dict[str, str] = {}
        self._resolved: dict[str, str] | None = None

    def want(self, key: str, readable: str) -> None:
        self._wanted[key] = readable
        self._resolved = None

    def name(self, key: str) -> str:
        if self._resolved is None:
            self._resolved = self._resolve()
        return self._resolved[key]

    def _resolve(self) -> dict[str, str]:
        plain = {key: as3_name(readable, self.limit) for key, readable in self._wanted.items()}
        return unique_names(plain, self.rules, self.reserved)
