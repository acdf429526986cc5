"""Configuration blocks device families share: the `auth` sections naming a secret's variable."""

from __future__ import annotations

from pydantic import Field, field_validator

from connector.config import Strict, env_name


class BasicAuth(Strict):
    """`auth: {username, passwordEnv}`: a user and the variable holding its password."""

    username: str
    password_env: str = Field(alias="passwordEnv")

    _check_env = field_validator("password_env")(env_name)


class TokenAuth(Strict):
    """`auth: {tokenEnv}`: the variable holding an API token."""

    token_env: str = Field(alias="tokenEnv")

    _check_env = field_validator("token_env")(env_name)
