"""The configuration of a generic REST receiver (`type: rest`; docs/configuration.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from connector.config import DeviceConfig, Strict, env_name


class RestAuth(Strict):
    token_env: str | None = Field(default=None, alias="tokenEnv")
    hmac_secret_env: str | None = Field(default=None, alias="hmacSecretEnv")

    _check_env = field_validator("token_env", "hmac_secret_env")(env_name)


class RestCapacity(Strict):
    """Limits of the REST receiver (None: what its `GET /` capabilities say, else no limit)."""

    groups: int | None = Field(default=None, ge=1)
    rules: int | None = Field(default=None, ge=1)


class RestDevice(DeviceConfig):
    """`wildcardFqdn: true` compiles wildcard names (`*.example.com`) for this receiver, which must
    then advertise `wildcardFqdn` in its `GET /` capabilities; false (the default) leaves them off
    with `WildcardFQDNUnsupported` on the rule."""

    type: Literal["rest"]
    auth: RestAuth = Field(default_factory=RestAuth)
    capacity: RestCapacity = Field(default_factory=RestCapacity)
    wildcard_fqdn: bool = Field(default=False, alias="wildcardFqdn")
