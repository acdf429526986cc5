"""Per-request options the object operations read without changing their signatures.

The router sets `REQUEST` for the duration of one API request; direct callers (controllers, the
bulk loader, tests calling `Api` in process) run without one, and then nothing is validated
strictly, no warning is collected and no field ownership is recorded.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any

FIELD_VALIDATION = ("Ignore", "Warn", "Strict")


@dataclass
class RequestOptions:
    """`field_manager`: the manager recorded in managedFields (the fieldManager parameter, else the
    User-Agent's product name); `field_validation`: Ignore, Warn (default) or Strict; `force`:
    server-side apply takes conflicting fields; `applying`/`applied`: a server-side apply and
    its configuration; `user`: the authenticated user (with RBAC on); `grace_seconds`: the
    gracePeriodSeconds parameter;
    `warnings`: the texts the response carries as `Warning: 299 - "..."` headers."""

    field_manager: str = ""
    field_validation: str = "Warn"
    force: bool = False
    grace_seconds: int | None = None
    applying: bool = False
    applied: dict[str, Any] | None = None
    user: Any = None
    warnings: list[str] = field(default_factory=list)


REQUEST: contextvars.ContextVar[RequestOptions | None] = contextvars.ContextVar("request", default=None)


def current() -> RequestOptions | None:
    return REQUEST.get()


def warn(text: str) -> None:
    options = REQUEST.get()
    if options is not None and text not in options.warnings:
        options.warnings.append(text)
