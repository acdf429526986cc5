"""The configuration of a FortiGate device (`type: fortios`; docs/configuration.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from adapters.base.config import TokenAuth
from connector.config import DeviceConfig, Strict


class FortiOSCapacity(Strict):
    """Per-VDOM table sizes of the FortiGate (defaults: a mid-range model); the planner never
    exceeds them, and groups are split to hold at most `groupMembers` members each."""

    addresses: int = Field(default=20000, ge=1)
    address_groups: int = Field(default=2500, ge=1, alias="addressGroups")
    group_members: int = Field(default=600, ge=2, alias="groupMembers")
    services: int = Field(default=4096, ge=1)
    policies: int = Field(default=10000, ge=1)


class Placement(Strict):
    before: int | None = Field(default=None, ge=0)
    top: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Placement:
        if (self.before is None) == (not self.top):
            raise ValueError("set exactly one of before: POLICY_ID and top: true")
        return self


class FortiOSDevice(DeviceConfig):
    type: Literal["fortios"]
    auth: TokenAuth
    vdom: str = "root"
    srcintf: list[str] = Field(default_factory=lambda: ["any"], min_length=1)
    dstintf: list[str] = Field(default_factory=lambda: ["any"], min_length=1)
    placement: Placement = Field(default_factory=lambda: Placement(top=True))
    capacity: FortiOSCapacity = Field(default_factory=FortiOSCapacity)
