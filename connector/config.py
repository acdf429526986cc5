"""The configuration file (docs/configuration.md), validated strictly.

Unknown keys and bad values are errors naming their path (`devices[0].auth.passwordEnv: ...`).
Secrets never appear in the file: it names environment variables, read by `Secrets`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from connector.planner.types import SafetyThresholds

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_NAME = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ConfigError(ValueError):
    """The configuration is invalid; `problems` lists `path: message` lines."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"invalid configuration {source}:\n  " + "\n  ".join(problems))


def parse_duration(value: Any) -> float:
    """Seconds from `300s`, `500ms`, `5m`, `1h` or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 300s, 500ms or 5m is required")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration such as 300s, 500ms or 5m")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _env_name(value: str | None) -> str | None:
    if value is not None and not _ENV.match(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


class KubernetesConfig(_Strict):
    host: str | None = None
    kubeconfig: str | None = None
    in_cluster: bool | None = Field(default=None, alias="inCluster")
    connector_namespace: str = Field(default="fusion-system", alias="connectorNamespace")
    token_env: str | None = Field(default=None, alias="tokenEnv")
    verify_tls: bool = Field(default=True, alias="verifyTls")
    ca_bundle: str | None = Field(default=None, alias="caBundle")

    _check_env = field_validator("token_env")(_env_name)

    @model_validator(mode="after")
    def _one_source(self) -> KubernetesConfig:
        chosen = [k for k, v in (("host", self.host), ("kubeconfig", self.kubeconfig),
                                 ("inCluster", self.in_cluster)) if v]
        if len(chosen) > 1:
            raise ValueError(f"choose one of host, kubeconfig and inCluster (got {', '.join(chosen)})")
        return self


class NamespacesConfig(_Strict):
    all: bool = False
    exclude: list[str] = Field(default_factory=lambda: ["kube-system", "kube-public", "kube-node-lease"])


class DefaultsConfig(_Strict):
    action: Literal["Deny", "Allow", "None"] = "Deny"
    source_mode: Literal["pod", "egress-ip", "node"] = Field(default="pod", alias="sourceMode")


class ReconcileConfig(_Strict):
    interval: Duration = 300.0
    debounce: Duration = 0.5

    @field_validator("interval", "debounce", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


_SAFETY = SafetyThresholds()


class SafetyConfig(_Strict):
    max_delete_percent: float = Field(default=_SAFETY.max_delete_percent, ge=0, le=100,
                                      alias="maxDeletePercent")
    max_update_percent: float = Field(default=_SAFETY.max_update_percent, ge=0, le=100,
                                      alias="maxUpdatePercent")
    min_existing: int = Field(default=_SAFETY.min_existing, ge=0, alias="minExisting")

    @property
    def thresholds(self) -> SafetyThresholds:
        """The planner's thresholds (plain numbers)."""
        return SafetyThresholds(self.max_delete_percent, self.max_update_percent, self.min_existing)


class _DeviceBase(_Strict):
    name: str
    url: str
    verify_tls: bool = Field(default=True, alias="verifyTls")
    ca_bundle: str | None = Field(default=None, alias="caBundle")
    timeout: Duration = 30.0

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r}: use lower-case letters, digits, '-' and '_' (at most 63)")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> float:
        return parse_duration(value)


class BasicAuth(_Strict):
    username: str
    password_env: str = Field(alias="passwordEnv")

    _check_env = field_validator("password_env")(_env_name)


class TokenAuth(_Strict):
    token_env: str = Field(alias="tokenEnv")

    _check_env = field_validator("token_env")(_env_name)


class RestAuth(_Strict):
    token_env: str | None = Field(default=None, alias="tokenEnv")
    hmac_secret_env: str | None = Field(default=None, alias="hmacSecretEnv")

    _check_env = field_validator("token_env", "hmac_secret_env")(_env_name)


class VirtualServerAttach(_Strict):
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


class Attach(_Strict):
    virtual_server: VirtualServerAttach | None = Field(default=None, alias="virtualServer")
    route_domain: str | None = Field(default=None, alias="routeDomain")

    @model_validator(mode="after")
    def _exactly_one(self) -> Attach:
        if (self.virtual_server is None) == (self.route_domain is None):
            raise ValueError("set exactly one of virtualServer and routeDomain")
        return self


class FortiOSCapacity(_Strict):
    """Per-VDOM table sizes of the FortiGate (defaults: a mid-range model); the planner never
    exceeds them, and groups are split to hold at most `groupMembers` members each."""

    addresses: int = Field(default=20000, ge=1)
    address_groups: int = Field(default=2500, ge=1, alias="addressGroups")
    group_members: int = Field(default=600, ge=2, alias="groupMembers")
    services: int = Field(default=4096, ge=1)
    policies: int = Field(default=10000, ge=1)


class AS3Capacity(_Strict):
    """Limits of the BIG-IP tenant the planner never exceeds (None: no limit)."""

    address_lists: int | None = Field(default=None, ge=1, alias="addressLists")
    rules: int | None = Field(default=None, ge=1)
    declaration_bytes: int | None = Field(default=None, ge=1, alias="declarationBytes")


class RestCapacity(_Strict):
    """Limits of the REST receiver (None: what its `GET /` capabilities say, else no limit)."""

    groups: int | None = Field(default=None, ge=1)
    rules: int | None = Field(default=None, ge=1)


