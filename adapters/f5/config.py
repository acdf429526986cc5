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
    """The forwarding virtual server. `sourceAddresses` (networks) scopes it to traffic from
    them (AS3 `[destination, source]` virtual addresses): several clusters on one BIG-IP each
    declare a wildcard virtual of their own, which the device refuses when two are identical in one
    route domain (docs/multi-cluster.md)."""

    address: str = "0.0.0.0"
    gateways: list[str] = Field(default_factory=list)
    port: int = Field(default=0, ge=0, le=65535)
    source_addresses: list[str] = Field(default_factory=list, alias="sourceAddresses")

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

    @field_validator("source_addresses")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        out = []
        for item in value:
            try:
                out.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ValueError(f"{item!r} is not an IP network such as 10.244.0.0/16") from None
        if len(set(out)) != len(out):
            raise ValueError("networks must be distinct")
        return out

    @model_validator(mode="after")
    def _a_source_per_address(self) -> VirtualServerAttach:
        version = ipaddress.ip_address(self.address).version
        if self.source_addresses and self.address != "0.0.0.0" and not any(
                ipaddress.ip_network(s).version == version for s in self.source_addresses):
            raise ValueError(f"sourceAddresses has no IPv{version} network for address {self.address}")
        if self.source_addresses and self.address == "0.0.0.0" and not any(
                ipaddress.ip_network(s).version == 4 for s in self.source_addresses):
            raise ValueError("sourceAddresses has no IPv4 network for address 0.0.0.0")
        return self


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
