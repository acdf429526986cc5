"""The configuration of an F5 BIG-IP device (`type: f5-as3`; docs/configuration.md)."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from adapters.base.config import BasicAuth
from connector.config import DeviceConfig, Strict


def default_tenant(cluster: str) -> str:
    """`fc_<cluster>` with characters AS3 refuses in tenant names replaced."""
    return "fc_" + re.sub(r"[^0-9A-Za-z_]", "_", cluster)


class VirtualServerAttach(Strict):
    address: str = "0.0.0.0"
    gateways: list[str] = Field(default_factory=list)
    port: int = Field(default=0, ge=0, le=65535)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        ipaddress.ip_address(value)
        return value

    @field_validator("gateways")
    @classmethod
    def _gateways(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_address(item)
        return value


class Attach(Strict):
    virtual_server: VirtualServerAttach | None = Field(default=None, alias="virtualServer")
    route_domain: str | None = Field(default=None, alias="routeDomain")

    @model_validator(mode="after")
    def _exactly_one(self) -> Attach:
        if (self.virtual_server is None) == (self.route_domain is None):
            raise ValueError("set exactly one of virtualServer and routeDomain")
        return self


class AS3Capacity(Strict):
    """Limits of the BIG-IP tenant the planner never exceeds (None: no limit)."""

    address_lists: int | None = Field(default=None, ge=1, alias="addressLists")
    rules: int | None = Field(default=None, ge=1)
    declaration_bytes: int | None = Field(default=None, ge=1, alias="declarationBytes")


class F5Device(DeviceConfig):
    type: Literal["f5-as3"]
    auth: BasicAuth
    tenant: str | None = None
    attach: Attach = Field(default_factory=lambda: Attach(virtualServer=VirtualServerAttach()))
    capacity: AS3Capacity = Field(default_factory=AS3Capacity)

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z][0-9A-Za-z_.-]{0,47}$", value):
            raise ValueError(f"{value!r} is not a valid AS3 tenant name"
                             " (a letter, then letters, digits, _.-)")
        return value

    def tenant_for(self, cluster: str) -> str:
        """The AS3 tenant of this device: its `tenant`, else `default_tenant(cluster)`."""
        return self.tenant or default_tenant(cluster)