class F5Device(_DeviceBase):
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


class Placement(_Strict):
    before: int | None = Field(default=None, ge=0)
    top: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Placement:
        if (self.before is None) == (not self.top):
            raise ValueError("set exactly one of before: POLICY_ID and top: true")
        return self


class FortiOSDevice(_DeviceBase):
    type: Literal["fortios"]
    auth: TokenAuth
    vdom: str = "root"
    srcintf: list[str] = Field(default_factory=lambda: ["any"], min_length=1)
    dstintf: list[str] = Field(default_factory=lambda: ["any"], min_length=1)
    placement: Placement = Field(default_factory=lambda: Placement(top=True))
    capacity: FortiOSCapacity = Field(default_factory=FortiOSCapacity)


class RestDevice(_DeviceBase):
    type: Literal["rest"]
    auth: RestAuth = Field(default_factory=RestAuth)
    capacity: RestCapacity = Field(default_factory=RestCapacity)


DeviceConfig = Annotated[F5Device | FortiOSDevice | RestDevice, Field(discriminator="type")]


class Config(_Strict):
    cluster: str
    database: str = "sqlite:///fusion-connector.db"
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    namespaces: NamespacesConfig = Field(default_factory=NamespacesConfig)
    defaults: DefaultsConfig = Field(default_factory=DefaultsConfig)
    reconcile: ReconcileConfig = Field(default_factory=ReconcileConfig)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    devices: list[DeviceConfig] = Field(default_factory=list)

    @field_validator("cluster")
    @classmethod
    def _cluster(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r}: use lower-case letters, digits, '-' and '_' (at most 63)")
        return value

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError(f"{value!r}: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        if re.match(r"^[^:]+://[^/@]*:[^/@]*@", value):
            raise ValueError("a password cannot be written in the file: give USER@HOST and set"
                             " PGPASSWORD in the environment")
        return value

    @model_validator(mode="after")
    def _unique_devices(self) -> Config:
        seen: set[str] = set()
        for device in self.devices:
            if device.name in seen:
                raise ValueError(f"device name {device.name!r} is used twice")
            seen.add(device.name)
        return self

    def device(self, name: str) -> DeviceConfig:
        for device in self.devices:
            if device.name == name:
                return device
        raise KeyError(name)

    def tenant_for(self, device: F5Device) -> str:
        """The AS3 tenant of `device`: its `tenant`, else `fc_<cluster>` sanitized."""
        return device.tenant or "fc_" + re.sub(r"[^0-9A-Za-z_]", "_", self.cluster)


def _format_location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("f5-as3", "fortios", "rest"):
            continue  # the discriminator tag pydantic adds for tagged unions
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


def format_validation_error(error: ValidationError) -> list[str]:
    """`path: message` lines with the paths spelled as in the YAML file."""
    problems = []
    for item in error.errors():
        path = _format_location(tuple(item["loc"]))
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required key is missing"
        problems.append(f"{path}: {message}")
    return problems


def load_config_text(text: str, source: str = "<config>") -> Config:
    """Parse and validate configuration YAML; raises ConfigError."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(source, [f"not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise ConfigError(source, ["(top level): a mapping is required"])
    try:
        # by_name=False: the file's keys are the documented camelCase aliases only
        return Config.model_validate(data, by_name=False)
    except ValidationError as exc:
        raise ConfigError(source, format_validation_error(exc)) from exc


def load_config(path: str | Path) -> Config:
    """Read and validate the configuration file at `path`; raises ConfigError."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read: {exc.strerror or exc}"]) from exc
    return load_config_text(text, str(path))


class SecretError(ValueError):
    """A secret named by the configuration is not in the environment."""


class Secrets:
    """Reads secrets from environment variables named by the configuration; never logs values."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self._environ = environ if environ is not None else dict(os.environ)

    def get(self, env_name: str, purpose: str) -> SecretStr:
        value = self._environ.get(env_name)
        if not value:
            raise SecretError(f"{purpose}: environment variable {env_name} is not set")
        return SecretStr(value)

    def optional(self, env_name: str | None, purpose: str) -> SecretStr | None:
        return self.get(env_name, purpose) if env_name else None

    def missing(self, variables: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The (variable, purpose) pairs of `variables` whose variable is unset or empty."""
        return [(name, purpose) for name, purpose in variables if not self._environ.get(name)]


def secret_variables(config: Config, devices: Iterable[DeviceConfig] | None = None) -> list[tuple[str, str]]:
    """(environment variable, the configuration key naming it) for every secret the configuration
    needs: `kubernetes.tokenEnv` and the `auth` variables of `devices` (default: all)."""
    wanted: list[tuple[str, str]] = []
    if config.kubernetes.token_env:
        wanted.append((config.kubernetes.token_env, "kubernetes.tokenEnv"))
    chosen = {d.name for d in (config.devices if devices is None else devices)}
    for index, device in enumerate(config.devices):
        if device.name not in chosen:
            continue
        for field, alias in (("password_env", "passwordEnv"), ("token_env", "tokenEnv"),
                             ("hmac_secret_env", "hmacSecretEnv")):
            name = getattr(device.auth, field, None)
            if name:
                wanted.append((name, f"devices[{index}] ({device.name}) auth.{alias}"))
    return wanted
